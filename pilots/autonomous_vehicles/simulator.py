"""Simulate the autonomous-shuttle switchback trial on the airport route, trip by trip.

Every timetabled trip (every 15 minutes from each terminus, 07:00-22:45) is simulated under both
shuttles from the same day: the same traffic, weather and passengers waiting. The switchback
schedule in ``design.py`` decides which of the two outcomes is observed; the baseline weeks run
the conventional minibus only. What differs between the shuttles:

- running time: the AV is held to 50 km/h and brakes early at crossings, so its trips take longer
  (the relative ``effect`` on mean journey time, calibrated exactly on the analysed days) but
  vary far less (4% against 12% trip to trip); the minibus also leaves late now and then, which
  costs it punctuality (on time = arriving within 3 minutes of the timetabled 11-minute trip);
- seats: 14 in the AV, 19 in the minibus, so the AV leaves passengers behind at peaks;
- safety events (emergency stops, near misses, minor collisions): 1.3 per 1,000 km for the AV
  against 0.9 for the minibus, Poisson in vehicle-km;
- disengagements (AV only): Poisson in automated km, from 7.5 per 1,000 km falling to 1.5 as the
  system matures (FEEDS.md: 0.5-20 per 1,000 km in an early pilot), 2.5 times as many in rain.
  Each hands 0.2-0.8 km to the backup operator.

Calendar: weekends and Hong Kong public holidays bring more travellers; warnings come from
``simulate_weather_warnings``. Rain and signals 1 and 3 slow every trip; on a severe-weather day
(signal 8 or above, or black rain, at any moment) the AV stands down for the whole day, the
minibus runs instead, and no trip at all runs while the signal is in force. Trip loggers fail for
one to four hours on about one day in twenty, so those trips are missing from the log but not
from the mileage return or the disengagement report.

Truth is measured on the potential outcomes of every trip on the trial days the demo spec
analyses (severe-weather days excluded): the difference between the AV and minibus outcomes,
averaged as each metric aggregates (daily means for journey time and punctuality; totals over
exposure for the rates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from livinglab.errors import InputError
from pilots.autonomous_vehicles import design
from pilots.autonomous_vehicles.raw_files import (
    fleet_register,
    write_disengagements,
    write_fleet,
    write_mileage,
    write_trip_log,
)
from pilots.calendar import (
    SEVERE_CODES,
    hong_kong_public_holidays,
    severe_weather_days,
    simulate_weather_warnings,
    write_weather_warnings,
)

BASE_RUN_MIN = 9.0
# Running-time factor by hour of departure (airport-island traffic peaks at shift changes).
PEAK = np.ones(24)
PEAK[[7, 8]] = 1.2
PEAK[[17, 18]] = 1.25
PEAK[[21, 22]] = 0.95
TIMETABLED_RUN_MIN = 11.0
LATE_AFTER_MIN = 3.0
# Passengers waiting per departure, by hour (shift changes at 07:00, 15:00 and 23:00).
DEMAND = np.full(24, 6.0)
DEMAND[[7, 8, 14, 15, 22]] = [14.0, 11.0, 10.0, 13.0, 12.0]
SEATS = {"autonomous": 14, "conventional": 19}
SAFETY_EVENTS_PER_1000_KM = {"autonomous": 1.3, "conventional": 0.9}
OUTAGE_DAY_PROBABILITY = 0.05
EFFECT_RANGE = (-0.5, 1.0)


@dataclass(frozen=True)
class Outcomes:
    """One shuttle's potential outcome of every timetabled trip, arrays of shape (day, trip)."""

    run_min: np.ndarray
    delay_min: np.ndarray
    passengers: np.ndarray
    km_auto: np.ndarray
    km_manual: np.ndarray
    disengagements: np.ndarray
    safety_events: np.ndarray
    max_speed: np.ndarray

    @property
    def on_time(self) -> np.ndarray:
        return self.delay_min + self.run_min <= TIMETABLED_RUN_MIN + LATE_AFTER_MIN


@dataclass(frozen=True)
class Service:
    """What ran: the observed trips and the days the AV ran them."""

    days: list[date]
    departures: np.ndarray  # minutes after midnight, per trip
    directions: np.ndarray  # 0 outbound from Car Park 4, 1 inbound
    runs: np.ndarray  # bool (day, trip): the trip ran (not suspended by a severe signal)
    logged: np.ndarray  # bool (day, trip): the trip ran and its logger recorded it
    av_day: np.ndarray  # bool per day: the AV ran the route
    observed: Outcomes


