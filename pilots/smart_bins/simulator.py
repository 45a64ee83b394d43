"""Simulate the smart-bins trial: fill sensors, a bin inventory and the trucks' collection log.

Waste arrives in two-hour slots with a daily rhythm, busier weekends and Hong Kong public
holidays; no truck runs on severe-weather days (signal 8 or a black rainstorm). Control routes
keep their fixed schedule; treated routes switch to sensor-driven collection at the rollout
date: the truck comes every day and empties only the bins whose sensor
reads at or above a trigger level, falling back to the schedule while a sensor is offline. The
trigger is calibrated so that treated routes' collections change by the requested relative
``effect``. The truth is measured on potential outcomes: the same waste, outages and truck
breakdowns are replayed under the fixed schedule, and ``truth.json`` reports the average effect
on treated bin-weeks after rollout for every metric.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livinglab.errors import InputError
from pilots.calendar import (
    WEATHER_WARNINGS,
    hong_kong_public_holidays,
    severe_weather_days,
    simulate_weather_warnings,
    write_weather_warnings,
)
from pilots.smart_bins import design

SLOT_HOURS = 2
SLOTS_PER_DAY = 24 // SLOT_HOURS
BIN_DEPTH_MM = 1000
# Share of a day's waste arriving in each two-hour slot (00:00, 02:00, ... Hong Kong time).
DAILY_RHYTHM = np.array([0.5, 0.3, 0.3, 0.6, 1.0, 1.3, 1.5, 1.4, 1.4, 1.4, 1.3, 1.0])
DAILY_RHYTHM = DAILY_RHYTHM / DAILY_RHYTHM.sum()
WEEKEND_FACTOR = 1.25
HOLIDAY_FACTOR = 1.3
MISSED_VISIT_PROBABILITY = 0.01
OUTAGE_START_PROBABILITY = 1 / 45
MALFORMED_READINGS = 60
WEATHER_STREAM = 1
OVERFLOW_HEADROOM = 1.0  # days of average waste the sensor-driven rule keeps room for


@dataclass(frozen=True)
class Fleet:
    """Bins and their static attributes, one entry per bin."""

    bins: list[str]
    devices: list[str]
    routes: list[str]
    districts: list[str]
    lat: np.ndarray
    lon: np.ndarray
    capacity_l: np.ndarray
    fill_rate: np.ndarray  # expected % of capacity per day
    visit_slot: np.ndarray  # slot of the day in which the route's truck passes


@dataclass(frozen=True)
class Run:
    """One policy replayed over the whole period."""

    fill: np.ndarray  # true fill % at each reading slot, before any collection in that slot
    collected: np.ndarray  # bool [slot, bin]


def simulate_smart_bins(out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]:
    """Write ``readings.csv``, ``bins.csv``, ``collections.csv``, ``weather_warnings.csv`` and
    ``truth.json``."""
    rng = np.random.default_rng(seed)
    fleet = _fleet(rng)
    days = (design.END - design.START).days + 1
    slots = days * SLOTS_PER_DAY
    deposits = _deposits(rng, fleet, days)
    online = _online(rng, len(fleet.bins), days)
    missed = rng.random((days, len(design.ROUTES))) < MISSED_VISIT_PROBABILITY
    # Trucks stay in the depot while signal 8 or a black rainstorm is up; drawn from their own
    # stream so that the weather does not reshuffle everything else a seed produces.
    warnings = simulate_weather_warnings(
        np.random.default_rng([seed, WEATHER_STREAM]), design.START, design.END
    )
    severe = [(day - design.START).days for day in severe_weather_days(warnings)]
    missed[severe, :] = True
    route_index = np.array([list(design.ROUTES).index(r) for r in fleet.routes])
    missed_by_bin = missed[:, route_index]
    scheduled = _schedule(fleet, days)
    treated = np.isin(fleet.routes, design.TREATED_ROUTES)
    rollout_day = (design.TREATMENT_START - design.START).days
    sensor_driven = np.zeros((days, len(fleet.bins)), dtype=bool)
    sensor_driven[rollout_day:, treated] = True

    def replay(trigger: np.ndarray, policy: np.ndarray = sensor_driven) -> Run:
        return _replay(
            rng_seed=seed,
            fleet=fleet,
            deposits=deposits,
            online=online,
            scheduled=scheduled,
            sensor_driven=policy,
            missed=missed_by_bin,
            trigger=trigger,
        )

    counterfactual = replay(np.zeros(len(fleet.bins)), np.zeros_like(sensor_driven))
    baseline_interval = (
        fleet.fill_rate * 7 / np.array([len(design.SCHEDULES[r]) for r in fleet.routes])
    )
    post = slice(rollout_day * SLOTS_PER_DAY, slots)
    target = (1 + effect) * float(counterfactual.collected[post][:, treated].sum())

    def collections(scale: float) -> float:
        trigger = np.minimum(98.0, scale * baseline_interval)
        return float(replay(trigger).collected[post][:, treated].sum())

    baseline = float(counterfactual.collected[post][:, treated].sum())
    scale = _calibrate(collections, target, baseline)
    observed = replay(np.minimum(98.0, scale * baseline_interval))

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_inventory(out_dir / "bins.csv", fleet)
    _write_readings(out_dir / "readings.csv", rng, fleet, observed, online)
    _write_collection_log(out_dir / "collections.csv", rng, fleet, observed)
    write_weather_warnings(out_dir / WEATHER_WARNINGS, warnings)
    truth = _truth(fleet, observed, counterfactual, treated, rollout_day, effect, seed)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _fleet(rng: np.random.Generator) -> Fleet:
    bins, devices, routes, districts, lat, lon = [], [], [], [], [], []
    visit_slots = []
    for r_index, (route, district) in enumerate(design.ROUTES.items()):
        centre_lat, centre_lon = design.DISTRICT_CENTRES[district]
        for position in range(design.BINS_PER_ROUTE):
            number = r_index * design.BINS_PER_ROUTE + position + 1
            bins.append(f"B{number:04d}")
            devices.append(f"r718x-bin-sensor-{number:04d}")
            routes.append(route)
            districts.append(district)
            lat.append(centre_lat + rng.normal(0, 0.004))
            lon.append(centre_lon + rng.normal(0, 0.004))
            visit_slots.append(3 + r_index % 3)  # trucks pass at 06:00, 08:00 or 10:00
    n = len(bins)
    per_week = np.array([len(design.SCHEDULES[r]) for r in routes])
    # Bins are, on average, 25-60% full when the fixed schedule empties them.
    fill_rate = rng.uniform(25, 60, n) * per_week / 7
    return Fleet(
        bins=bins,
        devices=devices,
        routes=routes,
        districts=districts,
        lat=np.round(np.array(lat), 6),
        lon=np.round(np.array(lon), 6),
        capacity_l=rng.choice([120, 240], n),
        fill_rate=fill_rate,
        visit_slot=np.array(visit_slots),
    )


def _deposits(rng: np.random.Generator, fleet: Fleet, days: int) -> np.ndarray:
    dates = [design.START + timedelta(days=d) for d in range(days)]
    holidays = hong_kong_public_holidays(design.START, design.END)
    day_factor = np.array(
        [
            (HOLIDAY_FACTOR if day in holidays else 1.0)
            * (WEEKEND_FACTOR if day.weekday() >= 5 else 1.0)
            for day in dates
        ]
    )
    n = len(fleet.bins)
    day_noise = rng.gamma(shape=12.0, scale=1 / 12.0, size=(days, n))
    per_day = fleet.fill_rate[None, :] * day_factor[:, None] * day_noise
    slot_noise = rng.gamma(shape=6.0, scale=1 / 6.0, size=(days, SLOTS_PER_DAY, n))
    per_slot = per_day[:, None, :] * DAILY_RHYTHM[None, :, None] * slot_noise
    return per_slot.reshape(days * SLOTS_PER_DAY, n)


def _online(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Which readings arrive: sensors drop out for one to four days; single readings get lost."""
    offline_days = np.zeros((days, n), dtype=bool)
    starts = np.argwhere(rng.random((days, n)) < OUTAGE_START_PROBABILITY)
    for day, unit in starts:
        offline_days[day : day + rng.integers(1, 5), unit] = True
    online = np.repeat(~offline_days, SLOTS_PER_DAY, axis=0)
    return online & (rng.random(online.shape) > 0.01)


