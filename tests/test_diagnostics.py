"""Diagnostics: each check on a panel built to pass and one built to fail, its refusals, and the
registry contract (every check states its null hypothesis and returns JSON-ready results)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pkgutil
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evaluation.diagnostics as diagnostics
from evaluation.diagnostics import (
    CHECKS,
    STATUSES,
    Check,
    CheckResult,
    DiagnosticsConfig,
    run_diagnostics,
)
from evaluation.diagnostics.check import judged_by_p
from evaluation.methods import METHODS, run_method
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from livinglab.errors import SpecError, UnknownNameError
from tests.panels import make_panel

# did's wild bootstrap defaults to 9999 draws below 30 clusters; 199 keep the tests fast.
FAST = DiagnosticsConfig(method_options={"bootstrap_draws": 199})
FAST_OPTIONS = {"did": {"bootstrap_draws": 199}}


def panel(*, slope: float = 0.0, **kwargs: object) -> Panel:
    """``make_panel`` with 6 pre periods; ``slope`` adds a trend to treated pre-period outcomes."""
    settings_ = {
        "n_treated": 6,
        "n_control": 8,
        "n_periods": 10,
        "first_post": 6,
        "effect": 2.0,
        "noise": 0.3,
        "seed": 0,
    }
    base = make_panel(**(settings_ | kwargs))  # type: ignore[arg-type]
    event = pl.col("time") - pl.col("cohort")
    trend = pl.when(event < 0).then(slope * event).otherwise(0.0).fill_null(0.0)
    return base.with_frame(base.frame.with_columns(pl.col("y") + trend))


def check(name: str, data: Panel, method: str = "did", **config: object) -> CheckResult:
    options = config.pop("method_options", FAST_OPTIONS.get(method, {}))
    settings_ = DiagnosticsConfig(method_options=options, **config)  # type: ignore[arg-type]
    estimate = run_method(method, data, **options)  # type: ignore[arg-type]
    return run_diagnostics(data, method, estimate, settings_, names=[name])[0]


def shift_treated_post(data: Panel, d: float) -> Panel:
    return data.with_frame(
        data.frame.with_columns(
            pl.when(pl.col("treated") & pl.col("post"))
            .then(pl.col("y") + d)
            .otherwise(pl.col("y"))
            .alias("y")
        )
    )


NO_ESTIMATE = cannot_estimate("did", "ATT", "no control units")


# --- pre-trends -------------------------------------------------------------------------------


def test_pre_trends_pass_without_a_trend_and_report_the_event_study_test() -> None:
    result = check("pre_trends", panel())
    assert result.status == "pass"
    assert result.p_value == pytest.approx(result.details["pre_trend_test"]["p_value"])
    assert result.p_value >= 0.10
    assert [row["event_time"] for row in result.details["leads"]] == [-4, -3, -2]
    assert "parallel trends" in result.null_hypothesis


def test_pre_trends_fail_when_treated_units_trend_before_the_start() -> None:
    result = check("pre_trends", panel(slope=0.8))
    assert result.status == "fail"
    assert result.p_value < 0.05
    assert "drifting apart" in result.message


def test_pre_trends_warn_between_alpha_and_warn_level() -> None:
    result = check("pre_trends", panel(), warn_level=0.5)
    assert 0.05 <= result.p_value < 0.5
    assert result.status == "warn"


def test_pre_trends_need_never_treated_units() -> None:
    result = check("pre_trends", panel(n_control=0), method="prepost")
    assert result.status == "not_applicable"
    assert "no never-treated units" in result.message


def test_pre_trends_need_two_pre_periods() -> None:
    result = check("pre_trends", panel(first_post=1))
    assert result.status == "not_applicable"
    assert "1 period(s) before the start" in result.message


@settings(max_examples=40, deadline=None)
@given(p=st.floats(0, 1), alpha=st.floats(0.001, 0.2), extra=st.floats(0, 0.3))
def test_status_follows_the_p_value(p: float, alpha: float, extra: float) -> None:
    config = DiagnosticsConfig(alpha=alpha, warn_level=min(alpha + extra, 0.99))
    expected = "fail" if p < alpha else "warn" if p < config.warn_level else "pass"
    assert judged_by_p(p, config) == expected


# --- placebo in time --------------------------------------------------------------------------


def test_placebo_in_time_passes_when_nothing_happened_before_the_start() -> None:
    result = check("placebo_in_time", panel())
    assert result.status == "pass"
    assert result.details["ci_low"] <= 0 <= result.details["ci_high"]
    assert result.details["placebo_start"] == "2026-01-26"  # period 3 of pre periods 0..5
    assert result.details["pre_periods"] == 6


def test_placebo_in_time_fails_when_treated_units_trend_before_the_start() -> None:
    result = check("placebo_in_time", panel(slope=0.8))
    assert result.status == "fail"
    assert result.details["ci_low"] > 0  # the trend makes the pretend effect positive
    assert "excludes zero" in result.message


def test_placebo_in_time_drops_the_pilot_periods() -> None:
    data = panel()
    before = check("placebo_in_time", data, method="event_study")
    after = check("placebo_in_time", shift_treated_post(data, 100.0), method="event_study")
    assert after.statistic == pytest.approx(before.statistic, abs=1e-9)
    assert after.status == before.status


def test_placebo_in_time_needs_four_pre_periods() -> None:
    result = check("placebo_in_time", panel(first_post=3))
    assert result.status == "not_applicable"
    assert "3 period(s) before the start" in result.message
    assert "at least 4" in result.message


def test_placebo_in_time_says_why_the_method_cannot_estimate() -> None:
    result = check("placebo_in_time", panel(n_control=0))
    assert result.status == "not_applicable"
    assert "cannot estimate on the pre-period alone" in result.message
    assert "no control units" in result.message


def test_placebo_in_time_without_an_interval_is_informational() -> None:
    # One treated cluster: did identifies the effect but not its uncertainty (point_only).
    result = check("placebo_in_time", panel(n_treated=1))
    assert result.status == "informational"
    assert result.statistic is not None
    assert "no interval" in result.message


# --- placebo in space -------------------------------------------------------------------------


def test_placebo_in_space_ranks_a_large_effect_first() -> None:
    result = check("placebo_in_space", panel(effect=5.0))
    assert result.status == "informational"
    assert result.details["n_placebos"] == 8
    assert result.details["n_as_large"] == 0
    assert result.p_value == pytest.approx(1 / 9)  # the smallest possible with 8 placebos
    assert result.statistic == pytest.approx(run_method("did", panel(effect=5.0)).effect)


def test_placebo_in_space_does_not_single_out_a_null_effect() -> None:
    result = check("placebo_in_space", panel(effect=0.0, n_control=12))
    effects = np.array([row["effect"] for row in result.details["placebos"]])
    as_large = int((np.abs(effects) >= abs(result.statistic)).sum())
    assert result.p_value == pytest.approx((1 + as_large) / (1 + effects.size))
    assert result.p_value > 0.25


def test_placebo_in_space_subsamples_with_the_seed() -> None:
    first = check("placebo_in_space", panel(n_control=12), max_placebos=5)
    again = check("placebo_in_space", panel(n_control=12), max_placebos=5)
    other = check("placebo_in_space", panel(n_control=12), max_placebos=5, seed=3)
    clusters = [row["cluster"] for row in first.details["placebos"]]
    assert len(clusters) == 5
    assert first.details["subsampled"]
    assert "5 control units (drawn at random from 12)" in first.message
    assert clusters == [row["cluster"] for row in again.details["placebos"]]
    assert clusters != [row["cluster"] for row in other.details["placebos"]]
    assert not set(clusters) & {f"u{u:02d}" for u in range(6)}  # never a real treated unit


def test_placebo_in_space_uses_control_clusters() -> None:
    data = panel(n_control=12)
    clustered = data.with_frame(
        data.frame.with_columns(
            pl.when("treated")
            .then(pl.col("cluster"))
            .otherwise(pl.lit("c") + (pl.col("unit").str.slice(1).cast(pl.Int64) // 2).cast(str))
        )
    )
    result = check("placebo_in_space", clustered)
    assert result.details["n_placebos"] == 6
    assert "6 control clusters" in result.message


def test_placebo_in_space_needs_five_control_units() -> None:
    result = check("placebo_in_space", panel(n_control=4))
    assert result.status == "not_applicable"
    assert "4 control units" in result.message


def test_placebo_in_space_needs_a_real_effect() -> None:
    result = CHECKS["placebo_in_space"].run(panel(), "did", NO_ESTIMATE, FAST)
    assert result.status == "not_applicable"
    assert "no effect to compare" in result.message


def test_a_placebo_that_fails_on_its_data_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluation.diagnostics import placebo

    def singular_for_u06(name: str, data: Panel, **options: object) -> Estimate:
        if data.frame.filter("treated")["cluster"].unique().to_list() == ["u06"]:
            raise np.linalg.LinAlgError("Singular matrix")
        return run_method(name, data, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(placebo, "run_method", singular_for_u06)
    result = check("placebo_in_space", panel())
    assert result.details["n_placebos"] == 7
    assert result.details["failed"] == [{"cluster": "u06", "reason": "Singular matrix"}]


# --- balance ----------------------------------------------------------------------------------


def with_age(data: Panel, shift: float) -> Panel:
    """A unit-level covariate with the same six values in each arm, plus ``shift`` if treated."""
    index = pl.col("unit").str.slice(1).cast(pl.Int64)
    age = 30.0 + 5.0 * (index % 6) + pl.when("treated").then(shift).otherwise(0.0)
    return Panel(data.frame.with_columns(age.alias("age")), data.outcome, data.times, ("age",))


def test_balance_passes_when_the_arms_are_alike() -> None:
    data = with_age(panel(n_control=6, seed=2), shift=0.0)
    result = check("balance", data)
    assert result.status == "pass"
    rows = {row["variable"]: row for row in result.details["variables"]}
    assert rows["age"]["smd"] == 0.0
    # By hand: per-unit pre-period means, then (mean_t - mean_c) / sqrt((s2_t + s2_c) / 2).
    level = (
        data.frame.filter(pl.col("time") < 6).group_by("unit", "treated").agg(pl.col("y").mean())
    )
    treated, control = (level.filter(pl.col("treated") == arm)["y"].to_numpy() for arm in (1, 0))
    smd = (treated.mean() - control.mean()) / np.sqrt(
        (treated.var(ddof=1) + control.var(ddof=1)) / 2
    )
    assert rows["y (outcome)"]["smd"] == pytest.approx(smd, rel=1e-12)
    assert abs(smd) < 0.25


def test_balance_warns_and_names_the_imbalanced_covariate() -> None:
    result = check("balance", with_age(panel(n_control=6, seed=2), shift=10.0))
    assert result.status == "warn"
    assert result.details["flagged"] == ["age"]
    assert "age" in result.message
    assert result.statistic == pytest.approx(10.0 / np.std([30, 35, 40, 45, 50, 55], ddof=1))


def test_balance_with_one_treated_unit_uses_the_control_spread() -> None:
    data = panel(n_treated=1, n_control=8, seed=2)
    result = check("balance", data)
    level = (
        data.frame.filter(pl.col("time") < 6).group_by("unit", "treated").agg(pl.col("y").mean())
    )
    control = level.filter(~pl.col("treated"))["y"].to_numpy()
    treated = level.filter("treated")["y"].item()
    expected = (treated - control.mean()) / control.std(ddof=1)
    assert result.details["variables"][0]["smd"] == pytest.approx(expected, rel=1e-12)


def test_balance_needs_control_units() -> None:
    result = check("balance", panel(n_control=1), method="prepost")
    assert result.status == "not_applicable"
    assert "6 treated and 1 control units" in result.message


@pytest.fixture(scope="module")
def lalonde() -> Panel:
    """Dehejia & Wahba's NSW treated vs PSID controls (MatchIt's lalonde, causalpy 0.9.0 copy)."""
    package = importlib.util.find_spec("causalpy")
    assert package is not None
    assert package.submodule_search_locations
    raw = pl.read_csv(Path(package.submodule_search_locations[0]) / "data" / "lalonde.csv")
    frame = raw.select(
        pl.col("rownames").alias("unit"),
        pl.lit(None, pl.Int64).alias("time"),
        pl.col("re75").cast(pl.Float64).alias("y"),
        (pl.col("treat") == 1).alias("treated"),
        pl.lit(False).alias("post"),
        pl.lit(None, pl.Int64).alias("cohort"),
        pl.col("rownames").alias("cluster"),
        pl.lit(1.0).alias("weight"),
        *[pl.col(c).cast(pl.Float64) for c in ("age", "educ", "re74")],
    )
    return Panel(frame, "re75", (), ("age", "educ", "re74"))


def test_balance_matches_matchit_on_lalonde(lalonde: Panel) -> None:
    # MatchIt 4 vignette, summary(matchit(treat ~ age + educ + race + married + nodegree + re74 +
    # re75, data = lalonde)), "Summary of Balance for All Data": means, Std. Mean Diff. (divided
    # by the treated SD) and Var. Ratio (treated / control). Our SMD divides by the pooled SD
    # sqrt((s2_t + s2_c) / 2), so ours = published / sqrt((1 + 1 / ratio) / 2).
    published = {
        "re75 (outcome)": (1532.0553, 2466.4844, -0.2903, 0.9563),
        "age": (25.8162, 28.0303, -0.3094, 0.4400),
        "educ": (10.3459, 10.2354, 0.0550, 0.4959),
        "re74": (2095.5737, 5619.2365, -0.7211, 0.5181),
    }
    result = CHECKS["balance"].run(lalonde, "did", NO_ESTIMATE, DiagnosticsConfig())
    rows = {row["variable"]: row for row in result.details["variables"]}
    for name, (treated, control, smd, ratio) in published.items():
        assert rows[name]["treated_mean"] == pytest.approx(treated, abs=1e-4)
        assert rows[name]["control_mean"] == pytest.approx(control, abs=1e-4)
        assert rows[name]["smd"] == pytest.approx(smd / np.sqrt((1 + 1 / ratio) / 2), abs=2e-4)
    assert result.status == "warn"
    assert result.details["flagged"] == ["re75 (outcome)", "re74"]


@settings(max_examples=10, deadline=None)
@given(
    order=st.randoms(use_true_random=False),
    scale=st.floats(0.1, 10),
    offset=st.floats(-100, 100),
)
def test_balance_ignores_unit_order_names_and_units_of_measure(
    order: random.Random, scale: float, offset: float
) -> None:
    data = with_age(panel(seed=5), shift=3.0)
    units = data.frame["unit"].unique().to_list()
    renamed = dict(zip(units, order.sample(units, len(units)), strict=True))
    changed = data.with_frame(
        data.frame.with_columns(
            pl.col("unit").replace(renamed), pl.col("y") * scale + offset
        ).sample(fraction=1.0, shuffle=True, seed=1)
    )
    smds = [
        [row["smd"] for row in check("balance", d).details["variables"]] for d in (data, changed)
    ]
    np.testing.assert_allclose(smds[1], smds[0], rtol=1e-9)


# --- pre-period fit ---------------------------------------------------------------------------


def test_pre_period_fit_passes_when_the_counterfactual_tracks_the_treated() -> None:
    data = panel()
    result = check("pre_period_fit", data)
    series = run_method("did", data, bootstrap_draws=199).details["series"]
    observed = np.array(series["observed"][:6])
    gap = observed - np.array(series["counterfactual"][:6])
    assert result.status == "pass"
    assert result.details["rmspe"] == pytest.approx(np.sqrt(np.mean(gap**2)), rel=1e-12)
    assert result.statistic == pytest.approx(result.details["rmspe"] / observed.std(), rel=1e-12)
    assert result.statistic <= 0.5


def test_pre_period_fit_warns_when_the_treated_drift_away_before_the_start() -> None:
    result = check("pre_period_fit", panel(slope=0.8))
    assert result.status == "warn"
    assert result.statistic > 0.5
    assert "less trustworthy" in result.message


@settings(max_examples=10, deadline=None)
@given(d=st.floats(-50, 50))
def test_pre_period_fit_ignores_the_periods_after_the_start(d: float) -> None:
    data = panel(seed=1)
    shifted = check("pre_period_fit", shift_treated_post(data, d))
    assert shifted.statistic == pytest.approx(check("pre_period_fit", data).statistic, rel=1e-9)


def test_pre_period_fit_is_informational_without_a_series() -> None:
    result = CHECKS["pre_period_fit"].run(panel(), "did", NO_ESTIMATE, FAST)
    assert result.status == "informational"
    assert "no observed and counterfactual series" in result.message


def test_pre_period_fit_says_when_the_fit_is_perfect_by_construction() -> None:
    result = check("pre_period_fit", panel(), method="staggered")
    assert result.status == "informational"
    assert "by construction" in result.message


def test_pre_period_fit_needs_two_pre_periods() -> None:
    result = check("pre_period_fit", panel(first_post=1))
    assert result.status == "not_applicable"
    assert "at least 2" in result.message


def test_checks_needing_fixed_arms_refuse_a_switchback_design() -> None:
    data = panel()
    switchback = data.with_frame(
        data.frame.with_columns(
            ((pl.col("time") + pl.col("unit").str.slice(1).cast(pl.Int64)) % 2 == 0).alias(
                "treated"
            )
        )
    )
    estimate = run_method("did", data, bootstrap_draws=199)
    for name in ("pre_trends", "placebo_in_time", "placebo_in_space", "balance"):
        result = CHECKS[name].run(switchback, "did", estimate, FAST)
        assert result.status == "not_applicable"
        assert "switchback design" in result.message


# --- registry and runner ----------------------------------------------------------------------

EXPECTED_CHECKS = ["pre_trends", "placebo_in_time", "placebo_in_space", "balance", "pre_period_fit"]


def test_registry_lists_every_check_under_its_own_name() -> None:
    assert list(CHECKS) == EXPECTED_CHECKS
    for name, registered in CHECKS.items():
        assert registered.name == name
        assert registered.null_hypothesis.strip()


def test_every_check_class_in_the_package_is_registered() -> None:
    """Inventory: a check written but not registered would never run."""
    defined = set()
    for module in pkgutil.iter_modules(diagnostics.__path__):
        loaded = importlib.import_module(f"evaluation.diagnostics.{module.name}")
        defined |= {
            cls
            for _, cls in inspect.getmembers(loaded, inspect.isclass)
            if cls.__module__ == loaded.__name__
            and cls is not Check
            and callable(getattr(cls, "run", None))
        }
    assert defined == {type(registered) for registered in CHECKS.values()}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "data",
    [panel(), panel(slope=0.8), panel(n_control=0), panel(first_post=1)],
    ids=["clean", "pre-trend", "no-controls", "one-pre-period"],
)
def test_every_result_states_its_null_hypothesis_and_is_json_ready(
    method: str, data: Panel
) -> None:
    options = FAST_OPTIONS.get(method, {})
    estimate = run_method(method, data, **options)  # type: ignore[arg-type]
    results = run_diagnostics(data, method, estimate, DiagnosticsConfig(method_options=options))
    assert [r.name for r in results] == EXPECTED_CHECKS
    for result in results:
        assert result.null_hypothesis == CHECKS[result.name].null_hypothesis
        assert result.message.strip()
        assert result.status in STATUSES
        assert result.p_value is None or 0 <= result.p_value <= 1
        if result.status == "not_applicable":
            assert result.details["reason"] == result.message
        json.dumps(result.to_dict(), allow_nan=False)


def test_run_diagnostics_runs_the_named_checks_in_the_order_given() -> None:
    data = panel()
    estimate = run_method("did", data, bootstrap_draws=199)
    results = run_diagnostics(data, "did", estimate, FAST, names=["balance", "pre_trends"])
    assert [r.name for r in results] == ["balance", "pre_trends"]


def test_unknown_names_list_what_is_available() -> None:
    data = panel()
    with pytest.raises(UnknownNameError, match="available diagnostics: pre_trends, placebo"):
        run_diagnostics(data, "did", NO_ESTIMATE, names=["parallel"])
    with pytest.raises(UnknownNameError, match="available methods"):
        run_diagnostics(data, "magic", NO_ESTIMATE)


class _Raising:
    name = "raising"
    null_hypothesis = "nothing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, *args: object) -> CheckResult:
        raise self.error


def test_a_data_failure_becomes_not_applicable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, "raising", _Raising(np.linalg.LinAlgError("Singular matrix")))
    [result] = run_diagnostics(panel(), "did", NO_ESTIMATE, names=["raising"])
    assert result.status == "not_applicable"
    assert "could not be computed on these data: Singular matrix" in result.message


def test_a_programming_error_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, "raising", _Raising(TypeError("bad argument")))
    with pytest.raises(TypeError, match="bad argument"):
        run_diagnostics(panel(), "did", NO_ESTIMATE, names=["raising"])


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"alpha": 1.5}, "alpha: 1.5 is not allowed"),
        ({"warn_level": 0.01}, "warn_level: 0.01 is not allowed"),
        ({"max_placebos": 0}, "max_placebos: 0 is not allowed"),
        ({"smd_threshold": 0.0}, "smd_threshold: 0.0 is not allowed"),
    ],
)
def test_invalid_settings_are_refused(settings_: dict[str, float], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DiagnosticsConfig(**settings_)  # type: ignore[arg-type]


def test_results_serialise_non_finite_numbers_as_null() -> None:
    result = CheckResult("x", "h0", "informational", float("inf"), None, "m", {"v": [float("nan")]})
    assert result.to_dict() == {
        "name": "x",
        "null_hypothesis": "h0",
        "status": "informational",
        "statistic": None,
        "p_value": None,
        "message": "m",
        "details": {"v": [None]},
    }
