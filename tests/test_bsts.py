"""Structural time-series counterfactual (CausalImpact-like) with statsmodels."""

from __future__ import annotations

import json
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.tsa.statespace.mlemodel import MLEResults
from statsmodels.tsa.statespace.structural import UnobservedComponents

from evaluation.bsts import BstsConfig, estimate_bsts, fit_structural_model
from evaluation.panel import PANEL_SCHEMA, Panel
from livinglab.errors import SpecError
from tests.panels import make_panel


def factor_panel(
    *,
    n_pre: int = 40,
    n_post: int = 15,
    n_treated: int = 2,
    n_control: int = 3,
    effect: float = 0.0,
    seed: int = 0,
    noise: float = 0.5,
    season: np.ndarray | None = None,
) -> Panel:
    """Units loading on one random-walk factor (plus an optional shared seasonal pattern).

    Treated units are ``t00``...; controls ``c00``...; ``effect`` is added to treated outcomes
    from period ``n_pre`` on.
    """
    rng = np.random.default_rng(seed)
    n_periods = n_pre + n_post
    factor = np.cumsum(rng.normal(0, 1, n_periods))
    if season is not None:
        factor = factor + np.resize(season, n_periods)
    rows = []
    for index in range(n_treated + n_control):
        treated = index < n_treated
        unit = f"t{index:02d}" if treated else f"c{index - n_treated:02d}"
        level, loading = rng.normal(50, 5), rng.uniform(0.8, 1.2)
        for t in range(n_periods):
            post = t >= n_pre
            y = level + loading * factor[t] + rng.normal(0, noise)
            rows.append(
                {
                    "unit": unit,
                    "time": t,
                    "y": y + (effect if treated and post else 0.0),
                    "treated": treated,
                    "post": post,
                    "cohort": n_pre if treated else None,
                    "cluster": unit,
                    "weight": 1.0,
                }
            )
    times = tuple(date(2025, 1, 6) + timedelta(days=t) for t in range(n_periods))
    return Panel(pl.DataFrame(rows, schema=PANEL_SCHEMA), "visits", times)


def test_nile_local_level_mle_matches_durbin_and_koopman() -> None:
    nile = sm.datasets.nile.load_pandas().data["volume"].to_numpy()
    parameters = fit_structural_model(nile).parameters()
    # Durbin & Koopman (2012), Time Series Analysis by State Space Methods, 2nd ed., sec. 2.10.3:
    # MLE of the local level model for the Nile data, sigma2_eps = 15099, sigma2_eta = 1469.1.
    assert parameters["sigma2.irregular"] == pytest.approx(15099, rel=1e-3)
    assert parameters["sigma2.level"] == pytest.approx(1469.1, rel=1e-3)


def test_a_step_effect_with_controls_is_recovered_within_its_interval() -> None:
    estimate = estimate_bsts(factor_panel(effect=4.0, seed=3))
    assert estimate.ok
    assert estimate.ci_low <= 4.0 <= estimate.ci_high
    assert estimate.effect == pytest.approx(4.0, abs=1.0)
    assert estimate.p_value < 0.05
    details = estimate.details
    assert estimate.relative_effect == pytest.approx(
        estimate.effect / details["counterfactual_mean"]
    )
    assert details["model"]["n_controls"] == 3
    assert sorted(details["model"]["controls"]) == ["c00", "c01", "c02"]
    assert sum(details["model"]["coefficients"].values()) == pytest.approx(1.0, abs=0.3)
    assert "statistically significant" in details["report"]
    assert "not statistically significant" not in details["report"]


def test_with_zero_effect_the_interval_covers_zero_in_most_seeds() -> None:
    covered = [
        (e := estimate_bsts(factor_panel(seed=seed, n_pre=30, n_post=10))).ci_low <= 0 <= e.ci_high
        for seed in range(20)
    ]
    assert sum(covered) >= 16


def test_weekly_seasonality_is_modelled_and_the_effect_recovered() -> None:
    season = np.array([0.0, 3.0, 5.0, 4.0, 2.0, -6.0, -8.0])
    panel = factor_panel(effect=3.0, seed=5, n_pre=42, n_post=14, n_control=0, season=season)
    estimate = estimate_bsts(panel, BstsConfig(seasonal_period=7))
    assert estimate.ok
    assert estimate.ci_low <= 3.0 <= estimate.ci_high
    assert "sigma2.seasonal" in estimate.details["model"]["parameters"]
    counterfactual = estimate.details["series"]["counterfactual"][42:]
    # The forecast repeats the weekly pattern: the peak-to-trough swing survives in it.
    assert max(counterfactual) - min(counterfactual) > 8


def test_without_controls_the_counterfactual_is_statsmodels_own_local_level_forecast() -> None:
    panel = factor_panel(n_control=0, n_treated=1, seed=8)
    estimate = estimate_bsts(panel)
    y = panel.frame.sort("time")["y"].to_numpy()
    results = UnobservedComponents(y[:40], "llevel", use_exact_diffuse=True).fit(disp=False)
    forecast = results.get_forecast(15).predicted_mean
    assert estimate.details["series"]["counterfactual"][40:] == pytest.approx(forecast, rel=1e-4)
    assert estimate.effect == pytest.approx(y[40:].mean() - forecast.mean(), abs=1e-3)
    assert any("no control units" in w for w in estimate.warnings)