def simulate_autonomous_vehicles(out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]:
    """Write the raw files and ``truth.json`` into ``out_dir``; ``effect`` on journey time."""
    low, high = EFFECT_RANGE
    if not low < effect < high:
        raise InputError(
            f"effect: {effect:+.2f} is outside {low:+.2f} to {high:+.2f}, the relative change of "
            "mean journey time an AV shuttle can plausibly make on this route"
        )
    rng = np.random.default_rng(seed)
    days = [design.BASELINE_START + timedelta(days=d) for d in range(_day_count())]
    k = np.arange(design.DEPARTURES_PER_DIRECTION)
    departures = np.tile(design.FIRST_DEPARTURE_MIN + design.HEADWAY_MIN * k, 2)
    directions = np.repeat([0, 1], design.DEPARTURES_PER_DIRECTION)
    warnings = simulate_weather_warnings(rng, days[0], days[-1])
    severe_days = set(severe_weather_days(warnings))
    times = np.array(days, dtype="datetime64[m]")[:, None] + departures[None, :].astype(
        "timedelta64[m]"
    )
    suspended, wet = _weather(warnings, times)
    severe = np.array([day in severe_days for day in days])
    analysed = np.array([day >= design.TRIAL_START for day in days]) & ~severe

    base = _base_running_time(rng, days, departures, wet, severe)
    demand = rng.poisson(_demand(rng, days, departures, severe))
    conventional = _outcomes(rng, "conventional", base, demand, days, wet, scale=1.0)
    av_raw = base * rng.lognormal(0.0, 0.04, base.shape)
    target = (1 + effect) * conventional.run_min[analysed].mean(axis=1).mean()
    scale = target / av_raw[analysed].mean(axis=1).mean()
    autonomous = _outcomes(rng, "autonomous", av_raw, demand, days, wet, scale=scale)

    scheduled = set(design.AV_DAYS)
    av_day = np.array([day in scheduled for day in days]) & ~severe
    runs = ~suspended
    logged = runs & _logger_up(rng, base.shape, departures)
    observed = Outcomes(
        **{
            field.name: np.where(
                av_day[:, None], getattr(autonomous, field.name), getattr(conventional, field.name)
            )
            for field in fields(Outcomes)
        }
    )
    service = Service(days, departures, directions, runs, logged, av_day, observed)

    out_dir.mkdir(parents=True, exist_ok=True)
    write_weather_warnings(out_dir / "weather_warnings.csv", warnings)
    register = fleet_register(rng)
    write_fleet(out_dir / "fleet.csv", register)
    write_trip_log(out_dir / "trip_log.csv", rng, service, register)
    write_disengagements(out_dir / "disengagements_2026.csv", rng, service, register)
    write_mileage(out_dir / "mileage_2026.csv", service, register)
    truth = _truth(autonomous, conventional, analysed, severe_days, effect, seed)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _day_count() -> int:
    return (design.END - design.BASELINE_START).days + 1


