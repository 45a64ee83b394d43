"""An example table for the tabular pilot: on-street parking meters under demand-responsive pricing.

The kind of export a pilot without a plug-in has: one CSV row per meter and hour with the minutes
occupied and the fees paid, as a meter vendor's back office would produce it (times in Hong Kong
local time, without an offset). It carries a ``vehicle_plate`` column that the example trial does
not declare, so the platform never reads it. 48 meters on 12 streets in three districts are
observed from 08:00 to 22:00 for 25 weeks; from Monday 6 April 2026 six streets change their
hourly fee with demand (SFpark-style), which moves occupancy on crowded blocks toward the target
by the relative ``effect`` on occupied minutes. Occupancy follows the hour of day, weekends,
public holidays and severe weather (streets empty while signal 8 or a black rainstorm is up);
some meters drop out for days, and a few malformed rows are written. The truth is measured on
the potential outcomes: the same occupancy with and without the new fees.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pilots.calendar import (
    WEATHER_WARNINGS,
    hong_kong_public_holidays,
    severe_weather_days,
    simulate_weather_warnings,
    write_weather_warnings,
)

FILE = "meter_occupancy.csv"
START = date(2026, 1, 5)
WEEKS = 25
TREATMENT_START = date(2026, 4, 6)
HOURS = np.arange(8, 22)
METERS_PER_STREET = 4
STREETS = {
    "Wing Kut Street": "Central and Western",
    "Gilman's Bazaar": "Central and Western",
    "Jervois Street": "Central and Western",
    "Hillier Street": "Central and Western",
    "Lockhart Road": "Wan Chai",
    "Jaffe Road": "Wan Chai",
    "Luard Road": "Wan Chai",
    "Fenwick Street": "Wan Chai",
    "Hoi Yuen Road": "Kwun Tong",
    "How Ming Street": "Kwun Tong",
    "Hung To Road": "Kwun Tong",
    "Tsun Yip Street": "Kwun Tong",
}
TREATED_STREETS = (
    "Wing Kut Street",
    "Jervois Street",
    "Lockhart Road",
    "Luard Road",
    "Hoi Yuen Road",
    "Hung To Road",
)
FEE_PER_HOUR = 8.0  # HK$ per occupied hour, before the change
HOURLY_RHYTHM = 0.55 + 0.35 * np.sin(np.pi * (HOURS - 8) / 14)


def simulate_parking_meters(out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]:
    """Write ``meter_occupancy.csv``, ``weather_warnings.csv`` and ``truth.json``."""
    rng = np.random.default_rng(seed)
    days = [START + timedelta(days=d) for d in range(7 * WEEKS)]
    streets = np.repeat(list(STREETS), METERS_PER_STREET)
    meters = [f"PM{40100 + i:05d}" for i in range(len(streets))]
    treated = np.isin(streets, TREATED_STREETS)
    warnings = simulate_weather_warnings(rng, days[0], days[-1])
    severe = set(severe_weather_days(warnings))
    holidays = set(hong_kong_public_holidays(days[0], days[-1]))

    day_factor = np.array(
        [
            0.15 if day in severe else (0.8 if day in holidays or day.weekday() == 6 else 1.0)
            for day in days
        ]
    )
    street_level = rng.uniform(0.7, 1.05, len(STREETS))[np.repeat(np.arange(len(STREETS)), 4)]
    meter_level = street_level * rng.uniform(0.92, 1.08, len(meters))
    common = 1 + np.cumsum(rng.normal(0, 0.004, len(days)))  # a slow city-wide drift
    shape = (len(days), len(HOURS), len(meters))
    mean = (
        60
        * meter_level[None, None, :]
        * (day_factor * common)[:, None, None]
        * HOURLY_RHYTHM[None, :, None]
    )
    untreated = np.clip(mean + rng.normal(0, 6, shape), 0, 60)
    post = np.array([day >= TREATMENT_START for day in days])
    scale = np.where(post[:, None, None] & treated[None, None, :], 1 + effect, 1.0)
    occupied = np.clip(untreated * scale, 0, 60).round()
    counterfactual = untreated.round()
    fees = np.where(post[:, None] & treated[None, :], FEE_PER_HOUR * 1.25, FEE_PER_HOUR)
    revenue = (occupied / 60 * fees[:, None, :]).round(1)

    online = _online(rng, len(days), len(meters))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_table(out_dir / FILE, rng, days, meters, streets, occupied, revenue, online)
    write_weather_warnings(out_dir / WEATHER_WARNINGS, warnings)
    in_effect = post[:, None, None] & treated[None, None, :] & online[:, None, :]
    with_fees = float(occupied[np.broadcast_to(in_effect, shape)].mean())
    without = float(counterfactual[np.broadcast_to(in_effect, shape)].mean())
    truth = {
        "pilot": "tabular",
        "example": "parking meters",
        "seed": seed,
        "effect_parameter": effect,
        "treatment_start": TREATMENT_START.isoformat(),
        "treated_streets": list(TREATED_STREETS),
        "metrics": {
            "occupied_minutes": {
                "effect": round(with_fees - without, 6),
                "relative": round((with_fees - without) / without, 6),
                "counterfactual_mean": round(without, 6),
            }
        },
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _online(rng: np.random.Generator, days: int, meters: int) -> np.ndarray:
    """Meters report every day except during outages of one to five days."""
    online = np.ones((days, meters), dtype=bool)
    for day, meter in np.argwhere(rng.random((days, meters)) < 1 / 60):
        online[day : day + rng.integers(1, 6), meter] = False
    return online


def _write_table(
    path: Path,
    rng: np.random.Generator,
    days: list[date],
    meters: list[str],
    streets: np.ndarray,
    occupied: np.ndarray,
    revenue: np.ndarray,
    online: np.ndarray,
) -> None:
    d, h, m = np.nonzero(np.broadcast_to(online[:, None, :], occupied.shape))
    stamps = [
        (datetime.combine(days[i], datetime.min.time()) + timedelta(hours=int(HOURS[j]))).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        for i, j in zip(d, h, strict=True)
    ]
    plates = rng.choice(["", "AB1234", "XY88", "KT9021", "LM555"], size=len(d))
    lines = [
        f"{meters[k]},{streets[k]},{STREETS[streets[k]]},{stamp},{int(occupied[i, j, k])},"
        f"{revenue[i, j, k]},{plate}"
        for i, j, k, stamp, plate in zip(d, h, m, stamps, plates, strict=True)
    ]
    for row in rng.choice(len(lines), size=40, replace=False):
        damage = int(rng.integers(3))
        fields = lines[row].split(",")
        if damage == 0:
            fields[3] = fields[3].replace("-", "/")
        elif damage == 1:
            fields[4] = "n/a"
        else:
            fields[0] = ""
        lines[row] = ",".join(fields)
    header = "meter_id,street,district,recorded_at,occupied_minutes,revenue_hkd,vehicle_plate"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