def test_details_are_json_ready_and_consistent() -> None:
    estimate = estimate_bsts(factor_panel(effect=2.0, seed=1), BstsConfig(seed=4))
    details = estimate.details
    json.dumps(details)
    series = details["series"]
    assert {len(v) for v in series.values()} == {55}
    assert series["period"][40] == "2025-02-15"
    assert series["cumulative_effect"][:40] == [0.0] * 40
    assert series["cumulative_effect"][-1] == pytest.approx(details["cumulative"]["effect"])
    assert details["cumulative"]["effect"] == pytest.approx(15 * estimate.effect)
    assert details["cumulative"]["ci_low"] == pytest.approx(15 * estimate.ci_low)
    assert series["cumulative_low"][-1] == pytest.approx(details["cumulative"]["ci_low"])
    for low, point, high in zip(
        series["pointwise_low"], series["pointwise_effect"], series["pointwise_high"], strict=True
    ):
        assert low <= point <= high
    assert details["n_pre"] == 40
    assert details["n_post"] == 15
    assert details["model"]["n_simulations"] == 1000
    assert estimate.n_obs == 55 * 5
    assert estimate.n_treated == 2


def test_the_same_seed_gives_the_same_interval_and_another_seed_a_different_one() -> None:
    panel = factor_panel(seed=2)
    first, again = estimate_bsts(panel), estimate_bsts(panel)
    other = estimate_bsts(panel, BstsConfig(seed=1))
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert first.effect == other.effect
    assert first.ci_low != other.ci_low


def test_extra_controls_are_limited_to_the_most_correlated() -> None:
    panel = factor_panel(n_control=4, seed=6)
    rng = np.random.default_rng(0)
    noise_units = pl.DataFrame(
        [
            {
                "unit": f"z{u}",
                "time": t,
                "y": rng.normal(10, 1),
                "treated": False,
                "post": t >= 40,
                "cohort": None,
                "cluster": f"z{u}",
                "weight": 1.0,
            }
            for u in range(3)
            for t in range(55)
        ],
        schema=PANEL_SCHEMA,
    )
    estimate = estimate_bsts(
        panel.with_frame(pl.concat([panel.frame, noise_units])), BstsConfig(max_controls=4)
    )
    assert sorted(estimate.details["model"]["controls"]) == ["c00", "c01", "c02", "c03"]
    assert any("4 of 7 usable control units" in w for w in estimate.warnings)


def test_controls_with_missing_periods_are_left_out_with_a_warning() -> None:
    panel = factor_panel(seed=4)
    frame = panel.frame.filter(~((pl.col("unit") == "c01") & (pl.col("time") == 10)))
    estimate = estimate_bsts(panel.with_frame(frame))
    assert sorted(estimate.details["model"]["controls"]) == ["c00", "c02"]
    assert any("1 control unit(s) with missing periods" in w for w in estimate.warnings)


def test_periods_without_treated_outcomes_are_skipped_with_a_warning() -> None:
    panel = factor_panel(effect=2.0, seed=1)
    frame = panel.frame.filter(~(pl.col("treated") & pl.col("time").is_in([5, 45])))
    estimate = estimate_bsts(panel.with_frame(frame))
    series = estimate.details["series"]
    assert estimate.ok
    assert (series["observed"][5], series["pointwise_effect"][45]) == (None, None)
    assert series["cumulative_effect"][45] == series["cumulative_effect"][44]
    assert estimate.details["n_post"] == 14
    assert estimate.details["cumulative"]["effect"] == pytest.approx(14 * estimate.effect)
    assert any("missing in 2 period(s)" in w for w in estimate.warnings)


def test_report_says_not_significant_when_the_interval_covers_zero() -> None:
    estimate = estimate_bsts(factor_panel(seed=0))
    assert estimate.ci_low <= 0 <= estimate.ci_high
    assert "not statistically significant" in estimate.details["report"]
    assert f"p = {estimate.p_value:.3f}" in estimate.details["report"]


def test_a_panel_without_treated_units_cannot_be_estimated() -> None:
    panel = factor_panel()
    estimate = estimate_bsts(panel.with_frame(panel.frame.filter(~pl.col("treated"))))
    assert estimate.status == "cannot_estimate"
    assert estimate.message == "no treated units have outcomes"
    assert estimate.effect is None


def test_a_seasonal_model_needs_two_full_cycles_before_the_start() -> None:
    estimate = estimate_bsts(factor_panel(n_pre=12, n_post=4), BstsConfig(seasonal_period=7))
    assert estimate.status == "cannot_estimate"
    assert "at least 14 pre-period points (2 full cycles of 7); found 12" in estimate.message


def test_too_few_pre_periods_cannot_be_estimated() -> None:
    estimate = estimate_bsts(factor_panel(n_pre=7, n_post=4))
    assert estimate.status == "cannot_estimate"
    assert "at least 8 pre-period points; found 7" in estimate.message


