"""The city the Kowloon East simulator draws from: areas that share common factors.

Every area's daily peak-hour speed and car-park occupancy follow a linear factor model,
``level[a, d] = v_a . x_d``: ``x_d`` holds what moves the whole city (a seasonal level, the
weekday profile, public holidays, severe-weather days when traffic crawls and car parks empty,
lesser rain and typhoon warnings, and three short-memory city-wide factors such as events and
weather), and ``v_a`` how strongly area ``a`` responds to each. Areas are mixtures of five
archetypes (business district, shopping street, new town...): ``v_a`` is a Dirichlet-weighted
average of the archetypes' vectors, Kowloon East drawn like any other area. Each area therefore
lies inside the convex hull of the others, as a synthetic control needs, and is exchangeable
with them, so that in-space placebos are a fair yardstick. The city-wide factors mean-revert
within days: a persistent factor with area-specific loadings could mimic a step at the start
and make the effect unidentifiable. Areas add their own day-to-day noise (AR(1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from pilots.calendar import WeatherWarning, hong_kong_public_holidays, severe_weather_days
from pilots.kowloon_east import design

ARCHETYPES = 5
MIXING = 2.0  # Dirichlet concentration of an area's archetype weights
CITY_FACTORS = 3
FACTOR_MEMORY = 0.6  # AR(1) coefficient of the city-wide factors (daily)
FACTOR_SD = 0.03
AREA_MEMORY = 0.5
AREA_SD = 0.02
# Peak-hour speeds relative to Monday-Thursday: Friday is slowest, Sunday fastest.
WEEKDAY_SPEED = np.array([0.0, 0.0, 0.0, 0.0, -0.05, 0.08, 0.15])
# Weekend car-park occupancy (Friday a little): archetypes scale it, offices with a minus.
WEEKEND_OCCUPANCY = np.array([0.0, 0.0, 0.0, 0.0, 0.2, 1.0, 1.0])
LESSER_WARNINGS = frozenset({"TC3", "WRAINR"})


@dataclass(frozen=True)
class City:
    """Daily systematic levels per area (rows in ``design.AREAS`` order, columns days)."""

    days: list[date]
    severe: dict[date, str]
    speed: np.ndarray  # km/h, peak hours, before area noise
    occupancy_noon: np.ndarray  # share of capacity taken at 12:00
    occupancy_evening: np.ndarray  # and at 19:00
    speed_noise: np.ndarray  # multiplicative area-day noise
    occupancy_noise: np.ndarray  # additive area-day noise


def draw_city(rng: np.random.Generator, warnings: list[WeatherWarning]) -> City:
    """Draw the archetypes, the areas' mixtures, the city-wide factors and the area noise."""
    days = [design.START + timedelta(days=d) for d in range(_day_count())]
    holidays = hong_kong_public_holidays(design.START, design.END)
    severe = severe_weather_days(warnings)
    lesser = {day for w in warnings if w.code in LESSER_WARNINGS for day in w.days()}
    weekday = np.array([day.weekday() for day in days])
    calendar = np.array(
        [
            [day in holidays for day in days],
            [day in severe for day in days],
            [day in lesser and day not in severe for day in days],
        ],
        dtype=float,
    )
    factors = _ar1(rng, (CITY_FACTORS, len(days)), FACTOR_MEMORY, FACTOR_SD)
    season = _season(days)
    mix = rng.dirichlet(np.full(ARCHETYPES, MIXING), len(design.AREAS))

    base = rng.uniform(22, 52, ARCHETYPES)
    speed_archetypes = base[:, None] * np.column_stack(
        [
            np.ones(ARCHETYPES),
            rng.uniform(0.4, 1.6, ARCHETYPES),  # weekday profile
            rng.uniform(0.04, 0.18, ARCHETYPES),  # holidays: lighter traffic
            -rng.uniform(0.25, 0.45, ARCHETYPES),  # severe weather: traffic crawls
            -rng.uniform(0.03, 0.1, ARCHETYPES),  # lesser warnings
            rng.normal(0, 1, (ARCHETYPES, CITY_FACTORS)),
        ]
    )
    speed_days = np.vstack([1 + season, WEEKDAY_SPEED[weekday], calendar, factors])
    speed = mix @ speed_archetypes @ speed_days

    occupancy_archetypes = np.column_stack(
        [
            rng.uniform(0.84, 1.0, ARCHETYPES),  # noon
            rng.uniform(0.8, 0.98, ARCHETYPES),  # evening
            rng.uniform(-0.35, 0.12, ARCHETYPES),  # weekends (offices empty, malls full)
            rng.uniform(-0.12, 0.08, ARCHETYPES),  # holidays
            -rng.uniform(0.35, 0.55, ARCHETYPES),  # severe weather: people stay home
            -rng.uniform(0.03, 0.08, ARCHETYPES),  # lesser warnings
            0.5 * rng.normal(0, 1, (ARCHETYPES, CITY_FACTORS)),
        ]
    )
    areas = mix @ occupancy_archetypes
    shared = areas[:, 2:] @ np.vstack([WEEKEND_OCCUPANCY[weekday], calendar, factors])
    shared += areas[:, :1] * 0.5 * season[None, :]
    n = len(design.AREAS)
    return City(
        days=days,
        severe=severe,
        speed=speed,
        occupancy_noon=areas[:, [0]] + shared,
        occupancy_evening=areas[:, [1]] + shared,
        speed_noise=_ar1(rng, (n, len(days)), AREA_MEMORY, AREA_SD),
        occupancy_noise=_ar1(rng, (n, len(days)), AREA_MEMORY, AREA_SD),
    )


def _day_count() -> int:
    return (design.END - design.START).days + 1


def _ar1(rng: np.random.Generator, shape: tuple[int, int], memory: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along the last axis with marginal standard deviation ``sd``."""
    shocks = rng.normal(0, sd * np.sqrt(1 - memory**2), shape)
    series = np.empty(shape)
    series[:, 0] = rng.normal(0, sd, shape[0])
    for t in range(1, shape[1]):
        series[:, t] = memory * series[:, t - 1] + shocks[:, t]
    return series


def _season(days: list[date]) -> np.ndarray:
    """City-wide level: school summer holidays (mid-July to August) and Christmas run lighter."""
    light = np.array(
        [
            (day.month == 8)
            or (day.month == 7 and day.day >= 15)
            or (day.month == 12 and day.day >= 22)
            for day in days
        ],
        dtype=float,
    )
    kernel = np.ones(7) / 7
    return 0.04 * np.convolve(light, kernel, mode="same")
