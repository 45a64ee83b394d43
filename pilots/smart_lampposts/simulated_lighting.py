"""Simulated street lighting: nightly energy and lamp faults, in two potential-outcome worlds.

Every lamppost is simulated twice with the same random draws: conventional all along, and
converted to a smart LED lamppost all along; the observed data take the converted world from a
lamppost's conversion day on. A lamp burns from dusk to dawn (photocell), longer on overcast
days, for hours in the day under a black rainstorm and longer under a typhoon signal. The LED
lantern draws ``1 + effect`` times the conventional lantern's power on average (the saving
varies from lamp to lamp). Faults arrive more often under typhoons and black rain; smart
lampposts fail less often, report their faults at once through the smart lighting system (a
conventional fault waits for a patrol or a caller) and are repaired faster. Crews do not work
on Sundays, public holidays or severe-weather days. A lamp that is out draws nothing; one that
burns by day draws all day. Secondary effects scale with ``effect`` (none when it is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pilots.smart_lampposts import design
from pilots.smart_lampposts.lighting_records import FAULT_TYPES
from pilots.smart_lampposts.simulated_fleet import Days, Fleet

STANDBY_KWH = 0.03  # photocell and controller, every night
FAULTS_PER_LAMP_NIGHT = 1 / 300
TYPHOON_FAULTS, BLACK_RAIN_FAULTS = 6.0, 3.0  # hazard multipliers
FAULT_TYPE_SHARES = (0.45, 0.15, 0.15, 0.15, 0.10)  # in the order of FAULT_TYPES
DARK_FAULTS = {"lamp out", "cable fault", "lantern damaged"}
REPORT_DELAY_HOURS = 14.0  # mean wait for a patrol or a caller to report a conventional fault
REPAIR_MEDIAN_HOURS = 18.0
EXPORT_AFTER_END = timedelta(days=21)
METER_OUTAGE_START = 1 / 200
# Relative change of fault rate, repair time and report delay per unit of effect / -0.3.
FAULT_CHANGE, REPAIR_CHANGE, DELAY_CHANGE = -0.35, -0.25, -0.95


@dataclass(frozen=True)
class World:
    """One potential-outcome world: nightly kWh ``[day, lamp]`` and the faults."""

    kwh: np.ndarray
    fault: np.ndarray  # bool per candidate fault: it happens in this world
    reported: np.ndarray  # hours since START 00:00, per candidate fault
    repaired: np.ndarray


@dataclass(frozen=True)
class Lighting:
    conventional: World
    smart: World
    converted: np.ndarray  # bool [day, lamp]
    fault_day: np.ndarray  # per candidate fault: the night it happens, and on which lamp
    fault_lamp: np.ndarray
    fault_kind: np.ndarray  # index into FAULT_TYPES

    def observed_kwh(self) -> np.ndarray:
        return np.where(self.converted, self.smart.kwh, self.conventional.kwh)

    def observed_faults(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``index, reported, repaired, smart`` of the faults that happened."""
        smart = self.converted[self.fault_day, self.fault_lamp]
        happened = np.where(smart, self.smart.fault, self.conventional.fault)
        reported = np.where(smart, self.smart.reported, self.conventional.reported)
        repaired = np.where(smart, self.smart.repaired, self.conventional.repaired)
        index = np.flatnonzero(happened)
        return index, reported[index], repaired[index], smart[index]