def _schedule(fleet: Fleet, days: int) -> np.ndarray:
    weekdays = np.array([(design.START + timedelta(days=d)).weekday() for d in range(days)])
    return np.stack([np.isin(weekdays, design.SCHEDULES[route]) for route in fleet.routes], axis=1)


def _replay(
    *,
    rng_seed: int,
    fleet: Fleet,
    deposits: np.ndarray,
    online: np.ndarray,
    scheduled: np.ndarray,
    sensor_driven: np.ndarray,
    missed: np.ndarray,
    trigger: np.ndarray,
) -> Run:
    """Replay collections slot by slot: read the sensor, maybe empty the bin, add the waste."""
    slots, n = deposits.shape
    residual = np.random.default_rng(rng_seed + 1).uniform(0, 4, (slots, n))
    fill = np.random.default_rng(rng_seed + 2).uniform(0, 50, n)
    fills = np.empty((slots, n))
    collected = np.zeros((slots, n), dtype=bool)
    last_reading = np.zeros(n)
    last_seen_slot = np.zeros(n)
    for slot in range(slots):
        day, slot_of_day = divmod(slot, SLOTS_PER_DAY)
        fills[slot] = fill
        seen = online[slot]
        last_reading = np.where(seen, fill, last_reading)
        last_seen_slot = np.where(seen, slot, last_seen_slot)
        visiting = (fleet.visit_slot == slot_of_day) & ~missed[day]
        if visiting.any():
            by_schedule = scheduled[day] & ~sensor_driven[day]
            # A sensor silent for a day cannot be trusted: fall back to the fixed schedule.
            sensor_ok = slot - last_seen_slot <= SLOTS_PER_DAY
            # Empty a bin that reached its trigger or would overflow before tomorrow's visit.
            needs_emptying = (last_reading >= trigger) | (
                last_reading + OVERFLOW_HEADROOM * fleet.fill_rate >= 100
            )
            by_sensor = sensor_driven[day] & np.where(sensor_ok, needs_emptying, scheduled[day])
            empty = visiting & (by_schedule | by_sensor)
            collected[slot] = empty
            fill = np.where(empty, residual[slot], fill)
        fill = np.minimum(100.0, fill + deposits[slot])
    return Run(fill=fills, collected=collected)


