"""Simulated HKO weather stations on lampposts, archived as the real API's JSON responses.

Each station's hourly poll returns the latest 10-minute record, or ``No record found`` while the
station is down (now and then the API repeats the last record instead). Stations go down for
hours to days at random, for the rest of the day in a typhoon or black rainstorm (power and
communications cuts) and, on converted lampposts, for a day or two from 09:00 on the conversion
date while the lantern and controller are replaced. A few readings fail QC (``////``), a few
records are malformed, and one day file is cut short. Only the hourly polls are archived
(24 records per station-day, not 144) to keep the data small.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl

from pilots.smart_lampposts import design
from pilots.smart_lampposts.simulated_fleet import Days, Fleet
from pilots.smart_lampposts.weather_json import ARCHIVE, NO_RECORD, POLLS_PER_DAY, QC_FAILED

# Hong Kong monthly mean temperature, °C (HKO 1991-2020 normals), January to December.
MONTHLY_TEMPERATURE = np.array(
    [16.3, 17.0, 19.3, 22.7, 26.1, 28.0, 28.8, 28.6, 27.8, 25.6, 22.1, 17.9]
)
OUTAGE_START = 1 / 90  # per station-day
STALE_REPEAT = 0.05  # share of polls of a down station that repeat its last record
QC_FAILURE = 0.005  # per reading
MISSED_POLL = 0.015
WORKS_DAYS = (1.0, 2.5)  # conversion works keep devices off this long (per unit of strength)


def simulate_weather(
    out_dir: Path, rng: np.random.Generator, fleet: Fleet, days: Days, strength: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the day files; return the stations' lamppost indices and their daily availability
    ``[day, station]`` without and with the conversion (the observed one is the latter)."""
    stations = np.array([i for i, device in enumerate(fleet.weather_device) if device])
    up_never, up_converted = device_uptime(
        rng, fleet.conversion_day[stations], days, POLLS_PER_DAY, strength
    )
    answered = rng.random(up_never.shape) > MISSED_POLL
    up_never, up_converted = up_never & answered, up_converted & answered
    texts = _responses(rng, fleet, days, stations, up_converted)
    _damage(rng, texts)
    folder = out_dir / ARCHIVE
    folder.mkdir(parents=True, exist_ok=True)
    per_day = len(stations) * POLLS_PER_DAY
    cut = int(rng.integers(days.count))
    for d, day in enumerate(days.dates):
        text = "[\n" + ",\n".join(texts[d * per_day : (d + 1) * per_day]) + "\n]\n"
        if d == cut:  # the archiver was killed mid-write
            text = text[: int(len(text) * 0.6)]
        (folder / f"smart_lamppost_weather_{day:%Y%m%d}.json").write_text(text, encoding="utf-8")

    def daily(up: np.ndarray) -> np.ndarray:
        return up.reshape(days.count, POLLS_PER_DAY, -1).mean(axis=1)

    return stations, daily(up_never), daily(up_converted)