def simulate_lighting(
    rng: np.random.Generator, fleet: Fleet, days: Days, effect: float, strength: float
) -> Lighting:
    n_days, n = days.count, fleet.size
    darkness = (
        days.rain * rng.uniform(0.1, 0.6, n_days)
        + days.black_rain * rng.uniform(2, 5, n_days)
        + days.typhoon * rng.uniform(1, 3, n_days)
    )
    hours = (days.night_hours - 0.5 + darkness)[:, None] + rng.normal(0, 0.1, n)[None, :]
    noise = 1 + rng.normal(0, 0.02, (n_days, n))
    # Each lantern's saving varies around ``effect`` (mean-one spread); none when it is 0.
    led = np.maximum(1 + effect * np.exp(rng.normal(0, 0.15, n) - 0.15**2 / 2), 0.05)
    hazard = FAULTS_PER_LAMP_NIGHT * (
        1 + (TYPHOON_FAULTS - 1) * days.typhoon + (BLACK_RAIN_FAULTS - 1) * days.black_rain
    )
    change = {
        name: float(np.clip(1 + rate * strength, 0.02, 3))
        for name, rate in (
            ("fault", FAULT_CHANGE),
            ("repair", REPAIR_CHANGE),
            ("delay", DELAY_CHANGE),
        )
    }
    draw = rng.random((n_days, n)) / hazard[:, None]
    fault_day, fault_lamp = np.nonzero(draw < max(1.0, change["fault"]))
    count = fault_day.size
    when = rng.random(count)
    kind = rng.choice(len(FAULT_TYPES), count, p=FAULT_TYPE_SHARES)
    delay = rng.exponential(REPORT_DELAY_HOURS, count)
    repair = rng.lognormal(np.log(REPAIR_MEDIAN_HOURS), 0.7, count)
    restart = rng.uniform(9, 16, count)  # hour a crew gets to a fault held over to a working day
    half = hours[fault_day, fault_lamp] / 2
    failed = 24.0 * (fault_day + 1) - half + when * 2 * half
    candidates = draw[fault_day, fault_lamp]

    def world(kw: np.ndarray, smart: bool) -> World:
        fault = candidates < (change["fault"] if smart else 1.0)
        reported = failed + delay * (change["delay"] if smart else 1.0)
        done = reported + repair * (change["repair"] if smart else 1.0)
        repaired = _on_working_day(done, restart, days.working)
        kwh = kw[None, :] * hours * noise + STANDBY_KWH
        for f in np.flatnonzero(fault):
            _adjust_energy(kwh, kw, hours, noise, f, fault_lamp, failed, repaired, kind)
        return World(np.round(np.maximum(kwh, STANDBY_KWH), 2), fault, reported, repaired)

    converted = np.arange(n_days)[:, None] >= fleet.conversion_day[None, :]
    return Lighting(
        conventional=world(fleet.kw, smart=False),
        smart=world(fleet.kw * led, smart=True),
        converted=converted,
        fault_day=fault_day,
        fault_lamp=fault_lamp,
        fault_kind=kind,
    )


