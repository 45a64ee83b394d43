"""A trial's data joined to its registration: arms, staggered starts, exclusions, health."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

from evaluation.result import Estimate
from experiments.analysis import MetricResult, evaluate_trial, unreachable_significance
from experiments.portfolio import portfolio, trial_evidence
from experiments.spec import parse_spec
from experiments.store import TrialStore
from experiments.tracking import Tracker
from experiments.trial_data import metric_panel, prepare_trial_data
from pilots.calendar import event_calendar, read_weather_warnings
from pilots.contract import HONG_KONG
from pilots.smart_bins import PILOT
from pilots.smart_bins.metrics import COLLECTIONS
from tests.conftest import SMART_BINS_SPEC


def spec_with(**changes: object) -> object:
    data = tomllib.loads(SMART_BINS_SPEC.read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    return parse_spec(data)


def test_excluded_calendar_days_leave_the_table_and_are_counted(smart_bins_data: Path) -> None:
    spec = spec_with(analysis__exclude_days=["public_holiday", "severe_weather"])
    observations = PILOT.adapter(smart_bins_data)
    data = prepare_trial_data(spec, observations, smart_bins_data)
    warnings, _ = read_weather_warnings(smart_bins_data / "weather_warnings.csv")
    calendar = event_calendar(*spec.window, warnings)
    excluded = calendar.filter(pl.col("public_holiday") | pl.col("severe_weather"))["date"]
    day = pl.col("timestamp").dt.convert_time_zone(HONG_KONG).dt.date()
    everything = observations.table.collect()
    kept = data.table.collect()
    on_excluded = everything.filter(day.is_in(excluded.implode())).height
    assert on_excluded > 0
    assert kept.height == everything.height - on_excluded
    assert kept.filter(day.is_in(excluded.implode())).height == 0
    health = data.health["calendar"]
    assert health["days_excluded"] == excluded.len()
    assert health["rows_excluded"] == on_excluded
    assert health["public_holidays"] == int(calendar["public_holiday"].sum())
    assert len(health["events"]) == calendar["event"].drop_nulls().len()


def test_staggered_starts_by_route_become_cohorts(smart_bins_data: Path) -> None:
    # Three treated routes start on 30 March, three on 27 April (both Mondays: no straddling).
    late = ["R08", "R10", "R11"]
    starts = {r: date(2026, 4, 27) if r in late else date(2026, 3, 30) for r in spec_treated()}
    spec = spec_with(treatment={"start_by_unit": starts}, planned_method="staggered", analysis={})
    data = prepare_trial_data(spec, PILOT.adapter(smart_bins_data), smart_bins_data)
    panel, options = metric_panel(data, COLLECTIONS, "staggered")
    assert options == {}
    cohorts = panel.frame.group_by("cluster").agg(pl.col("cohort").first()).sort("cluster")
    first_week = date(2026, 1, 5)
    by_route = dict(cohorts.rows())
    assert by_route["R02"] == (date(2026, 3, 30) - first_week).days // 7  # week 12
    assert by_route["R08"] == (date(2026, 4, 27) - first_week).days // 7  # week 16
    assert by_route["R01"] is None  # a control route is never treated
    assert panel.notes == ()


def spec_treated() -> list[str]:
    return tomllib.loads(SMART_BINS_SPEC.read_text())["arms"]["treated"]


def test_robustness_runs_are_tracked_apart_from_the_registered_results(
    home: Path, smart_bins_data: Path
) -> None:
    spec = spec_with()
    registration, _ = TrialStore(home).register(spec, SMART_BINS_SPEC.read_text())
    tracker = Tracker(home)
    evaluation = evaluate_trial(registration, smart_bins_data, tracker, seed=1)
    (check,) = evaluation.robustness
    assert (check.definition.name, check.estimate.method, check.role) == (
        "collections_per_bin_week",
        "did",
        "robustness",
    )
    runs = {run.run_id: run for run in tracker.runs(spec.id)}
    assert runs[check.run_id].tag("role") == "robustness"
    # Every run keeps the trial's sites for the map: 120 bins, 60 per arm, with coordinates.
    sites = tracker.sites(check.run_id)
    assert len(sites) == 120
    assert sum(site["arm"] == "treated" for site in sites) == 60
    assert all(22.1 < site["lat"] < 22.6 and 113.8 < site["lon"] < 114.5 for site in sites)
    assert evaluation.data_health["districts"] == sorted({site["district"] for site in sites})
    assert runs[check.run_id].tag("method") == "did"
    # The portfolio and the trial page show the registered method, with the check beside it.
    (row,) = portfolio(home)
    primary = evaluation.results[0]
    assert row.effect == primary.estimate.effect
    evidence = trial_evidence(home, spec.id)
    assert [m.estimate.method for m in evidence.metrics] == ["randomized"] * 3
    assert [(method, run_id) for method, _, run_id in evidence.robustness] == [
        ("did", check.run_id)
    ]


def test_a_before_after_analysis_adjusts_for_the_share_of_holidays_in_each_week(
    smart_bins_data: Path,
) -> None:
    spec = spec_with(planned_method="prepost", analysis={"adjust_for": ["public_holiday"]})
    data = prepare_trial_data(spec, PILOT.adapter(smart_bins_data), smart_bins_data)
    panel, _ = metric_panel(data, COLLECTIONS, "prepost")
    assert panel.covariates == ("public_holiday_share",)
    shares = dict(panel.frame.select("time", "public_holiday_share").unique().rows())
    week_of = {day: index for index, day in enumerate(panel.times)}
    # Chinese New Year 2026 falls on Tuesday 17 to Thursday 19 February: 3 of that week's 7 days.
    assert shares[week_of[date(2026, 2, 16)]] == 3 / 7
    assert shares[week_of[date(2026, 1, 12)]] == 0.0
    # Other methods compare with controls that share the calendar: no adjustment for them.
    assert metric_panel(data, COLLECTIONS, "did")[0].covariates == ()


def synth_result(name: str, role: str, p_adjusted: float) -> MetricResult:
    estimate = Estimate(
        "synth", "", 1.0, 0.5, 0.1, 1.9, 1 / 41, 0.1, 100, 41, 1, details={"p_value_min": 1 / 41}
    )
    return MetricResult(replace(COLLECTIONS, name=name), role, None, estimate, "run", p_adjusted)


def test_a_holm_family_that_no_placebo_p_value_can_clear_is_flagged() -> None:
    spec = spec_with(multiple_testing="holm")
    three = [synth_result(n, r, 0.07) for n, r in (("a", "primary"), ("b", "secondary"))] + [
        synth_result("c", "secondary", 0.07)
    ]
    # 40 donors: p >= 1/41 = 0.0244; Holm over three metrics: 3/41 = 0.073 > 0.05.
    (warning,) = unreachable_significance(three, spec)
    assert "cannot fall below 0.0732" in warning
    # Two metrics: 2/41 = 0.049 can still clear 0.05; a guardrail is outside the family.
    two = [*three[:2], replace(three[2], role="guardrail")]
    assert unreachable_significance(two, spec) == ()
    assert unreachable_significance(three, spec_with(multiple_testing="bh")) == ()
