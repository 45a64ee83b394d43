"""The Trial page's tables and sentences, built from small hand-made evidence (no store)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from evaluation.result import Estimate
from experiments import charts
from experiments import trial_design as design
from experiments import trial_diagnostics as diagnostics
from experiments import trial_report as report
from experiments import trial_results as results
from experiments.portfolio import MetricEvidence, TrialEvidence
from experiments.spec import load_spec, trial_pilot
from experiments.store import Registration
from tests.conftest import PROJECT, SMART_BINS_SPEC

LAMPPOSTS_SPEC = PROJECT / "experiments" / "trials" / "smart_lampposts.toml"
SHUTTLE_SPEC = PROJECT / "experiments" / "trials" / "autonomous_vehicles.toml"
START = date(2026, 3, 30)  # the smart-bins trial's start


def estimate(method: str = "randomized", effect: float | None = -1.5, **details: Any) -> Estimate:
    interval = (effect - 0.5, effect + 0.5) if effect is not None else (None, None)
    return Estimate(
        method=method,
        estimand="ATT",
        effect=effect,
        se=0.25 if effect is not None else None,
        ci_low=interval[0],
        ci_high=interval[1],
        p_value=0.01 if effect is not None else None,
        relative_effect=effect / 5 if effect is not None else None,
        n_obs=100,
        n_units=12,
        n_treated=6,
        status="ok" if effect is not None else "cannot_estimate",
        message="" if effect is not None else "no control units",
        details=details,
    )


def evidence(
    path: Path = SMART_BINS_SPEC,
    estimates: dict[str, Estimate] | None = None,
    robustness: tuple[tuple[str, Estimate, str], ...] = (),
    health: dict[str, Any] | None = None,
) -> TrialEvidence:
    spec, _ = load_spec(path)
    pilot = trial_pilot(spec)
    estimates = estimates or {}
    metrics = tuple(
        MetricEvidence(role, pilot.metric(role.name), estimates.get(role.name, estimate()), f"r{i}")
        for i, role in enumerate(spec.metrics)
    )
    registration = Registration(spec, "0" * 64, "2026-01-01T00:00:00Z", "tester")
    return TrialEvidence(
        registration, pilot.name, "a1", None, metrics, health or {}, robustness=robustness
    )


def check(name: str, status: str, **details: Any) -> dict[str, Any]:
    return {
        "name": name,
        "null_hypothesis": f"H0 of {name}",
        "status": status,
        "statistic": None,
        "p_value": 0.2,
        "message": f"{name} says {status}",
        "details": details,
    }


def health(coverage: float = 0.95, quarantined: int = 10, flag: bool = False) -> dict[str, Any]:
    return {
        "rows_read": 1000,
        "rows_accepted": 1000 - quarantined,
        "rows_quarantined": quarantined,
        "coverage": [
            {
                "label": "Fill-level readings",
                "coverage": coverage,
                "sensor_ratio_mismatch": {"flag": flag, "message": "m"},
            }
        ],
    }


SITES = [
    {"unit": "B1", "arm": "treated", "start": "2026-03-30", "district": "Sha Tin", "lat": 22.38},
    {
        "unit": "B2",
        "arm": "control",
        "start": None,
        "district": "Sha Tin",
        "lat": 22.3,
        "lon": 114.1,
    },
    {"unit": "B3", "arm": "treated", "start": "2026-03-30", "district": None},
]


def test_only_sites_with_both_coordinates_go_on_the_map() -> None:
    mapped = design.mapped_sites(SITES)
    assert [site["unit"] for site in mapped] == ["B2"]
    assert mapped[0]["arm"] == "Control"
    figure = charts.sites_map_figure(mapped, title="Sites")
    assert figure.data[0].lat == (22.3,)
    assert figure.layout.map.style == "open-street-map"  # no token needed


def test_districts_count_units_per_arm_with_unknown_districts_named() -> None:
    assert design.district_rows(SITES) == [
        {"District": "Sha Tin", "Treated units": 1, "Control units": 1},
        {"District": "not recorded", "Treated units": 1, "Control units": 0},
    ]


def test_timeline_of_a_common_start_counts_groups_beyond_three() -> None:
    spec = evidence().spec
    rows = design.timeline_rows(spec, SITES)
    assert [row.kind for row in rows] == ["pre", "cohort", "post"]
    assert rows[1].stage == "6 routes treated (2 units)"
    assert (rows[1].start, rows[1].end) == (START, spec.post[1])
    assert (rows[0].start, rows[0].end) == spec.pre


def test_timeline_of_a_staggered_rollout_has_one_bar_per_cohort() -> None:
    spec, _ = load_spec(LAMPPOSTS_SPEC)
    sites = [{"unit": "L1", "arm": "treated", "start": "2026-05-04"}]
    cohorts = [row for row in design.timeline_rows(spec, sites) if row.kind == "cohort"]
    assert [(row.stage, row.start) for row in cohorts] == [
        ("Cohort P1 treated", date(2026, 3, 2)),
        ("Cohort P2 treated (1 unit)", date(2026, 5, 4)),
        ("Cohort P3 treated", date(2026, 7, 6)),
    ]
    assert design.first_start(spec) == date(2026, 3, 2)
    figure = charts.timeline_figure(design.timeline_rows(spec, sites), title="Rollout")
    assert len(figure.data) == 5


def test_timeline_of_a_switchback_names_the_day_counts_not_the_days() -> None:
    spec, _ = load_spec(SHUTTLE_SPEC)
    stages = [row.stage for row in design.timeline_rows(spec, [])]
    assert stages[1] == "Switchback: 42 days with, 42 without"


def test_effect_paths_are_the_gap_and_its_sum_from_the_start() -> None:
    series = {
        "period": ["2026-03-16", "2026-03-23", "2026-03-30", "2026-04-06", "2026-04-13"],
        "observed": [5.0, 5.0, 4.0, None, 3.0],
        "counterfactual": [4.5, 5.0, 5.0, 5.0, 5.0],
    }
    paths = report.effect_paths(series, START)
    assert paths is not None
    assert paths.pointwise == [0.5, 0.0, -1.0, None, -2.0]
    assert paths.cumulative == [0.0, 0.0, -1.0, -1.0, -3.0]  # the pre-period gap is not summed
    assert paths.pointwise_low is None
    assert paths.cumulative_high is None


def test_effect_paths_keep_a_methods_own_paths_and_intervals() -> None:
    series = {
        "period": ["2026-03-23", "2026-03-30"],
        "observed": [1.0, 2.0],
        "counterfactual": [1.0, 1.0],
        "pointwise_effect": [0.0, 1.0],
        "pointwise_low": [-0.5, 0.4],
        "pointwise_high": [0.5, 1.6],
        "cumulative_effect": [0.0, 1.0],
        "cumulative_low": [0.0, 0.4],
        "cumulative_high": [0.0, float("nan")],
    }
    paths = report.effect_paths(series, START)
    assert paths is not None
    assert paths.pointwise_low == [-0.5, 0.4]
    assert paths.cumulative_high == [0.0, None]  # non-finite numbers become gaps


def test_staggered_effect_series_is_used_as_the_pointwise_effect() -> None:
    series = {
        "period": ["2026-03-23", "2026-03-30", "2026-04-06"],
        "observed": [3.0, 2.0, 2.0],
        "counterfactual": [3.0, 3.0, 3.0],
        "effect": [0.0, -0.9, -1.1],
    }
    paths = report.effect_paths(series, START)
    assert paths is not None
    assert paths.pointwise == [0.0, -0.9, -1.1]
    assert paths.cumulative == pytest.approx([0.0, -0.9, -2.0])


def test_no_effect_path_when_no_period_after_the_start_has_both_series() -> None:
    switchback = {
        "period": ["2026-03-30", "2026-03-31"],
        "observed": [10.0, None],
        "counterfactual": [None, 9.0],
    }
    assert report.effect_paths(switchback, START) is None
    undated = {"period": ["p1", "p2"], "observed": [1.0, 2.0], "counterfactual": [1.0, 1.0]}
    assert report.effect_paths(undated, START) is None


def test_event_study_rows_are_sorted_with_the_reference_marked() -> None:
    rows = [
        {"event_time": 1, "estimate": 0.8, "ci_low": 0.5, "ci_high": 1.1},
        {"event_time": -1, "estimate": 0.0, "ci_low": 0.0, "ci_high": 0.0},
        {"event_time": -2, "estimate": 0.1, "ci_low": -0.2, "ci_high": 0.4},
    ]
    table, band = report.event_time_rows(
        estimate("event_study", event_times=rows, reference_period=-1), 0.05
    )
    assert [row["event_time"] for row in table] == [-2, -1, 1]
    assert [row["reference"] for row in table] == [False, True, False]
    assert band == "pointwise"
    figure = charts.event_study_figure(table, title="E", unit="kWh", band=band)
    assert list(figure.data[0].error_y.array) == pytest.approx([0.3, 0.0, 0.3])


def test_staggered_event_times_get_normal_or_uniform_intervals() -> None:
    dynamic = {"by": [{"event_time": 0, "att": -1.0, "se": 0.5}], "uniform_critical_value": None}
    details = {"aggregations": {"dynamic": dynamic}}
    table, band = report.event_time_rows(estimate("staggered", **details), 0.05)
    assert band == "pointwise"
    assert table[0]["ci_low"] == pytest.approx(-1.0 - 1.959964 * 0.5)
    uniform = {"aggregations": {"dynamic": dynamic | {"uniform_critical_value": 3.0}}}
    table, band = report.event_time_rows(estimate("staggered", **uniform), 0.05)
    assert (band, table[0]["ci_high"]) == ("uniform", pytest.approx(0.5))
    assert report.event_time_rows(estimate("did"), 0.05) == ([], "")


def test_donor_weights_come_largest_first_and_only_for_synth() -> None:
    synth = estimate("synth", weights={"Central": 0.2, "Tai Wai": 0.7, "Aberdeen": 0.1})
    rows = report.donor_weight_rows(synth)
    assert [row["Donor"] for row in rows] == ["Tai Wai", "Central", "Aberdeen"]
    assert report.donor_weight_rows(estimate("did", weights={"x": 1.0})) == []
    figure = charts.donor_weights_figure(rows, title="Donors")
    assert list(figure.data[0].y) == ["Aberdeen", "Central", "Tai Wai"]  # largest on top


def test_diagnostic_rows_carry_marker_and_null_and_end_with_data_health() -> None:
    rows = diagnostics.diagnostic_rows(
        [check("pre_trends", "fail"), check("placebo_in_space", "informational")], health()
    )
    assert [(row.title, row.marker) for row in rows] == [
        ("Pre-trend test", "❌ fail"),
        ("Placebo in space", "ℹ️ for information"),
        ("Data health", "✅ pass"),
    ]
    assert rows[0].null_hypothesis == "H0 of pre_trends"
    assert rows[0].to_dict()["Null hypothesis"] == "H0 of pre_trends"
    assert rows[2].null_hypothesis == diagnostics.DATA_HEALTH_NULL


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (health(flag=True), "fail", "differs between the arms for Fill-level readings"),
        (health(coverage=0.80), "warn", "Fill-level readings (80%)"),
        (health(quarantined=50), "warn", "more than 1% of rows quarantined"),
        (health(), "pass", "1.00% of 1,000 rows quarantined"),
        ({}, "not_applicable", "No data-health report"),
    ],
)
def test_data_health_is_judged_like_a_check(data: dict[str, Any], status: str, words: str) -> None:
    row = diagnostics.data_health_row(data)
    assert row.status == status
    assert words in row.reading


def test_placebo_distribution_and_balance_rows_read_the_check_details() -> None:
    placebos = [{"cluster": "A", "effect": 0.1}, {"cluster": "B", "effect": -0.2}]
    found = diagnostics.placebo_distribution(
        check("placebo_in_space", "informational", placebos=placebos, real_effect=-1.5)
    )
    assert found == (placebos, -1.5)
    assert diagnostics.placebo_distribution(check("placebo_in_space", "not_applicable")) is None
    figure = charts.placebo_figure(placebos, -1.5, title="P", unit="u")
    assert figure.layout.shapes[0].x0 == -1.5  # the real effect is marked
    variables = [
        {"variable": "y (outcome)", "treated_mean": 5.5, "control_mean": 5.0, "smd": 0.3},
        {"variable": "size", "treated_mean": 1.0, "control_mean": 1.0, "smd": 0.0},
    ]
    balance = check("balance", "warn", variables=variables, flagged=["y (outcome)"], threshold=0.25)
    assert [row["Flag"] for row in diagnostics.balance_rows(balance)] == ["⚠️", ""]


def test_robustness_rows_compare_each_method_with_the_registered_one() -> None:
    trial = evidence(
        robustness=(
            ("did", estimate("did", -1.2), "rd"),
            ("bsts", estimate("bsts", 0.4), "rb"),
            ("synth", estimate("synth", None), "rs"),
        )
    )
    rows = results.robustness_rows(trial)
    assert [(row["Method"], row["Role"]) for row in rows] == [
        ("randomized", "registered"),
        ("did", "robustness"),
        ("bsts", "robustness"),
        ("synth", "robustness"),
    ]
    assert [row["Direction vs registered"] for row in rows] == [
        "same",
        "same",
        "opposite",
        "not estimated",
    ]
    assert "difference-in-differences" in rows[1]["How it works"]
    figure = charts.robustness_figure(rows, title="R", unit="u")
    assert len(figure.data) == 3  # the method without an estimate is left out


def test_results_csv_has_one_row_per_estimate_with_fixed_columns() -> None:
    trial = evidence(robustness=(("did", estimate("did", -1.2), "rd"),))
    rows = list(csv.DictReader(io.StringIO(results.results_csv(trial))))
    assert tuple(rows[0]) == results.RESULT_COLUMNS
    assert [row["role"] for row in rows] == ["primary", "secondary", "guardrail", "robustness"]
    assert rows[3]["metric"] == "collections_per_bin_week"
    assert rows[3]["run_id"] == "rd"
    assert float(rows[0]["ci_low"]) == -2.0
    assert rows[0]["unit"] == "collections per bin-week"
    table = results.results_table(trial)
    assert table[3]["Metric"] == "Collections per bin-week (check)"
    assert table[0]["p-value"] == "p = 0.010"


def test_plain_summary_says_what_changed_what_to_doubt_and_who_agrees() -> None:
    trial = evidence(
        estimates={"overflow_per_1000_bin_days": estimate(effect=None)},
        robustness=(("did", estimate("did", -1.2), "rd"),),
    )
    rows = diagnostics.diagnostic_rows(
        [check("pre_trends", "pass"), check("balance", "warn")], health()
    )
    text = results.plain_summary(trial, rows)
    assert text.startswith(
        "Collections per bin-week improved with the pilot: -1.5 collections per bin-week (-30%), "
        "95% CI -2 to -1."
    )
    assert "overflowing bin-days per 1,000 could not be estimated" in text
    assert "Of 3 checks with a pass/fail rule, 2 passed, 1 warned and 0 failed" in text
    assert "(read with care: balance before the start)" in text
    assert "1 of 1 other method(s) point the same way" in text
    unanalysed = replace(trial, metrics=())
    assert results.plain_summary(unanalysed, rows) == (
        "This trial is registered but has not been analysed yet."
    )


def test_counterfactual_figure_draws_an_interval_band_when_the_series_has_one() -> None:
    series = {
        "period": ["2026-03-23", "2026-03-30"],
        "observed": [1.0, 2.0],
        "counterfactual": [1.0, 1.0],
        "counterfactual_low": [0.8, 0.7],
        "counterfactual_high": [1.2, 1.3],
    }
    figure = charts.counterfactual_figure(series, title="T", unit="u", treatment_start=START)
    assert [trace.name for trace in figure.data][1:] == [
        "Counterfactual 95% interval",
        "Counterfactual (without the pilot)",
        "Treated group, observed",
    ]
    plain = charts.counterfactual_figure(
        {k: series[k] for k in ("period", "observed", "counterfactual")},
        title="T",
        unit="u",
        treatment_start=START,
        period_label="Day",
    )
    assert len(plain.data) == 2
    assert plain.layout.xaxis.title.text == "Day"


def test_charts_zip_holds_every_chart_page() -> None:
    archive = zipfile.ZipFile(io.BytesIO(results.charts_zip({"a.html": "<p>a</p>", "b.html": "b"})))
    assert archive.namelist() == ["a.html", "b.html"]
    assert archive.read("a.html") == b"<p>a</p>"
