"""Simulate the Kowloon East trial: segment speeds, car-park vacancies and detector readings.

The city (``model``) gives every area a daily peak-hour speed and car-park occupancy. Each area
has three corridor segments, two car parks and one detector; readings add segment, car-park and
lane noise, sensor outages and offline spells, severe-weather days (slower traffic, emptier car
parks, more sensors offline) and Hong Kong public holidays. From 4 May 2026 Kowloon East's
adaptive signals raise its speeds by the relative ``effect`` (segments and detectors alike), and
its smart parking information steers drivers away from car parks about to fill up: occupancy
above 85% is shaved by ``PARKING_RESPONSE * effect`` of the excess, so fewer hours are full.

The archive is sampled sparsely to stay small and quick, one week of it being about 0.5 MB:
segment snapshots at 08:31 and 18:31, vacancy snapshots at 12:00 and 19:00, one detector file a
day in the morning peak and one just after midnight on Mondays (which carries Sunday's date, as
the real feed does). A few snapshots are missing, some are archived twice, and each archive has a
truncated and a garbage file and a few damaged records (see ``traffic_files`` and
``parking_files``).

The truth is measured on potential outcomes: the same readings with and without the pilot, over
the records the adapter can read, aggregated like the metrics (weekly), and averaged over the
weeks after the start; ``truth.json`` reports it for every metric.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livinglab.errors import InputError
from pilots.calendar import simulate_weather_warnings, write_weather_warnings
from pilots.kowloon_east import design, parking_files, traffic_files
from pilots.kowloon_east.model import City, draw_city

SNAPSHOT_SPEED = np.array([1.0, 0.95])  # 08:31 and 18:31: evenings are a little slower
SEGMENT_NOISE = 0.04
PARK_NOISE = 0.03
PARKING_RESPONSE = 1.0
SHAVE_FROM = 0.85  # occupancy above which guided drivers start to go elsewhere
# Kowloon East's car parks are among the busier ones: that is why the pilot targets them.
BUSY_TREATED_PARKS = (1.05, 1.09)
OUTAGE_START = {"segment": 1 / 200, "carpark": 1 / 90}
OUTAGE_DAYS = {"segment": 3, "carpark": 10}
SEVERE_OFFLINE = {"segment": 0.05, "carpark": 0.25}
EFFECT_RANGE = (-0.5, 1.0)


def simulate_kowloon_east(out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]:
    """Write the raw feeds, ``weather_warnings.csv`` and ``truth.json`` into ``out_dir``."""
    if not EFFECT_RANGE[0] <= effect <= EFFECT_RANGE[1]:
        raise InputError(
            f"effect: {effect:+.2f} is not a plausible relative change of peak-hour speed; "
            f"use {EFFECT_RANGE[0]:+.2f} to {EFFECT_RANGE[1]:+.2f} (adaptive signals: about +0.08)"
        )
    rng = np.random.default_rng(seed)
    warnings = simulate_weather_warnings(rng, design.START, design.END)
    city = draw_city(rng, warnings)
    treated = np.array([area.name == design.TREATED_AREA for area in design.AREAS])
    trial = Trial(
        city,
        treated,
        post=np.array([day >= design.TREATMENT_START for day in city.days]),
        severe=np.array([day in city.severe for day in city.days]),
        effect=effect,
    )
    speeds, online = _segment_speeds(rng, trial)
    lengths = _corridor_lengths(rng, treated)
    occupancies, reporting = _occupancy(rng, trial)

    out_dir.mkdir(parents=True, exist_ok=True)
    write_weather_warnings(out_dir / "weather_warnings.csv", warnings)
    traffic_files.write_lookup(out_dir, lengths)
    delivered = traffic_files.write_segment_archive(out_dir, rng, city.days, speeds[1], online)
    park_read = parking_files.write_carpark_feeds(
        out_dir, rng, city.days, occupancies[1], reporting
    )
    detector_speed = city.speed * (1 + city.speed_noise) * trial.uplift(np.arange(treated.size))
    traffic_files.write_detector_feeds(out_dir, rng, city, detector_speed)

    seen = delivered & online
    truth = _truth(city, seed, effect, speeds, seen, lengths, occupancies, park_read)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


@dataclass(frozen=True)
class Trial:
    """The drawn city and the trial laid over it: which areas are treated (``treated``, per
    area), from which day (``post``, per day), the severe-weather days and the effect."""

    city: City
    treated: np.ndarray
    post: np.ndarray
    severe: np.ndarray
    effect: float

    def areas_of(self, per_area: int) -> np.ndarray:
        """The area of each sensor, when every area has ``per_area`` of them."""
        return np.repeat(np.arange(self.treated.size), per_area)

    def piloted(self, area: np.ndarray) -> np.ndarray:
        """``(sensor, day)``: the sensor's area runs the pilot that day."""
        return self.treated[area][:, None] & self.post[None, :]

    def uplift(self, area: np.ndarray) -> np.ndarray:
        """``(sensor, day)`` factor on speeds: ``1 + effect`` where the pilot runs, else 1."""
        return 1 + self.effect * self.piloted(area)


def _segment_speeds(rng: np.random.Generator, trial: Trial) -> tuple[list[np.ndarray], np.ndarray]:
    """Speeds without and with the pilot, and which segments report: (segment, day, snapshot)."""
    city, area = trial.city, trial.areas_of(design.SEGMENTS_PER_AREA)
    scale = rng.uniform(0.75, 1.25, area.size)
    scale /= np.repeat(scale.reshape(trial.treated.size, -1).mean(axis=1), design.SEGMENTS_PER_AREA)
    noise = rng.normal(0, SEGMENT_NOISE, (area.size, trial.post.size, SNAPSHOT_SPEED.size))
    base = (
        city.speed[area][:, :, None]
        * SNAPSHOT_SPEED[None, None, :]
        * scale[:, None, None]
        * (1 + city.speed_noise[area][:, :, None] + noise)
    )
    uplift = trial.uplift(area)[:, :, None]
    speeds = [np.round(np.clip(base * factor, 3, 121), 1) for factor in (1.0, uplift)]
    online = _online(rng, trial, area.size, "segment")[:, :, None] & (
        rng.random(base.shape) > 0.005
    )
    return speeds, online