def _calibrate(collections: Any, target: float, baseline: float) -> float:
    """Find the trigger scale whose collections hit ``target`` (collections fall as it rises)."""
    low, high = 0.05, 20.0
    fewest, most = collections(high), collections(low)
    if not fewest <= target <= most:
        raise InputError(
            "effect: sensor-driven collection can change collections here by "
            f"{fewest / baseline - 1:+.2f} to {most / baseline - 1:+.2f} (relative); "
            f"{target / baseline - 1:+.2f} is outside that range"
        )
    for _ in range(30):
        middle = (low * high) ** 0.5
        if collections(middle) > target:
            low = middle
        else:
            high = middle
    return (low * high) ** 0.5


def _slot_times_utc(slots: int) -> list[datetime]:
    start = datetime(design.START.year, design.START.month, design.START.day, tzinfo=UTC)
    start -= timedelta(hours=8)  # midnight in Hong Kong
    return [start + timedelta(hours=SLOT_HOURS * s) for s in range(slots)]


def _write_inventory(path: Path, fleet: Fleet) -> None:
    pl.DataFrame(
        {
            "bin": fleet.bins,
            "dev_id": fleet.devices,
            "route": fleet.routes,
            "district": fleet.districts,
            "lat": fleet.lat,
            "lon": fleet.lon,
            "capacity": fleet.capacity_l,
        }
    ).write_csv(path)


def _write_readings(
    path: Path, rng: np.random.Generator, fleet: Fleet, run: Run, online: np.ndarray
) -> None:
    slots = run.fill.shape[0]
    slot_index, unit_index = np.nonzero(online)
    fill = np.clip(run.fill[slot_index, unit_index] + rng.normal(0, 1, slot_index.size), 0, 100)
    day = slot_index / SLOTS_PER_DAY
    hour = (slot_index % SLOTS_PER_DAY) * SLOT_HOURS
    temperature = 16 + 12 * day / 182 + 3 * np.sin((hour - 9) / 24 * 2 * np.pi)
    times = np.array([t.strftime("%Y-%m-%dT%H:%M:%S+00:00") for t in _slot_times_utc(slots)])
    lat_long = np.array([f"{a:.6f}, {b:.6f}" for a, b in zip(fleet.lat, fleet.lon, strict=True)])
    frame = pl.DataFrame(
        {
            "dev_id": np.array(fleet.devices)[unit_index],
            "time": times[slot_index],
            "distance": np.round(BIN_DEPTH_MM * (1 - fill / 100) + 30).astype(int),
            "filllevel": np.round(fill).astype(int),
            "temperature": np.round(temperature + rng.normal(0, 0.8, slot_index.size), 1),
            "battery": np.round(3.65 - 0.0008 * day + rng.normal(0, 0.01, slot_index.size), 2),
            "lat_long": lat_long[unit_index],
        }
    ).sort("time", "dev_id")
    lines = frame.write_csv().splitlines()
    _corrupt(lines, rng)
    path.write_text("\n".join(lines) + "\n")


