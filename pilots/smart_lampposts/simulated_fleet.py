"""The simulated study area: lampposts, their phases and devices, and the days they live through.

Shared by the lighting and sensor simulators. Days are counted from ``design.START``; night
``d`` is the night that begins on the evening of day ``d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from pilots.calendar import (
    SEVERE_CODES,
    WeatherWarning,
    hong_kong_public_holidays,
    severe_weather_days,
    simulate_weather_warnings,
)
from pilots.smart_lampposts import design

LATITUDE = np.radians(22.3)
# Share of days with rain (HKO 1991-2020 normals: rain days per month / days in month).
RAIN_DAY_SHARE = np.array([0.17, 0.32, 0.35, 0.40, 0.48, 0.60, 0.55, 0.55, 0.47, 0.2, 0.15, 0.17])
# Conventional high-pressure sodium lanterns, system watts with the ballast: 150 W and 250 W.
LANTERN_KW = (0.172, 0.28)


@dataclass(frozen=True)
class Fleet:
    """The lampposts, one entry per lamppost, and when each is converted (day index)."""

    ids: list[str]
    areas: list[str]
    districts: list[str]
    streets: list[str]
    phases: list[str]
    lat: np.ndarray
    lon: np.ndarray
    meters: list[str]
    weather_device: list[str | None]
    detector: list[str | None]
    kw: np.ndarray  # conventional lantern power, kW
    conversion_day: np.ndarray  # day index of conversion; the number of days if never

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Days:
    """The study's days and what happened on them."""

    dates: list[date]
    holiday: np.ndarray
    sunday: np.ndarray
    severe: np.ndarray  # tropical cyclone signal 8 or above, or black rain, in force
    black_rain: np.ndarray
    typhoon: np.ndarray
    rain: np.ndarray
    night_hours: np.ndarray  # sunset to sunrise
    warnings: list[WeatherWarning]

    @property
    def count(self) -> int:
        return len(self.dates)

    @property
    def working(self) -> np.ndarray:
        """Days on which repair crews work normally."""
        return ~(self.holiday | self.sunday | self.severe)


def simulate_fleet(rng: np.random.Generator, days: int) -> Fleet:
    """100 lampposts per area, a quarter per phase in random order, devices spread over phases."""
    ids, areas, districts, streets, phases, lat, lon = [], [], [], [], [], [], []
    per_area = design.LAMPPOSTS_PER_PHASE_AND_AREA * len(design.PHASES)
    per_street = per_area // 4
    for area in design.AREAS:
        order = rng.permutation(np.repeat(design.PHASES, design.LAMPPOSTS_PER_PHASE_AND_AREA))
        bearing = rng.uniform(0, np.pi, len(area.streets))
        for position in range(per_area):
            street, step = divmod(position, per_street)
            ids.append(f"{area.prefix}{(street + 1) * 1000 + 11 + 2 * step:04d}")
            areas.append(area.name)
            districts.append(area.district)
            streets.append(area.streets[street])
            phases.append(str(order[position]))
            offset = 0.0004 * (step - per_street / 2)
            lat.append(area.centre[0] + 0.002 * (street - 1.5) + offset * np.sin(bearing[street]))
            lon.append(area.centre[1] + offset * np.cos(bearing[street]))
    weather, detector = _devices(rng, ids, areas, phases)
    starts = {phase: (start - design.START).days for phase, start in design.PHASE_STARTS.items()}
    return Fleet(
        ids=ids,
        areas=areas,
        districts=districts,
        streets=streets,
        phases=phases,
        lat=np.round(np.array(lat), 6),
        lon=np.round(np.array(lon), 6),
        meters=[f"LM{400001 + i}" for i in range(len(ids))],
        weather_device=weather,
        detector=detector,
        kw=rng.choice(LANTERN_KW, len(ids), p=[0.3, 0.7]) * rng.normal(1, 0.03, len(ids)),
        conversion_day=np.array([starts.get(phase, days) for phase in phases]),
    )


def _devices(
    rng: np.random.Generator, ids: list[str], areas: list[str], phases: list[str]
) -> tuple[list[str | None], list[str | None]]:
    """Weather stations and detectors on lampposts of every phase in turn, within each area."""
    weather: list[str | None] = [None] * len(ids)
    detector: list[str | None] = [None] * len(ids)
    turn = 0
    for area in design.AREAS:
        kinds = ["weather"] * area.weather_devices + ["detector"] * len(area.detectors)
        for index, kind in enumerate(kinds):
            phase = design.PHASES[turn % len(design.PHASES)]
            turn += 1
            free = [
                i
                for i in range(len(ids))
                if areas[i] == area.name and phases[i] == phase and not (weather[i] or detector[i])
            ]
            chosen = int(rng.choice(free))
            if kind == "weather":
                weather[chosen] = "01"
            else:
                detector[chosen] = area.detectors[index - area.weather_devices]
    return weather, detector


def simulate_days(rng: np.random.Generator) -> Days:
    count = (design.END - design.START).days + 1
    dates = [design.START + timedelta(days=d) for d in range(count)]
    warnings = simulate_weather_warnings(rng, design.START, design.END)
    holidays = hong_kong_public_holidays(design.START, design.END)
    severe = severe_weather_days(warnings)
    black = {day for w in warnings if w.code == "WRAINB" for day in w.days()}
    typhoon = {day for w in warnings if w.code in SEVERE_CODES - {"WRAINB"} for day in w.days()}
    rainstorm = {day for w in warnings if w.code.startswith("WRAIN") for day in w.days()}
    months = np.array([day.month - 1 for day in dates])
    return Days(
        dates=dates,
        holiday=np.array([day in holidays for day in dates]),
        sunday=np.array([day.weekday() == 6 for day in dates]),
        severe=np.array([day in severe for day in dates]),
        black_rain=np.array([day in black for day in dates]),
        typhoon=np.array([day in typhoon for day in dates]),
        rain=(rng.random(count) < RAIN_DAY_SHARE[months])
        | np.array([day in rainstorm for day in dates]),
        night_hours=_night_hours(dates),
        warnings=warnings,
    )


def _night_hours(dates: list[date]) -> np.ndarray:
    """Sunset to sunrise in Hong Kong, from the sunrise equation (refraction included)."""
    day_of_year = np.array([day.timetuple().tm_yday for day in dates])
    declination = np.radians(23.44) * np.sin(2 * np.pi * (284 + day_of_year) / 365)
    cos_hour = (np.sin(np.radians(-0.833)) - np.sin(LATITUDE) * np.sin(declination)) / (
        np.cos(LATITUDE) * np.cos(declination)
    )
    return 24 - 2 * np.degrees(np.arccos(cos_hour)) / 15
