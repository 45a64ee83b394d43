"""Tests for the autonomous-shuttle simulator and the trial design it shares with the demo spec.

Most tests read one simulated data set through the adapter, as an analysis would. Its seed is
the first whose weather brings signal 8 or black rain on an AV day, so that the AV's stand-down
can be seen (the simulator draws the season's warnings first from its seeded generator).
"""

from __future__ import annotations

import csv
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from livinglab.errors import InputError
from pilots.autonomous_vehicles import PILOT, design
from pilots.autonomous_vehicles.metrics import METRICS
from pilots.autonomous_vehicles.simulator import simulate_autonomous_vehicles
from pilots.autonomous_vehicles.trip_log import TRIP_COLUMNS
from pilots.calendar import (
    hong_kong_public_holidays,
    read_weather_warnings,
    severe_weather_days,
    simulate_weather_warnings,
)
from pilots.contract import Observations
from tests.cli_helpers import simulation_fixtures

EFFECT = 0.08
RAW_FILES = (
    "fleet.csv",
    "trip_log.csv",
    "disengagements_2026.csv",
    "mileage_2026.csv",
    "weather_warnings.csv",
    "truth.json",
)


def _severe_days(seed: int) -> list[date]:
    warnings = simulate_weather_warnings(
        np.random.default_rng(seed), design.BASELINE_START, design.END
    )
    return list(severe_weather_days(warnings))


SEED = next(seed for seed in range(100) if set(_severe_days(seed)) & set(design.AV_DAYS))
SEVERE_DAYS = _severe_days(SEED)


data, truth, observations = simulation_fixtures(PILOT, seed=SEED, effect=EFFECT)


@pytest.fixture(scope="module")
def trips(data: Path) -> pl.DataFrame:
    """The trip log as the adapter accepts it: one row per trip, Hong Kong departures."""
    from pilots.autonomous_vehicles.fleet import load_fleet
    from pilots.autonomous_vehicles.trip_log import load_trips

    return load_trips(data, load_fleet(data)).trips.with_columns(day=pl.col("timestamp").dt.date())


def test_design_schedule_is_balanced_within_weekday_pairs() -> None:
    assert len(design.AV_DAYS) == len(design.CONVENTIONAL_DAYS) == 42
    assert design.draw_schedule() == design.AV_DAYS
    av = set(design.AV_DAYS)
    for weekday in range(7):
        assert sum(day.weekday() == weekday for day in av) == 6
    for day in design.TRIAL_DAYS[: 7 * 2 * 6 : 14]:
        for offset in range(7):
            first = day + timedelta(days=offset)
            assert (first in av) != (first + timedelta(weeks=1) in av)


def test_demo_spec_lists_exactly_the_design_schedule() -> None:
    spec = tomllib.loads(PILOT.demo_spec.read_text())
    assert spec["pilot"] == PILOT.id
    assert spec["arms"]["assigned_by"] == "day"
    assert spec["arms"]["treated"] == [day.isoformat() for day in design.AV_DAYS]
    assert spec["arms"]["control"] == [day.isoformat() for day in design.CONVENTIONAL_DAYS]
    assert spec["treatment"]["start"] == design.TRIAL_START
    assert spec["windows"] == {
        "pre": [design.BASELINE_START, design.TRIAL_START - timedelta(days=1)],
        "post": [design.TRIAL_START, design.END],
    }
    assert spec["analysis"]["options"]["design"] == "switchback"
    assert spec["analysis"]["exclude_days"] == ["severe_weather"]
    assert spec["metrics"][0] == {"name": METRICS[0].name, "role": "primary"}


def test_raw_files_are_written_in_their_layouts(data: Path) -> None:
    assert sorted(path.name for path in data.iterdir()) == sorted(RAW_FILES)
    header = (data / "trip_log.csv").read_text().splitlines()[0].split(",")
    assert set(TRIP_COLUMNS) <= set(header)
    assert "licence_no" in header
    with (data / "disengagements_2026.csv").open(newline="") as report:
        dmv_header = next(csv.reader(report))
    assert dmv_header[4] == "VEHICLE IS CAPABLE OF OPERATING WITHOUT A DRIVER\n(Yes or No)"
    assert dmv_header[6].startswith("DISENGAGEMENT INITIATED BY\n(AV System")
    mileage = (data / "mileage_2026.csv").read_text().splitlines()
    assert mileage[0].split(",")[3:6] == ["DEC 2025", "JAN 2026", "FEB 2026"]
    assert len(mileage) == 4  # the three AVs
    assert sum(path.stat().st_size for path in data.iterdir()) < 30_000_000


def test_simulation_is_deterministic_for_a_seed(data: Path, tmp_path: Path) -> None:
    simulate_autonomous_vehicles(tmp_path / "again", seed=SEED, effect=EFFECT)
    for name in RAW_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (data / name).read_bytes(), name
    simulate_autonomous_vehicles(tmp_path / "other", seed=SEED + 1, effect=EFFECT)
    assert (tmp_path / "other" / "trip_log.csv").read_bytes() != (
        data / "trip_log.csv"
    ).read_bytes()