def _occupancy(rng: np.random.Generator, trial: Trial) -> tuple[list[np.ndarray], np.ndarray]:
    """Occupancy without and with the pilot (car park, day, hour), and which days report."""
    city, area = trial.city, trial.areas_of(design.CARPARKS_PER_AREA)
    level = np.stack([city.occupancy_noon, city.occupancy_evening], axis=2)
    busy = rng.uniform(0.9, 1.15, area.size)
    busy[trial.treated[area]] = BUSY_TREATED_PARKS
    occupancy = (
        level[area] * busy[:, None, None]
        + city.occupancy_noise[area][:, :, None]
        + rng.normal(0, PARK_NOISE, (area.size, trial.post.size, 2))
    )
    shave = np.clip(PARKING_RESPONSE * trial.effect, -0.5, 0.9)
    smoothed = occupancy - shave * np.maximum(occupancy - SHAVE_FROM, 0)
    guided = trial.piloted(area)[:, :, None]
    return [occupancy, np.where(guided, smoothed, occupancy)], _online(
        rng, trial, area.size, "carpark"
    )


def _corridor_lengths(rng: np.random.Generator, treated: np.ndarray) -> np.ndarray:
    """Segment lengths (m); Kowloon East's corridor is as long as the donors' median corridor,
    so that its journey time lies within theirs."""
    lengths = rng.uniform(400, 1600, (len(design.AREAS), design.SEGMENTS_PER_AREA))
    totals = lengths.sum(axis=1)
    lengths[treated] *= np.median(totals[~treated]) / totals[treated][:, None]
    return np.round(lengths.ravel(), -1)


def _online(rng: np.random.Generator, trial: Trial, count: int, kind: str) -> np.ndarray:
    """Which sensors report each day: spells offline of a few days, more on severe days."""
    days, severe = trial.severe.size, trial.severe
    offline = np.zeros((count, days), dtype=bool)
    for unit, day in np.argwhere(rng.random((count, days)) < OUTAGE_START[kind]):
        offline[unit, day : day + rng.integers(1, OUTAGE_DAYS[kind] + 1)] = True
    if kind in SEVERE_OFFLINE:
        offline |= severe[None, :] & (rng.random((count, days)) < SEVERE_OFFLINE[kind])
    return ~offline


def _truth(
    city: City,
    seed: int,
    effect: float,
    speeds: list[np.ndarray],
    seen: np.ndarray,
    lengths: np.ndarray,
    occupancies: list[np.ndarray],
    park_read: np.ndarray,
) -> dict[str, Any]:
    """Effects on Kowloon East's weekly metrics after the start, with and without the pilot."""
    area = design.AREAS.index(next(a for a in design.AREAS if a.name == design.TREATED_AREA))
    segments = slice(area * design.SEGMENTS_PER_AREA, (area + 1) * design.SEGMENTS_PER_AREA)
    parks = slice(area * design.CARPARKS_PER_AREA, (area + 1) * design.CARPARKS_PER_AREA)
    weeks = np.arange(len(city.days)) // 7
    first_post = (design.TREATMENT_START - design.START).days // 7
    complete = seen[segments].all(axis=0)  # (day, snapshot)

    def weekly(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per-week ratio of summed values to summed weights over (..., day, snapshot) arrays."""
        axes = tuple(range(values.ndim - 2))
        day_values = (values * weights).sum(axis=axes).sum(axis=-1)
        day_weights = weights.sum(axis=axes).sum(axis=-1).astype(float)
        totals = np.bincount(weeks, day_values), np.bincount(weeks, day_weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals[1] > 0, totals[0] / totals[1], np.nan)

    def metrics(speed: np.ndarray, occupancy: np.ndarray) -> dict[str, np.ndarray]:
        journey = (lengths[segments, None, None] / 1000 / speed[segments] * 60).sum(axis=0)
        corridor_speed = lengths[segments].sum() / 1000 / (journey / 60)
        return {
            "peak_hour_speed": weekly(corridor_speed, complete),
            "carpark_hours_full": 100 * weekly(occupancy[parks] >= 1, park_read[parks]),
            "corridor_journey_time": weekly(journey, complete),
        }

    without = metrics(speeds[0], occupancies[0])
    with_pilot = metrics(speeds[1], occupancies[1])
    results = {}
    for name, counterfactual in without.items():
        gaps = with_pilot[name][first_post:] - counterfactual[first_post:]
        mean = float(np.nanmean(counterfactual[first_post:]))
        results[name] = {
            "effect": round(float(np.nanmean(gaps)), 6),
            "relative": round(float(np.nanmean(gaps)) / mean, 6) if mean else None,
            "counterfactual_mean": round(mean, 6),
        }
    return {
        "pilot": "kowloon_east",
        "seed": seed,
        "effect_parameter": effect,
        "treatment_start": design.TREATMENT_START.isoformat(),
        "treated_area": design.TREATED_AREA,
        "donor_areas": len(design.DONOR_AREAS),
        "severe_weather_days": [day.isoformat() for day in city.severe],
        "period": [design.START.isoformat(), design.END.isoformat()],
        "metrics": results,
    }
