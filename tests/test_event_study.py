"""Event study: dynamic effects, binned endpoints and the joint pre-trend test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from evaluation.event_study import EventStudyConfig, estimate_event_study
from tests.panels import make_panel


def dynamic_panel(pre_trend: float = 0.0, seed: int = 0):
    """Treated units gain 1, 2, 3, 4 in event times 0..3; optional trend before treatment."""
    panel = make_panel(n_treated=10, n_control=10, n_periods=10, first_post=5, seed=seed, noise=0.3)
    event = pl.col("time") - pl.col("cohort")
    return panel.with_frame(
        panel.frame.with_columns(
            (
                pl.col("y")
                + pl.when(event >= 0).then(event + 1).otherwise(0).fill_null(0)
                + pl.when(event < 0).then(pre_trend * event).otherwise(0).fill_null(0)
            ).alias("y")
        )
    )


def test_dynamic_effects_are_recovered_and_leads_are_near_zero() -> None:
    estimate = estimate_event_study(dynamic_panel(), EventStudyConfig(window=3))
    by_time = {row["event_time"]: row for row in estimate.details["event_times"]}
    for e in range(3):
        assert by_time[e]["estimate"] == pytest.approx(e + 1, abs=0.4)
    assert by_time[-1]["estimate"] == 0.0
    assert abs(by_time[-2]["estimate"]) < 0.4
    assert by_time[3]["binned"]
    assert by_time[3]["estimate"] == pytest.approx(4.5, abs=0.4)  # event times 3 and 4 pooled
    assert estimate.details["pre_trend_test"]["p_value"] > 0.01


def test_a_pre_trend_is_detected() -> None:
    estimate = estimate_event_study(dynamic_panel(pre_trend=0.8), EventStudyConfig(window=3))
    test = estimate.details["pre_trend_test"]
    assert test["p_value"] < 0.001
    assert "every lead coefficient is zero" in test["null_hypothesis"]
    assert any("pre-trends" in w for w in estimate.warnings)


def test_coefficients_match_the_dummy_variable_regression() -> None:
    panel = dynamic_panel(seed=4)
    estimate = estimate_event_study(panel, EventStudyConfig(window=2))
    frame = panel.frame.with_columns((pl.col("time") - pl.col("cohort")).clip(-2, 2).alias("e"))
    terms = [-2, 0, 1, 2]
    indicators = np.column_stack([(frame["e"] == e).fill_null(False).to_numpy() for e in terms])
    unit = np.unique(frame["unit"].to_numpy(), return_inverse=True)[1]
    time = frame["time"].to_numpy()
    dummies = np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
    reference = sm.OLS(frame["y"].to_numpy(), np.column_stack([indicators, dummies])).fit()
    rows = [r for r in estimate.details["event_times"] if r["event_time"] != -1]
    np.testing.assert_allclose([r["estimate"] for r in rows], reference.params[:4], rtol=1e-8)
    assert estimate.effect == pytest.approx(np.mean(reference.params[1:4]))


def test_without_never_treated_units_there_is_no_reference_group() -> None:
    panel = make_panel(n_control=0, n_treated=6)
    estimate = estimate_event_study(panel)
    assert estimate.status == "cannot_estimate"
    assert "no never-treated units" in estimate.message


def test_shift_of_treated_post_outcomes_moves_the_effect() -> None:
    panel = dynamic_panel(seed=2)
    base = estimate_event_study(panel)
    shifted = estimate_event_study(
        panel.with_frame(
            panel.frame.with_columns(
                pl.when(pl.col("treated") & pl.col("post"))
                .then(pl.col("y") + 2.5)
                .otherwise(pl.col("y"))
                .alias("y")
            )
        )
    )
    assert shifted.effect == pytest.approx(base.effect + 2.5)
    assert base.ci_low <= base.effect <= base.ci_high
    assert 0 <= base.p_value <= 1
