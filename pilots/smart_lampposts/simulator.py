"""Simulate the smart-lampposts trial: inventory, energy, work orders, weather and detectors.

About 400 lampposts in four areas from 5 January to 27 September 2026 (design.py), converted in
three phases or left conventional. Street lighting (simulated_lighting.py) is simulated in two
potential-outcome worlds that share every random draw, conventional and converted, so the
truth is measured on potential outcomes: ``truth.json`` reports, for every metric, the average
over converted lampposts and their weeks from conversion on of the converted world minus the
conventional one. The sensors (simulated_weather.py, simulated_detectors.py) are likewise
simulated with and without the conversion works. ``effect`` is the LED lantern's relative
change of energy; the changes of fault rate, repair time and report delay, and the conversion
works' outages, scale with ``effect / -0.3`` (so ``effect = 0`` is a sharp null everywhere).

The HKO weather warnings the simulation lived through are written to ``weather_warnings.csv``;
typhoons and black rain keep lamps on longer, cause faults, hold repairs and cut sensors off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livinglab.errors import InputError
from pilots.calendar import WEATHER_WARNINGS, write_weather_warnings
from pilots.smart_lampposts import design
from pilots.smart_lampposts.inventory import INVENTORY
from pilots.smart_lampposts.lighting_records import ENERGY, WORK_ORDERS
from pilots.smart_lampposts.metrics import ENERGY as ENERGY_METRIC
from pilots.smart_lampposts.metrics import REPAIR_HOURS, SENSOR_AVAILABILITY
from pilots.smart_lampposts.simulated_detectors import simulate_detectors
from pilots.smart_lampposts.simulated_fleet import Fleet, simulate_days, simulate_fleet
from pilots.smart_lampposts.simulated_lighting import (
    Lighting,
    World,
    simulate_lighting,
    write_energy,
    write_work_orders,
)
from pilots.smart_lampposts.simulated_weather import simulate_weather

EFFECT_RANGE = (-0.9, 1.0)


def simulate_smart_lampposts(out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]:
    """Write the raw files and ``truth.json`` into ``out_dir``; return the truth."""
    if not EFFECT_RANGE[0] <= effect <= EFFECT_RANGE[1]:
        raise InputError(
            f"effect: {effect:+.2f} is outside {EFFECT_RANGE[0]:+.1f} to {EFFECT_RANGE[1]:+.1f}; "
            "an LED lantern cannot save more than 90% of a conventional one's energy here"
        )
    rng = np.random.default_rng(seed)
    days = simulate_days(rng)
    fleet = simulate_fleet(rng, days.count)
    strength = float(np.clip(effect / design.DEFAULT_EFFECT, -1, 3))
    lighting = simulate_lighting(rng, fleet, days, effect, strength)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_weather_warnings(out_dir / WEATHER_WARNINGS, days.warnings)
    _write_inventory(out_dir / INVENTORY, fleet)
    write_energy(out_dir / ENERGY, rng, fleet, lighting)
    write_work_orders(out_dir / WORK_ORDERS, rng, fleet, days, lighting)
    never = np.full((days.count, fleet.size), np.nan)
    converted = never.copy()
    for simulate in (simulate_weather, simulate_detectors):
        lamps, without, with_works = simulate(out_dir, rng, fleet, days, strength)
        never[:, lamps], converted[:, lamps] = 100 * without, 100 * with_works
    truth = {
        "pilot": "smart_lampposts",
        "seed": seed,
        "effect_parameter": effect,
        "treatment_start": {
            phase: start.isoformat() for phase, start in design.PHASE_STARTS.items()
        },
        "lampposts": {phase: fleet.phases.count(phase) for phase in design.PHASES},
        "metrics": {
            ENERGY_METRIC.name: _effect(
                fleet, _weekly(lighting.smart.kwh), _weekly(lighting.conventional.kwh)
            ),
            REPAIR_HOURS.name: _effect(
                fleet,
                _repair_hours(lighting, lighting.smart),
                _repair_hours(lighting, lighting.conventional),
            ),
            SENSOR_AVAILABILITY.name: _effect(fleet, _weekly(converted), _weekly(never)),
        },
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _write_inventory(path: Path, fleet: Fleet) -> None:
    frame = pl.DataFrame(
        {
            "lamppost_id": fleet.ids,
            "district": fleet.districts,
            "area": fleet.areas,
            "street": fleet.streets,
            "lat": fleet.lat,
            "lon": fleet.lon,
            "phase": fleet.phases,
            "meter_id": fleet.meters,
            "weather_device": fleet.weather_device,
            "detector_id": fleet.detector,
        }
    )
    # A lamppost planned on Kai Tak's new roads, listed before LandsD gave it a number.
    planned = "TBC,Kwun Tong,Kwun Tong/Kai Tak,Shing Kai Road,22.3241,114.2052,P3,,,"
    path.write_text(frame.write_csv() + planned + "\n", encoding="utf-8")


def _weekly(daily: np.ndarray) -> np.ndarray:
    """``[week, lamp]`` means of a ``[day, lamp]`` array (weeks start on Mondays)."""
    weeks = daily.reshape(design.WEEKS, 7, -1)
    counts = (~np.isnan(weeks)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.nansum(weeks, axis=1) / counts, np.nan)


def _repair_hours(lighting: Lighting, world: World) -> np.ndarray:
    """Hours from report to repair summed per ``[week of report, lamp]`` in one world."""
    hours = np.zeros((design.WEEKS, lighting.converted.shape[1]))
    happened = world.fault & (world.reported < 24 * 7 * design.WEEKS)
    week = (world.reported[happened] // (24 * 7)).astype(int)
    np.add.at(
        hours, (week, lighting.fault_lamp[happened]), (world.repaired - world.reported)[happened]
    )
    return hours


def _effect(
    fleet: Fleet, converted: np.ndarray, conventional: np.ndarray
) -> dict[str, float | None]:
    """Average over converted lampposts' weeks from conversion of converted minus conventional."""
    post = np.arange(design.WEEKS)[:, None] >= (fleet.conversion_day // 7)[None, :]
    cells = post & ~np.isnan(converted) & ~np.isnan(conventional)
    with_effect, without = float(converted[cells].mean()), float(conventional[cells].mean())
    return {
        "effect": round(with_effect - without, 6),
        "relative": round((with_effect - without) / without, 6) if without else None,
        "counterfactual_mean": round(without, 6),
    }