def _on_working_day(done: np.ndarray, restart: np.ndarray, working: np.ndarray) -> np.ndarray:
    """Repairs that would finish on a day without crews finish on the next working day."""
    day = np.minimum((done // 24).astype(int), working.size - 1)
    next_working = np.empty(working.size, dtype=int)
    upcoming = working.size  # after the study, crews are back
    for d in range(working.size - 1, -1, -1):
        upcoming = d if working[d] else upcoming
        next_working[d] = upcoming
    held = ~working[day] & (done < 24 * working.size)
    return np.where(held, 24.0 * next_working[day] + restart, done)


def _adjust_energy(
    kwh: np.ndarray,
    kw: np.ndarray,
    hours: np.ndarray,
    noise: np.ndarray,
    f: int,
    lamp: np.ndarray,
    failed: np.ndarray,
    repaired: np.ndarray,
    kind: np.ndarray,
) -> None:
    """A dark lamp loses its burning hours; a day-burning one adds its daylight hours.

    Night ``d``'s reading covers noon on day ``d`` to noon on day ``d + 1``; the lamp burns
    for ``hours[d]`` centred on midnight.
    """
    i, start, end = lamp[f], failed[f], repaired[f]
    last = min(int(end // 24), kwh.shape[0] - 1)
    for d in range(max(int(start // 24) - 1, 0), last + 1):
        half = hours[d, i] / 2
        midnight = 24.0 * (d + 1)
        on = max(0.0, min(end, midnight + half) - max(start, midnight - half))
        if FAULT_TYPES[kind[f]] in DARK_FAULTS:
            kwh[d, i] -= kw[i] * on * noise[d, i]
        elif FAULT_TYPES[kind[f]] == "day burning":
            metered = max(0.0, min(end, midnight + 12) - max(start, midnight - 12))
            kwh[d, i] += kw[i] * (metered - on) * noise[d, i]


def write_energy(path: Path, rng: np.random.Generator, fleet: Fleet, lighting: Lighting) -> None:
    """Nightly readings of every meter that was up, sorted by night; a few rows damaged."""
    kwh = lighting.observed_kwh()
    n_days = kwh.shape[0]
    down = np.zeros_like(kwh, dtype=bool)
    for day, lamp in np.argwhere(rng.random(kwh.shape) < METER_OUTAGE_START):
        down[day : day + int(rng.integers(1, 6)), lamp] = True
    day, lamp = np.nonzero(~down)
    dates = np.datetime_as_string(np.datetime64(design.START) + np.arange(n_days), unit="D")
    frame = pl.DataFrame(
        {
            "lamppost_id": np.array(fleet.ids)[lamp],
            "night_date": dates[day],
            "kwh": kwh[day, lamp],
            "meter_id": np.array(fleet.meters)[lamp],
        }
    )
    lines = frame.write_csv(float_precision=2).splitlines()
    damages = [
        lambda row: _set(row, 2, "ERR"),
        lambda row: _set(row, 2, ""),
        lambda row: _set(row, 2, "-1.20"),
        lambda row: _set(row, 0, "ZZ9999"),
        lambda row: _set(row, 1, "2026-02-30"),
        lambda row: _set(row, 3, "LM999999"),
        lambda row: row + ",1",
    ]
    rows = rng.choice(np.arange(1, len(lines)), 6 * len(damages), replace=False)
    for count, row in enumerate(rows):
        lines[row] = damages[count % len(damages)](lines[row])
    repeats = [lines[int(row)] for row in rng.choice(np.arange(1, len(lines)), 5, replace=False)]
    path.write_text("\n".join(lines + repeats) + "\n", encoding="utf-8")


def write_work_orders(
    path: Path, rng: np.random.Generator, fleet: Fleet, days: Days, lighting: Lighting
) -> None:
    """The faults reported during the study, exported three weeks after it ended."""
    index, reported, repaired, smart = lighting.observed_faults()
    within = reported < 24 * days.count
    index, reported, repaired, smart = (
        index[within],
        reported[within],
        repaired[within],
        smart[within],
    )
    order = np.argsort(reported)
    index, reported, repaired, smart = index[order], reported[order], repaired[order], smart[order]
    start = np.datetime64(design.START, "m")

    def stamp(hours: np.ndarray) -> np.ndarray:
        text = np.datetime_as_string(start + np.round(hours * 60).astype("int64"), unit="m")
        return np.char.replace(text, "T", " ")

    export = 24 * (days.count + EXPORT_AFTER_END.days)
    phones = [
        f"{rng.integers(5, 10)}{rng.integers(0, 1000):03d} {rng.integers(0, 10_000):04d}"
        for _ in index
    ]
    contact = np.where(
        smart,
        "SLMS alarm",
        np.where(
            rng.random(index.size) < 0.55, [f"1823 caller {p}" for p in phones], "HyD night patrol"
        ),
    )
    frame = pl.DataFrame(
        {
            "work_order_id": [f"LM26{k:06d}" for k in range(1, index.size + 1)],
            "lamppost_id": np.array(fleet.ids)[lighting.fault_lamp[index]],
            "fault_reported_at": stamp(reported),
            "repaired_at": np.where(repaired <= export, stamp(repaired), ""),
            "fault_type": np.array(FAULT_TYPES)[lighting.fault_kind[index]],
            "reporter_contact": contact,
        }
    )
    lines = frame.write_csv().splitlines()
    damages = [
        lambda row: _set(row, 3, "2026-01-01 00:00"),
        lambda row: _set(row, 4, "vandalism"),
        lambda row: _set(row, 2, "02/03/2026 21:15"),
        lambda row: _set(row, 1, "ZZ9999"),
        lambda row: _set(row, 0, lines[1].split(",")[0]),
    ]
    for row, damage in zip(
        rng.choice(np.arange(2, len(lines)), len(damages), replace=False), damages, strict=True
    ):
        lines[row] = damage(lines[row])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)