def test_no_post_period_cannot_be_estimated() -> None:
    panel = factor_panel(n_pre=20, n_post=0)
    estimate = estimate_bsts(panel)
    assert estimate.status == "cannot_estimate"
    assert "no treated outcomes after the start" in estimate.message


def test_treated_units_with_different_starts_cannot_be_estimated() -> None:
    panel = factor_panel()
    frame = panel.frame.with_columns(
        pl.when(pl.col("unit") == "t01").then(45).otherwise(pl.col("cohort")).alias("cohort")
    )
    estimate = estimate_bsts(panel.with_frame(frame))
    assert estimate.status == "cannot_estimate"
    assert "different times (periods 40, 45)" in estimate.message


def test_a_constant_treated_pre_period_cannot_be_estimated() -> None:
    panel = factor_panel(n_control=0)
    frame = panel.frame.with_columns(pl.lit(5.0).alias("y"))
    estimate = estimate_bsts(panel.with_frame(frame))
    assert estimate.status == "cannot_estimate"
    assert "the treated series is constant before the start" in estimate.message


def test_a_linear_algebra_failure_in_the_fit_is_a_refusal(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(UnobservedComponents, "fit", broken)
    estimate = estimate_bsts(factor_panel())
    assert estimate.status == "cannot_estimate"
    assert estimate.message == (
        "the structural time-series model could not be fitted: Singular matrix"
    )


def test_an_optimiser_that_never_converges_is_a_refusal(monkeypatch) -> None:
    def stuck(self, *args, **kwargs):
        return SimpleNamespace(
            mle_retvals={"converged": False}, params=np.ones(2), llf=float("nan")
        )

    monkeypatch.setattr(UnobservedComponents, "fit", stuck)
    estimate = estimate_bsts(factor_panel())
    assert estimate.status == "cannot_estimate"
    assert "maximum likelihood did not converge" in estimate.message


def test_a_failing_simulation_is_a_refusal(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(MLEResults, "simulate", broken)
    estimate = estimate_bsts(factor_panel())
    assert estimate.status == "cannot_estimate"
    assert estimate.message == (
        "the counterfactual could not be forecast from the fitted model: SVD did not converge"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seasonal_period": 1}, "seasonal_period: 1 is not allowed"),
        ({"max_controls": -1}, "max_controls: -1 is not allowed"),
        ({"n_simulations": 50}, "n_simulations: 50 is too few for alpha 0.05; use at least 100"),
        ({"n_simulations": 150, "alpha": 0.01}, "use at least 200"),
    ],
)
def test_invalid_options_are_rejected(options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        BstsConfig(**options)


panels = st.builds(
    make_panel,
    n_treated=st.integers(1, 4),
    n_control=st.integers(0, 4),
    n_periods=st.integers(14, 20),
    first_post=st.integers(10, 12),
    effect=st.floats(-5, 5),
    seed=st.integers(0, 10_000),
)


@settings(max_examples=8, deadline=None)
@given(panel=panels, shift=st.floats(-100, 100).filter(lambda d: abs(d) > 1e-6))
def test_shifting_treated_post_outcomes_by_d_shifts_the_effect_by_d(panel, shift: float) -> None:
    shifted = panel.frame.with_columns(
        pl.when(pl.col("treated") & pl.col("post"))
        .then(pl.col("y") + shift)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    before = estimate_bsts(panel)
    after = estimate_bsts(panel.with_frame(shifted))
    tolerance = 1e-7 * (1 + abs(shift))
    assert after.effect == pytest.approx(before.effect + shift, abs=tolerance)
    assert after.ci_low == pytest.approx(before.ci_low + shift, abs=tolerance)
    assert after.se == pytest.approx(before.se, rel=1e-9)


@settings(max_examples=6, deadline=None)
@given(panel=panels, order_seed=st.integers(0, 1000))
def test_unit_order_and_labels_do_not_matter(panel, order_seed: int) -> None:
    units = panel.frame["unit"].unique().sort()
    relabel = dict(zip(units, units.sample(fraction=1, shuffle=True, seed=order_seed), strict=True))
    renamed = {old: f"x{new}" for old, new in relabel.items()}
    permuted = panel.frame.with_columns(
        pl.col("unit").replace(renamed), pl.col("cluster").replace(renamed)
    ).sample(fraction=1, shuffle=True, seed=order_seed)
    original = estimate_bsts(panel)
    reordered = estimate_bsts(panel.with_frame(permuted))
    assert reordered.effect == pytest.approx(original.effect, abs=1e-9)
    assert reordered.se == pytest.approx(original.se, rel=1e-9)
    assert reordered.p_value == original.p_value


@settings(max_examples=8, deadline=None)
@given(panel=panels, alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2, 0.9]))
def test_interval_contains_the_estimate_and_p_agrees_with_it(panel, alpha: float) -> None:
    estimate = estimate_bsts(panel, BstsConfig(alpha=alpha))
    assert estimate.ok
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert 0.0 <= estimate.p_value <= 1.0
    assert (estimate.p_value < alpha) == (estimate.ci_low > 0 or estimate.ci_high < 0)