def device_uptime(
    rng: np.random.Generator,
    conversion_day: np.ndarray,
    days: Days,
    slots_per_day: int,
    strength: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each device is up in each slot ``[slot, device]``: never converted, converted.

    Random outages of hours to days, the rest of a severe-weather day from a random hour, and
    conversion works from 09:00 on the conversion day for one to two and a half days (times
    ``strength``; none when it is 0 or less).
    """
    n = conversion_day.size
    slots = days.count * slots_per_day
    down = np.zeros((slots, n), dtype=bool)  # spells past the end are cut off by the slicing
    for day, device in np.argwhere(rng.random((days.count, n)) < OUTAGE_START):
        start = day * slots_per_day + int(rng.integers(slots_per_day))
        down[start : start + int(rng.uniform(0.25, 3) * slots_per_day), device] = True
    for day in np.flatnonzero(days.severe):
        for device in np.flatnonzero(rng.random(n) < 0.5):
            down[
                day * slots_per_day + int(rng.integers(slots_per_day)) : (day + 1) * slots_per_day,
                device,
            ] = True
    works = np.zeros_like(down)
    length = rng.uniform(*WORKS_DAYS, n) * max(strength, 0.0)
    for device in np.flatnonzero(conversion_day < days.count):
        start = conversion_day[device] * slots_per_day + int(slots_per_day * 9 / 24)
        works[start : start + int(length[device] * slots_per_day), device] = True
    return ~down, ~(down | works)


def _responses(
    rng: np.random.Generator, fleet: Fleet, days: Days, stations: np.ndarray, up: np.ndarray
) -> list[str]:
    """The API's answer to every poll, ordered by hour and station."""
    polls, n = up.shape
    day = np.arange(polls) // POLLS_PER_DAY
    hour = np.arange(polls) % POLLS_PER_DAY
    months = np.array([date.month - 1 for date in days.dates])[day]
    diurnal = np.sin(2 * np.pi * (hour - 9) / 24)[:, None]
    temperature = (
        MONTHLY_TEMPERATURE[months][:, None]
        + 2.5 * diurnal
        - 2.0 * days.severe[day][:, None]
        + rng.normal(0, 0.4, n)[None, :]
        + rng.normal(0, 0.6, (polls, n))
    )
    humidity = np.clip(
        78 - 10 * diurnal + 12 * days.rain[day][:, None] + rng.normal(0, 4, (polls, n)), 30, 100
    )
    wind = rng.gamma(2.0, 5.0, (polls, n)) * (1 + 4 * days.typhoon[day])[:, None]
    direction = (90 + rng.normal(0, 50, (polls, n))) % 360
    start = np.datetime64(design.START, "h")
    stamps = np.datetime_as_string(start + np.arange(polls), unit="h")
    hours = np.char.replace(np.char.replace(stamps, "-", ""), "T", "")
    readings = {
        "T0": np.round(temperature, 1),
        "RH": np.round(humidity, 1),
        "WS": np.round(wind),
        "WD": np.round(direction),
    }
    frame = pl.DataFrame(
        {
            "PI": np.tile(np.array(fleet.ids)[stations], polls),
            "up": up.ravel(),
            "TS": np.repeat(np.char.add(hours, "0000"), n),
            "TP": np.repeat(np.char.add(hours, "0052"), n),
            "DH": np.tile(np.where(stations % 2, "12", "9"), polls),
            **{key: values.ravel() for key, values in readings.items()},
            **{f"{key}_failed": rng.random(polls * n) < QC_FAILURE for key in readings},
            "stale": rng.random(polls * n) < STALE_REPEAT,
        }
    )
    text = {
        key: pl.when(f"{key}_failed")
        .then(pl.lit(QC_FAILED))
        .otherwise(
            pl.col(key).cast(pl.Int64 if key in ("WS", "WD") else pl.Float64).cast(pl.String)
        )
        for key in readings
    }
    record = pl.concat_str(
        pl.lit('{"PI":"'),
        "PI",
        pl.lit('","DI":"01","BD":"00","GI":"00","TS":"0","BODY":{"HKO":{'),
        *(piece for key in readings for piece in (pl.lit(f'"{key}":"'), text[key], pl.lit('",'))),
        pl.lit('"DH":"'),
        "DH",
        pl.lit('","TS":"'),
        "TS",
        pl.lit('","TP":"'),
        "TP",
        pl.lit('","VN":"1.0"}}}'),
    )
    last = pl.when("up").then(record).forward_fill().over("PI")
    answer = (
        pl.when("up")
        .then(record)
        .when(pl.col("stale") & last.is_not_null())
        .then(last)
        .otherwise(pl.lit(json.dumps({"message": NO_RECORD})))
    )
    return frame.select(answer.alias("text"))["text"].to_list()


def _damage(rng: np.random.Generator, texts: list[str]) -> None:
    """Break a few records the ways a field device or the API does."""
    damages = [
        lambda t: re.sub(r'"T0":"[^"]*"', '"T0":"N/A"', t),
        lambda t: re.sub(r'"TS":"(\d{10})\d{4}"', r'"TS":"\1"', t, count=1),
        lambda t: re.sub(r'"PI":"[A-Z]+\d+"', '"PI":"ZZ9999"', t),
        lambda t: '"gateway timeout"',
        lambda t: t[: t.index(',"BODY"')] + "}",
        lambda t: re.sub(r'"RH":"[^"]*"', '"RH":"180.0"', t),
    ]
    records = [i for i, text in enumerate(texts) if text.startswith('{"PI"')]
    for damage, index in zip(
        damages, rng.choice(records, len(damages), replace=False), strict=True
    ):
        texts[index] = damage(texts[index])