def _corrupt(lines: list[str], rng: np.random.Generator) -> None:
    """Damage a few rows the way field devices do, so the adapter's quarantine is exercised."""
    damages = [
        lambda row: row.replace("+00:00", "+00:00X", 1),
        lambda row: _set_field(row, 3, "ERR"),
        lambda row: _set_field(row, 3, "255"),
        lambda row: _set_field(row, 0, ""),
        lambda row: row + ",extra",
        lambda row: _set_field(row, 0, "r718x-bin-sensor-9999"),
    ]
    rows = rng.choice(np.arange(1, len(lines)), MALFORMED_READINGS, replace=False)
    for count, row in enumerate(rows):
        lines[row] = damages[count % len(damages)](lines[row])


def _set_field(row: str, index: int, value: str) -> str:
    head, _, tail = row.partition(',"')  # lat_long is the only quoted field with commas inside
    fields = head.split(",")
    fields[index] = value
    return ",".join(fields) + ',"' + tail


def _write_collection_log(path: Path, rng: np.random.Generator, fleet: Fleet, run: Run) -> None:
    slot_index, unit_index = np.nonzero(run.collected)
    hong_kong_start = datetime(design.START.year, design.START.month, design.START.day)
    position = unit_index % design.BINS_PER_ROUTE
    stamps = [
        (hong_kong_start + timedelta(hours=SLOT_HOURS * int(s), minutes=5 + 3 * int(p))).strftime(
            "%Y-%m-%dT%H:%M:%S+08:00"
        )
        for s, p in zip(slot_index, position, strict=True)
    ]
    fill_before = run.fill[slot_index, unit_index]
    routes = np.array(fleet.routes)[unit_index]
    frame = pl.DataFrame(
        {
            "truck": [f"TRK-{route[1:]}" for route in routes],
            "route": routes,
            "bin": np.array(fleet.bins)[unit_index],
            "collected_at": stamps,
            "weight_kg": np.round(fill_before / 100 * fleet.capacity_l[unit_index] * 0.09, 1),
        }
    ).sort("collected_at", "bin")
    lines = frame.write_csv().splitlines()
    for row, damage in zip(
        rng.choice(np.arange(1, len(lines)), 3, replace=False),
        [
            lambda r: r.rsplit(",", 1)[0] + ",n/a",
            lambda r: r.replace("+08:00", "", 1),
            lambda r: r.rsplit(",", 1)[0],
        ],
        strict=True,
    ):
        lines[row] = damage(lines[row])
    path.write_text("\n".join(lines) + "\n")


def _truth(
    fleet: Fleet,
    observed: Run,
    counterfactual: Run,
    treated: np.ndarray,
    rollout_day: int,
    effect: float,
    seed: int,
) -> dict[str, Any]:
    post_weeks = slice(rollout_day // 7, design.WEEKS)

    def by_week(run: Run) -> dict[str, np.ndarray]:
        weeks = design.WEEKS
        shape = (weeks, 7 * SLOTS_PER_DAY, len(fleet.bins))
        collected = run.collected.reshape(shape)
        fill = run.fill.reshape(shape)
        count = collected.sum(axis=1).astype(float)
        fill_sum = np.where(collected, fill, 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill_at_collection = np.where(count > 0, fill_sum / count, np.nan)
        full = (fill >= 100).reshape(weeks, 7, SLOTS_PER_DAY, -1).any(axis=2)
        return {
            "collections_per_bin_week": count,
            "fill_at_collection": fill_at_collection,
            "overflow_per_1000_bin_days": 1000 * full.mean(axis=1),
        }

    observed_weeks, counterfactual_weeks = by_week(observed), by_week(counterfactual)
    metrics = {}
    for name, values in observed_weeks.items():
        with_effect = np.nanmean(values[post_weeks][:, treated])
        without = np.nanmean(counterfactual_weeks[name][post_weeks][:, treated])
        metrics[name] = {
            "effect": round(float(with_effect - without), 6),
            "relative": round(float((with_effect - without) / without), 6) if without else None,
            "counterfactual_mean": round(float(without), 6),
        }
    return {
        "pilot": "smart_bins",
        "seed": seed,
        "effect_parameter": effect,
        "treatment_start": design.TREATMENT_START.isoformat(),
        "treated_routes": list(design.TREATED_ROUTES),
        "metrics": metrics,
    }
