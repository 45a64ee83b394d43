"""Hong Kong's event calendar, shared by simulators and analyses: holidays and severe weather.

Public holidays come from the ``holidays`` package. Severe-weather days come from the Hong Kong
Observatory's warning signals, read from ``weather_warnings.csv`` in a pilot's data directory:

    code,issued,cancelled
    TC8NE,2026-07-18 21:40,2026-07-19 13:20

``code`` is the Observatory's warning code (the ``warnsum`` API's: ``TC1``, ``TC3``, ``TC8NE``,
``TC8SE``, ``TC8SW``, ``TC8NW``, ``TC9``, ``TC10``, ``WRAINA``, ``WRAINR``, ``WRAINB``...);
``issued`` and ``cancelled`` are Hong Kong time, ``YYYY-MM-DD HH:MM``. A day is a severe-weather
day when tropical cyclone signal 8 or above, or the black rainstorm warning, was in force at any
moment of it: offices and schools close, buses thin out and street works stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import numpy as np
import polars as pl

from pilots.csv_reading import read_csv_strings, split_valid
from pilots.fields import missing_problem

WEATHER_WARNINGS = "weather_warnings.csv"
WARNING_COLUMNS = ("code", "issued", "cancelled")
TIME_FORMAT = "%Y-%m-%d %H:%M"
SEVERE_CODES = frozenset({"TC8NE", "TC8SE", "TC8SW", "TC8NW", "TC9", "TC10", "WRAINB"})
KNOWN_CODES = SEVERE_CODES | {"TC1", "TC3", "WRAINA", "WRAINR"}
SEVERE_NAMES = {"WRAINB": "black rainstorm warning"} | {
    code: f"tropical cyclone signal {code[2:].rstrip('NESW')}"
    for code in SEVERE_CODES
    if code.startswith("TC")
}
CALENDAR_SCHEMA = pl.Schema(
    {
        "date": pl.Date,
        "public_holiday": pl.Boolean,
        "severe_weather": pl.Boolean,
        "event": pl.String,
    }
)


def hong_kong_public_holidays(start: date, end: date) -> dict[date, str]:
    """Hong Kong general holidays between ``start`` and ``end`` inclusive, with their names.

    General holidays (when offices and schools close, Good Friday included) shape how the city
    moves and what it throws away; ``holidays`` files them under its ``optional`` category, apart
    from the narrower statutory list.
    """
    calendar = holidays.country_holidays(
        "HK", years=range(start.year, end.year + 1), categories=("optional",)
    )
    return {day: name for day, name in sorted(calendar.items()) if start <= day <= end}


@dataclass(frozen=True)
class WeatherWarning:
    """One warning signal in force from ``issued`` to ``cancelled`` (Hong Kong time, naive)."""

    code: str
    issued: datetime
    cancelled: datetime

    @property
    def severe(self) -> bool:
        return self.code in SEVERE_CODES

    def days(self) -> list[date]:
        """Every calendar day on which the warning was in force at some moment."""
        last = (self.cancelled - timedelta(microseconds=1)).date()
        count = max((last - self.issued.date()).days, 0) + 1
        return [self.issued.date() + timedelta(days=i) for i in range(count)]


def read_weather_warnings(path: Path) -> tuple[list[WeatherWarning], pl.DataFrame]:
    """Warnings from ``path``, and a quarantine of the lines that cannot be read."""
    raw = read_csv_strings(path, WARNING_COLUMNS)
    issued = pl.col("issued").str.strip_chars().str.to_datetime(TIME_FORMAT, strict=False)
    cancelled = pl.col("cancelled").str.strip_chars().str.to_datetime(TIME_FORMAT, strict=False)
    accepted, rejected = split_valid(
        raw.rows,
        [
            missing_problem("code"),
            pl.when(~pl.col("code").str.strip_chars().is_in(sorted(KNOWN_CODES))).then(
                pl.lit("code is not a Hong Kong Observatory warning code (e.g. TC8NE, WRAINB)")
            ),
            pl.when(issued.is_null()).then(pl.lit("issued is not a time like 2026-07-18 21:40")),
            pl.when(cancelled.is_null()).then(
                pl.lit("cancelled is not a time like 2026-07-19 13:20")
            ),
            pl.when(cancelled <= issued).then(pl.lit("cancelled is not after issued")),
        ],
        raw.file,
    )
    rows = accepted.select(pl.col("code").str.strip_chars(), issued, cancelled).rows()
    warnings = [WeatherWarning(code, start, end) for code, start, end in rows]
    return warnings, pl.concat([raw.quarantine, rejected])


def severe_weather_days(warnings: list[WeatherWarning]) -> dict[date, str]:
    """Days with signal 8 or above or a black rainstorm in force, naming the worst warning."""
    days: dict[date, str] = {}
    for warning in sorted(warnings, key=lambda w: _severity(w.code)):
        if warning.severe:
            for day in warning.days():
                days[day] = SEVERE_NAMES[warning.code]
    return dict(sorted(days.items()))


def event_calendar(start: date, end: date, warnings: list[WeatherWarning]) -> pl.DataFrame:
    """One row per day from ``start`` to ``end``: holiday and severe-weather flags, and why."""
    holidays_by_day = hong_kong_public_holidays(start, end)
    severe = severe_weather_days(warnings)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    events = [
        "; ".join(name for name in (holidays_by_day.get(day), severe.get(day)) if name) or None
        for day in days
    ]
    return pl.DataFrame(
        {
            "date": days,
            "public_holiday": [day in holidays_by_day for day in days],
            "severe_weather": [day in severe for day in days],
            "event": events,
        },
        schema=CALENDAR_SCHEMA,
    )


def simulate_weather_warnings(
    rng: np.random.Generator, start: date, end: date
) -> list[WeatherWarning]:
    """A plausible season of warnings: typhoons June to October, rainstorms April to September.

    Hong Kong sees signal 8 or above on one or two days a year and a black rainstorm about every
    other year; the rates here are a little higher so that a half-year trial usually meets one.
    Each tropical cyclone raises signal 1, then 3, then (sometimes) 8 or higher; each rainstorm
    amber, then red, then (sometimes) black.
    """
    warnings: list[WeatherWarning] = []
    day = start
    while day <= end:
        if 6 <= day.month <= 10 and rng.random() < 0.025:
            warnings.extend(_cyclone(rng, day))
            day += timedelta(days=4)
            continue
        if 4 <= day.month <= 9 and rng.random() < 0.02:
            warnings.extend(_rainstorm(rng, day))
        day += timedelta(days=1)
    return [w for w in warnings if w.issued.date() <= end]


def write_weather_warnings(path: Path, warnings: list[WeatherWarning]) -> None:
    lines = ["code,issued,cancelled"] + [
        f"{w.code},{w.issued:{TIME_FORMAT}},{w.cancelled:{TIME_FORMAT}}" for w in warnings
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cyclone(rng: np.random.Generator, day: date) -> list[WeatherWarning]:
    time = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(1440)))
    peak = rng.choice(["TC3", "TC8NE", "TC8SE", "TC9", "TC10"], p=[0.45, 0.25, 0.2, 0.05, 0.05])
    ladder = ["TC1", "TC3"] + ([str(peak)] if peak != "TC3" else [])
    warnings = []
    for code in ladder:  # whole minutes, as the warnings file records them
        end = time + timedelta(minutes=int(rng.integers(6 * 60, 20 * 60 + 1)))
        warnings.append(WeatherWarning(code, time, end))
        time = end
    return warnings


def _rainstorm(rng: np.random.Generator, day: date) -> list[WeatherWarning]:
    time = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(1440)))
    ladder = ["WRAINA"] + (["WRAINR"] if rng.random() < 0.4 else [])
    if len(ladder) == 2 and rng.random() < 0.35:
        ladder.append("WRAINB")
    warnings = []
    for code in ladder:
        end = time + timedelta(minutes=int(rng.integers(60, 4 * 60 + 1)))
        warnings.append(WeatherWarning(code, time, end))
        time = end
    return warnings


def _severity(code: str) -> int:
    order = ["WRAINB", "TC8NE", "TC8SE", "TC8SW", "TC8NW", "TC9", "TC10"]
    return order.index(code) if code in order else -1