def _weather(warnings: list[Any], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trips departing while a severe signal is in force (suspended), or any other (wet)."""
    suspended = np.zeros(times.shape, dtype=bool)
    wet = np.zeros(times.shape, dtype=bool)
    for warning in warnings:
        during = (times >= np.datetime64(warning.issued)) & (
            times < np.datetime64(warning.cancelled)
        )
        if warning.code in SEVERE_CODES:
            suspended |= during
        else:
            wet |= during
    return suspended, wet


def _base_running_time(
    rng: np.random.Generator,
    days: list[date],
    departures: np.ndarray,
    wet: np.ndarray,
    severe: np.ndarray,
) -> np.ndarray:
    """Running time shared by both shuttles before each one's own trip-to-trip variation."""
    quiet = np.array([day.weekday() >= 5 for day in days])
    traffic = rng.lognormal(0.0, 0.04, len(days)) * np.where(quiet, 0.96, 1.0)
    hour = PEAK[departures // 60]
    weather = np.where(wet, 1.06, 1.0) * np.where(severe[:, None], 1.15, 1.0)
    return BASE_RUN_MIN * traffic[:, None] * hour[None, :] * weather


def _demand(
    rng: np.random.Generator, days: list[date], departures: np.ndarray, severe: np.ndarray
) -> np.ndarray:
    holidays = hong_kong_public_holidays(days[0], days[-1])
    factor = np.array(
        [(1.3 if day in holidays else 1.0) * (1.15 if day.weekday() >= 5 else 1.0) for day in days]
    )
    factor = factor * np.where(severe, 0.5, 1.0) * rng.gamma(25.0, 1 / 25.0, len(days))
    return factor[:, None] * DEMAND[departures // 60][None, :]


def _outcomes(
    rng: np.random.Generator,
    kind: str,
    base: np.ndarray,
    demand: np.ndarray,
    days: list[date],
    wet: np.ndarray,
    *,
    scale: float,
) -> Outcomes:
    shape = base.shape
    km = np.round(design.ROUTE_KM + rng.normal(0.0, 0.03, shape), 2)
    events = rng.poisson(km * SAFETY_EVENTS_PER_1000_KM[kind] / 1000)
    passengers = np.minimum(demand, SEATS[kind])
    if kind == "conventional":
        return Outcomes(
            run_min=_to_seconds(base * rng.lognormal(0.0, 0.12, shape)),
            delay_min=_to_seconds((rng.random(shape) < 0.25) * rng.exponential(2.0, shape)),
            passengers=passengers,
            km_auto=np.zeros(shape),
            km_manual=km,
            disengagements=np.zeros(shape, dtype=int),
            safety_events=events,
            max_speed=np.round(rng.uniform(55.0, 70.0, shape)),
        )
    matured = np.array([max((day - design.TRIAL_START).days, 0) for day in days])
    per_1000 = 1.5 + 6.0 * np.exp(-matured / 45.0)
    rate = per_1000[:, None] * np.where(wet, 2.5, 1.0) / 1000
    disengagements = rng.poisson(km * rate)
    handed_over = np.where(disengagements > 0, rng.uniform(0.2, 0.8, shape) * disengagements, 0.0)
    km_manual = np.round(np.minimum(handed_over, 0.6 * km), 2)
    speeding = rng.random(shape) < 0.002  # the rare licence breach the checks should catch
    return Outcomes(
        run_min=_to_seconds(scale * base),
        delay_min=_to_seconds((rng.random(shape) < 0.03) * rng.exponential(0.8, shape)),
        passengers=passengers,
        km_auto=np.round(km - km_manual, 2),
        km_manual=km_manual,
        disengagements=disengagements,
        safety_events=events,
        max_speed=np.where(speeding, 52.0, np.round(rng.uniform(40.0, 50.0, shape))),
    )


def _to_seconds(minutes: np.ndarray) -> np.ndarray:
    """Logs keep whole seconds; outcomes are rounded the same way so the truth matches them."""
    return np.round(minutes * 60) / 60


def _logger_up(
    rng: np.random.Generator, shape: tuple[int, ...], departures: np.ndarray
) -> np.ndarray:
    """False for trips departing in a one-to-four-hour logger outage; 0.3% lost one by one."""
    days = shape[0]
    failing = rng.random(days) < OUTAGE_DAY_PROBABILITY
    start = rng.uniform(7 * 60, 20 * 60, days)
    length = rng.uniform(60, 240, days)
    down = failing[:, None] & (departures[None, :] >= start[:, None])
    down &= departures[None, :] < (start + length)[:, None]
    return ~down & (rng.random(shape) > 0.003)


def _truth(
    autonomous: Outcomes,
    conventional: Outcomes,
    analysed: np.ndarray,
    severe_days: set[date],
    effect: float,
    seed: int,
) -> dict[str, Any]:
    def daily_mean(values: np.ndarray) -> float:
        return float(values[analysed].mean(axis=1).mean())

    def rate(events: np.ndarray, exposure: np.ndarray, per: float) -> float:
        return float(per * events[analysed].sum() / exposure[analysed].sum())

    def entry(treated: float, control: float) -> dict[str, float]:
        return {
            "effect": round(treated - control, 6),
            "relative": round((treated - control) / control, 6),
            "counterfactual_mean": round(control, 6),
        }

    av, cs = autonomous, conventional
    metrics = {
        "journey_time_min": entry(daily_mean(av.run_min), daily_mean(cs.run_min)),
        "on_time_share": entry(100 * daily_mean(av.on_time), 100 * daily_mean(cs.on_time)),
        "passengers_per_hour": entry(
            rate(av.passengers, av.run_min / 60, 1.0), rate(cs.passengers, cs.run_min / 60, 1.0)
        ),
        "safety_events_per_1000_km": entry(
            rate(av.safety_events, av.km_auto + av.km_manual, 1000.0),
            rate(cs.safety_events, cs.km_manual, 1000.0),
        ),
        "disengagements_per_1000_km": {
            "effect": None,
            "relative": None,
            "counterfactual_mean": None,
            "av_rate": round(rate(av.disengagements, av.km_auto, 1000.0), 6),
            "note": "the conventional shuttle drives no automated km: no comparison exists",
        },
    }
    return {
        "pilot": "autonomous_vehicles",
        "seed": seed,
        "effect_parameter": effect,
        "baseline_start": design.BASELINE_START.isoformat(),
        "treatment_start": design.TRIAL_START.isoformat(),
        "end": design.END.isoformat(),
        "av_days": [day.isoformat() for day in design.AV_DAYS],
        "severe_weather_days": sorted(day.isoformat() for day in severe_days),
        "analysed_days": int(analysed.sum()),
        "metrics": metrics,
    }