def test_truth_has_every_metric_and_the_requested_effect(truth: dict[str, Any]) -> None:
    assert truth["pilot"] == "autonomous_vehicles"
    assert truth["seed"] == SEED
    assert truth["effect_parameter"] == EFFECT
    assert truth["treatment_start"] == design.TRIAL_START.isoformat()
    assert truth["av_days"] == [day.isoformat() for day in design.AV_DAYS]
    assert truth["severe_weather_days"] == [day.isoformat() for day in SEVERE_DAYS]
    in_trial = [day for day in SEVERE_DAYS if day >= design.TRIAL_START]
    assert truth["analysed_days"] == 84 - len(in_trial)
    metrics = truth["metrics"]
    assert set(metrics) == {metric.name for metric in METRICS}
    primary = metrics["journey_time_min"]
    assert primary["relative"] == pytest.approx(EFFECT, abs=0.002)
    assert primary["effect"] == pytest.approx(EFFECT * primary["counterfactual_mean"], rel=0.03)
    for name in ("on_time_share", "passengers_per_hour", "safety_events_per_1000_km"):
        assert set(metrics[name]) == {"effect", "relative", "counterfactual_mean"}
        assert isinstance(metrics[name]["effect"], float)
    assert metrics["on_time_share"]["effect"] > 0  # the AV keeps to the timetable
    assert metrics["passengers_per_hour"]["effect"] < 0  # fewer seats, longer trips
    disengagements = metrics["disengagements_per_1000_km"]
    assert disengagements["effect"] is None
    assert 0.5 < disengagements["av_rate"] < 20


def test_no_effect_means_the_same_mean_journey_time(tmp_path: Path) -> None:
    truth = simulate_autonomous_vehicles(tmp_path, seed=SEED, effect=0.0)
    assert truth["metrics"]["journey_time_min"]["relative"] == pytest.approx(0.0, abs=0.002)


def test_the_av_runs_exactly_its_scheduled_days_except_in_severe_weather(
    trips: pl.DataFrame,
) -> None:
    ran = trips.group_by("day").agg(pl.col("vehicle_type").unique())
    av_days = set(ran.filter(pl.col("vehicle_type").list.contains("autonomous"))["day"])
    assert set(SEVERE_DAYS) & set(design.AV_DAYS)
    assert av_days == set(design.AV_DAYS) - set(SEVERE_DAYS)
    assert all(len(kinds) == 1 for kinds in ran["vehicle_type"])  # never mixed within a day
    assert min(trips["day"]) == design.BASELINE_START
    assert max(trips["day"]) == design.END


def test_severe_weather_suspends_service_and_stands_the_av_down(
    data: Path, trips: pl.DataFrame, observations: Observations
) -> None:
    """No trip departs while signal 8 is up; the AV does not run at all on such a day."""
    warnings, _ = read_weather_warnings(data / "weather_warnings.csv")
    departures = trips["timestamp"].dt.replace_time_zone(None)
    for warning in (w for w in warnings if w.severe):
        assert not ((departures >= warning.issued) & (departures < warning.cancelled)).any()
    on_severe_days = trips.filter(pl.col("day").is_in(SEVERE_DAYS))
    assert on_severe_days.height < 0.8 * len(SEVERE_DAYS) * design.TRIPS_PER_DAY
    assert observations.checks["severe_weather"]["av_trips_on_those_days"] == 0
    assert observations.checks["severe_weather"]["severe_weather_days"] == len(SEVERE_DAYS)


def test_weekends_and_public_holidays_bring_more_passengers(trips: pl.DataFrame) -> None:
    holidays = list(hong_kong_public_holidays(design.BASELINE_START, design.END))
    conventional = trips.filter(pl.col("vehicle_type") == "conventional")
    weekday = pl.col("day").dt.weekday() <= 5
    working = conventional.filter(weekday & ~pl.col("day").is_in(holidays))["passengers"].mean()
    weekend = conventional.filter(~weekday)["passengers"].mean()
    holiday = conventional.filter(weekday & pl.col("day").is_in(holidays))["passengers"].mean()
    assert weekend > 1.05 * working
    assert holiday > 1.1 * working


def test_disengagements_fall_as_the_system_matures(observations: Observations) -> None:
    table = observations.table.collect().with_columns(day=pl.col("timestamp").dt.date())
    first, last = design.TRIAL_START + timedelta(weeks=3), design.END - timedelta(weeks=3)

    def rate(period: pl.Expr) -> float:
        rows = table.filter(period)
        events = rows.filter(pl.col("field") == "disengagement").height
        return 1000 * events / rows.filter(pl.col("field") == "km_auto")["value"].sum()

    assert rate(pl.col("day") < first) > rate(pl.col("day") > last)


def test_logger_outages_and_damaged_lines_reach_data_health(observations: Observations) -> None:
    health = observations.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert {
        "start_ts is not an ISO-8601 timestamp with offset, e.g. 2026-01-05T08:00:00+08:00",
        "passengers is not a number",
        "end_ts is not after start_ts",
        "expected 14 fields, found 15",
        "vehicle_type is not autonomous or conventional",
        "vehicle_id is not in fleet.csv",
        "trip_id repeats an earlier trip",
        "VIN NUMBER is not an autonomous vehicle in fleet.csv",
        "DISENGAGEMENT INITIATED BY is not AV System, Test Driver, Remote Operator or Passenger",
    } <= set(health["quarantine_reasons"])
    trip_log = health["files"]["trip_log.csv"]
    assert trip_log["rows_accepted"] > 200 * trip_log["rows_quarantined"]
    assert health["disengagements"]["padding_rows_skipped"] == 2
    assert len(health["disengagements"]["date_formats"]) == 5
    assert 0.95 < health["mileage"]["trip_log_share_of_returned_km"] < 1.0  # outages lose km
    assert health["service"]["av_trips_over_50_kmh"] > 0


def test_an_implausible_effect_is_rejected_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"effect: -0\.70 is outside -0\.50 to \+1\.00"):
        simulate_autonomous_vehicles(tmp_path / "out", seed=SEED, effect=-0.7)
    assert not (tmp_path / "out").exists()
