"""Tests for the smart-bins simulator, mostly on the session's simulated data set (seed 7)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from livinglab.errors import InputError
from pilots.calendar import hong_kong_public_holidays
from pilots.contract import Observations
from pilots.csv_reading import read_csv_strings
from pilots.smart_bins import design
from pilots.smart_bins.adapter import LOG_COLUMNS, load_smart_bins
from pilots.smart_bins.metrics import METRICS
from pilots.smart_bins.simulator import simulate_smart_bins
from tests.conftest import SIMULATED_EFFECT, SIMULATION_SEED

RAW_FILES = ("bins.csv", "readings.csv", "collections.csv", "truth.json")


@pytest.fixture(scope="module")
def observations(smart_bins_data: Path) -> Observations:
    return load_smart_bins(smart_bins_data)


@pytest.fixture(scope="module")
def log(smart_bins_data: Path) -> pl.DataFrame:
    """The collection log as strings, with Hong Kong date, weekday (Monday = 0) and hour."""
    rows = read_csv_strings(smart_bins_data / "collections.csv", LOG_COLUMNS).rows
    return rows.with_columns(
        day=pl.col("collected_at").str.slice(0, 10).str.to_date(),
        hour=pl.col("collected_at").str.slice(11, 2).cast(pl.Int32),
    ).with_columns(weekday=pl.col("day").dt.weekday() - 1)


@pytest.fixture(scope="module")
def fills(observations: Observations) -> pl.DataFrame:
    return (
        observations.table.filter(pl.col("field") == "fill_level")
        .collect()
        .sort("unit", "timestamp")
    )


def test_inventory_has_at_least_120_bins_on_12_routes(observations: Observations) -> None:
    units = observations.units
    assert units.height >= 120
    assert units["unit"].n_unique() == units.height
    assert units["dev_id"].n_unique() == units.height
    assert units["route"].n_unique() >= 12
    assert set(units["route"]) == set(design.ROUTES)
    assert units.group_by("route").len()["len"].to_list() == [design.BINS_PER_ROUTE] * 12
    assert observations.health()["files"]["bins.csv"]["rows_quarantined"] == 0


def test_half_the_routes_are_treated(smart_bins_truth: dict[str, Any]) -> None:
    assert len(design.TREATED_ROUTES) * 2 == len(design.ROUTES)
    assert set(design.TREATED_ROUTES) | set(design.CONTROL_ROUTES) == set(design.ROUTES)
    assert not set(design.TREATED_ROUTES) & set(design.CONTROL_ROUTES)
    assert smart_bins_truth["treated_routes"] == list(design.TREATED_ROUTES)
    assert smart_bins_truth["treatment_start"] == design.TREATMENT_START.isoformat()


def test_readings_span_at_least_26_weeks_in_hong_kong_time(fills: pl.DataFrame) -> None:
    days = fills["timestamp"].dt.date()
    assert days.min() == design.START
    assert days.max() == design.END
    assert days.max() - days.min() >= timedelta(weeks=26) - timedelta(days=1)
    assert fills["timestamp"].dt.truncate("1w").n_unique() >= 26
    assert days.n_unique() == 26 * 7


def test_truth_reports_every_metric_and_the_requested_effect(
    smart_bins_truth: dict[str, Any],
) -> None:
    assert smart_bins_truth["pilot"] == "smart_bins"
    assert smart_bins_truth["seed"] == SIMULATION_SEED
    assert smart_bins_truth["effect_parameter"] == SIMULATED_EFFECT
    metrics = smart_bins_truth["metrics"]
    assert set(metrics) == {
        "collections_per_bin_week",
        "fill_at_collection",
        "overflow_per_1000_bin_days",
    }
    for values in metrics.values():
        assert isinstance(values["effect"], float)
        assert isinstance(values["relative"], float)
    (primary,) = [m.name for m in METRICS if m.default_role == "primary"]
    assert metrics[primary]["relative"] == pytest.approx(SIMULATED_EFFECT, abs=0.02)
    assert metrics[primary]["effect"] < 0


def test_truth_matches_the_collection_log(
    smart_bins_data: Path, smart_bins_truth: dict[str, Any]
) -> None:
    """Treated bins' logged collections after rollout average exactly what truth.json reports.

    Counted on the raw lines, so the few log lines the simulator damages still count.
    """
    lines = (smart_bins_data / "collections.csv").read_text().splitlines()[1:]
    post = [
        line
        for line in lines
        if line.split(",")[1] in design.TREATED_ROUTES
        and line.split(",")[3][:10] >= design.TREATMENT_START.isoformat()
    ]
    post_weeks = (design.END - design.TREATMENT_START).days // 7 + 1
    treated_bins = len(design.TREATED_ROUTES) * design.BINS_PER_ROUTE
    truth = smart_bins_truth["metrics"]["collections_per_bin_week"]
    assert len(post) / (treated_bins * post_weeks) == pytest.approx(
        truth["counterfactual_mean"] + truth["effect"], abs=1e-5
    )


def test_simulated_readings_contain_rows_the_adapter_quarantines(
    observations: Observations,
) -> None:
    health = observations.health()
    readings = health["files"]["readings.csv"]
    assert readings["rows_quarantined"] > 0
    assert readings["rows_accepted"] > 100 * readings["rows_quarantined"]
    assert health["files"]["collections.csv"]["rows_quarantined"] > 0
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert observations.quarantine.height == health["rows_quarantined"]
    reasons = set(health["quarantine_reasons"])
    assert {
        "dev_id is empty",
        "dev_id is not in bins.csv",
        "filllevel is not a number",
        "filllevel is outside 0 to 100",
        "expected 7 fields, found 8",
    } <= reasons


def test_collections_follow_the_fixed_schedule_except_treated_routes_after_rollout(
    log: pl.DataFrame,
) -> None:
    """Control routes (and treated ones before rollout) only collect on their scheduled weekdays;
    sensor-driven routes also collect on other days once the treatment starts."""
    fixed = log.filter(
        pl.col("route").is_in(design.CONTROL_ROUTES) | (pl.col("day") < design.TREATMENT_START)
    )
    for route, weekdays in design.SCHEDULES.items():
        seen = set(fixed.filter(pl.col("route") == route)["weekday"])
        assert seen <= set(weekdays), route
        assert seen, route
    sensor_driven = log.filter(
        pl.col("route").is_in(design.TREATED_ROUTES) & (pl.col("day") >= design.TREATMENT_START)
    )
    for route in design.TREATED_ROUTES:
        seen = set(sensor_driven.filter(pl.col("route") == route)["weekday"])
        if len(design.SCHEDULES[route]) < 7:
            assert seen - set(design.SCHEDULES[route]), route
    assert set(log["hour"]) == {6, 8, 10}  # trucks pass at 06:00, 08:00 or 10:00


def _fill_increase_by_day(fills: pl.DataFrame) -> pl.DataFrame:
    """Fill increases between consecutive two-hourly readings with no collection or clipping."""
    return (
        fills.with_columns(
            increase=pl.col("value").diff().over("unit"),
            gap=pl.col("timestamp").diff().over("unit"),
            day=pl.col("timestamp").dt.date(),
        )
        .filter(
            (pl.col("gap") == timedelta(hours=2))
            & (pl.col("increase") > -10)
            & (pl.col("value") < 100)
        )
        .with_columns(weekday=pl.col("day").dt.weekday())
    )


def test_more_waste_arrives_at_weekends_and_on_public_holidays(fills: pl.DataFrame) -> None:
    """Weekends bring 25% more waste and holidays 30% more; both show clearly in the readings."""
    increases = _fill_increase_by_day(fills)
    holidays = list(hong_kong_public_holidays(design.START, design.END))
    weekend = increases.filter(pl.col("weekday") >= 6)["increase"].mean()
    weekdays = increases.filter(pl.col("weekday") <= 5)
    working_day = weekdays.filter(~pl.col("day").is_in(holidays))["increase"].mean()
    holiday = weekdays.filter(pl.col("day").is_in(holidays))["increase"].mean()
    assert weekend > 1.1 * working_day
    assert holiday > 1.1 * working_day


def test_hong_kong_public_holidays_2026() -> None:
    """Dates as given by the ``holidays`` package for Hong Kong (default category)."""
    calendar = hong_kong_public_holidays(date(2026, 1, 1), date(2026, 12, 31))
    assert calendar[date(2026, 1, 1)] == "New Year's Day"
    assert calendar[date(2026, 2, 17)] == "Chinese New Year"
    assert date(2026, 2, 18) in calendar
    assert date(2026, 2, 19) in calendar
    assert date(2026, 12, 25) in calendar
    assert date(2026, 2, 16) not in calendar
    assert list(calendar) == sorted(calendar)
    assert all(day.year == 2026 for day in calendar)


def test_hong_kong_public_holidays_respects_the_date_range() -> None:
    calendar = hong_kong_public_holidays(date(2026, 1, 2), date(2026, 2, 18))
    assert list(calendar) == [date(2026, 2, 17), date(2026, 2, 18)]


def test_simulation_is_deterministic_for_a_seed(
    tmp_path: Path, smart_bins_data: Path, smart_bins_truth: dict[str, Any]
) -> None:
    """Simulating again with the session's seed and effect writes byte-identical files."""
    truth = simulate_smart_bins(tmp_path, seed=SIMULATION_SEED, effect=SIMULATED_EFFECT)
    assert truth == smart_bins_truth
    for name in RAW_FILES:
        assert (tmp_path / name).read_bytes() == (smart_bins_data / name).read_bytes(), name


def test_another_seed_gives_other_data(tmp_path: Path, smart_bins_data: Path) -> None:
    simulate_smart_bins(tmp_path, seed=SIMULATION_SEED + 1, effect=SIMULATED_EFFECT)
    assert (tmp_path / "readings.csv").read_bytes() != (
        smart_bins_data / "readings.csv"
    ).read_bytes()


def test_effect_the_trigger_cannot_reach_is_rejected_with_the_achievable_range(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        InputError, match=r"by -0\.\d\d to \+0\.\d\d \(relative\); -0\.79 is outside"
    ):
        simulate_smart_bins(tmp_path / "out", seed=SIMULATION_SEED, effect=-0.79)
    assert not (tmp_path / "out").exists()
