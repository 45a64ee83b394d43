"""Before/after segmented regression on the treated group."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.prepost import PrepostConfig, estimate_prepost


def series_panel(values: list[float], first_post: int) -> Panel:
    start = date(2026, 1, 5)
    frame = pl.DataFrame(
        [
            {
                "unit": "a",
                "time": t,
                "y": y,
                "treated": True,
                "post": t >= first_post,
                "cohort": first_post,
                "cluster": "a",
                "weight": 1.0,
            }
            for t, y in enumerate(values)
        ],
        schema=PANEL_SCHEMA,
    )
    times = tuple(start + timedelta(weeks=t) for t in range(len(values)))
    return Panel(frame=frame, outcome="y", times=times)


def test_a_pure_level_shift_on_a_trend_is_recovered_exactly() -> None:
    values = [10 + 0.5 * t + (3.0 if t >= 12 else 0.0) for t in range(20)]
    estimate = estimate_prepost(series_panel(values, 12))
    assert estimate.ok
    assert estimate.effect == pytest.approx(3.0, abs=1e-9)
    assert estimate.details["series"]["counterfactual"][15] == pytest.approx(10 + 0.5 * 15)


def test_effect_and_error_match_statsmodels_segmented_regression_with_newey_west() -> None:
    rng = np.random.default_rng(4)
    values = list(20 + 0.2 * np.arange(30) + rng.normal(0, 1, 30))
    for t in range(18, 30):
        values[t] += 2.0 + 0.1 * (t - 18)
    time = np.arange(30.0)
    post = (time >= 18).astype(float)
    since = np.where(post == 1, time - 18, 0.0)
    x = np.column_stack([np.ones(30), time, post, since])
    lags = int(np.floor(4 * (30 / 100) ** (2 / 9)))
    fit = sm.OLS(np.array(values), x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    contrast = np.array([0, 0, 1, since[post == 1].mean()])

    estimate = estimate_prepost(series_panel(values, 18), PrepostConfig(errors="hac"))

    assert estimate.effect == pytest.approx(contrast @ fit.params)
    assert estimate.se == pytest.approx(np.sqrt(contrast @ fit.cov_params() @ contrast))
    assert estimate.details["hac_lags"] == lags


def test_too_few_pre_periods_for_a_trend_falls_back_to_the_level_with_a_warning() -> None:
    estimate = estimate_prepost(series_panel([5.0, 5.2, 8.1, 7.9, 8.0, 8.2], 2))
    assert estimate.ok
    assert estimate.details["trend"] is False
    assert any("trend was not modelled" in w for w in estimate.warnings)


def test_no_pre_period_cannot_be_estimated() -> None:
    estimate = estimate_prepost(series_panel([1.0, 2.0, 3.0], 0))
    assert estimate.status == "cannot_estimate"
    assert "found 0 before" in estimate.message


def test_level_only_config_ignores_the_trend() -> None:
    values = [float(t) for t in range(10)]
    estimate = estimate_prepost(series_panel(values, 5), PrepostConfig(trend=False, errors="hac"))
    assert estimate.details["trend"] is False
    assert estimate.effect == pytest.approx(np.mean(values[5:]) - np.mean(values[:5]))


def test_a_control_series_absorbs_a_shock_common_to_both_arms() -> None:
    """A shock at the start that hits control units too is not an effect once they are used."""
    from tests.panels import make_panel

    panel = make_panel(
        n_treated=4, n_control=4, n_periods=20, first_post=12, effect=1.5, seed=6, noise=0.2
    )
    shocked = panel.with_frame(
        panel.frame.with_columns(
            pl.when(pl.col("time") >= 12).then(pl.col("y") + 10).otherwise(pl.col("y")).alias("y")
        )
    )
    with_controls = estimate_prepost(shocked)
    alone = estimate_prepost(shocked, PrepostConfig(control_series=False))
    assert with_controls.effect == pytest.approx(1.5, abs=0.5)
    assert alone.effect > 8  # the common shock is mistaken for an effect
    assert "control_mean" in with_controls.details["coefficients"]


def test_seasonal_dummies_remove_a_repeating_pattern() -> None:
    season = [0.0, 3.0, -2.0, 1.0]
    values = [5 + season[t % 4] + (2.0 if t >= 16 else 0.0) for t in range(22)]
    estimate = estimate_prepost(series_panel(values, 16), PrepostConfig(seasonal_period=4))
    assert estimate.effect == pytest.approx(2.0, abs=1e-8)
    plain = estimate_prepost(series_panel(values, 16), PrepostConfig(trend=False))
    assert plain.effect != pytest.approx(2.0, abs=1e-3)


def test_a_calendar_covariate_separates_severe_weather_from_the_effect() -> None:
    # Severe weather takes 4 units off a week in proportion to its share of the week's days;
    # two stormy weeks fall just after the start, which a plain before/after reads as the pilot.
    storm = [0.0] * 24
    storm[3], storm[13], storm[14] = 3 / 7, 5 / 7, 2 / 7
    values = [20 + 2.0 * (t >= 12) - 4 * storm[t] for t in range(24)]
    panel = series_panel(values, 12)
    panel = Panel(
        panel.frame.with_columns(pl.Series("severe_weather_share", storm)),
        "y",
        panel.times,
        covariates=("severe_weather_share",),
    )
    adjusted = estimate_prepost(panel, PrepostConfig(trend=False))
    assert adjusted.effect == pytest.approx(2.0, abs=1e-8)
    assert adjusted.details["coefficients"]["severe_weather_share"] == pytest.approx(-4.0)
    plain = estimate_prepost(series_panel(values, 12), PrepostConfig(trend=False, errors="hac"))
    # Unadjusted OLS is the difference of means:
    # 2 - 4 * (5/7 + 2/7) / 12 post weeks + 4 * (3/7) / 12 pre weeks = 1.809...
    assert plain.effect == pytest.approx(2 - 4 * 1 / 12 + 4 * (3 / 7) / 12, abs=1e-8)
    calm = panel.with_frame(panel.frame.with_columns(pl.lit(0.0).alias("severe_weather_share")))
    assert "severe_weather_share" not in estimate_prepost(calm).details["coefficients"]


def test_too_many_terms_for_the_pre_period_cannot_be_estimated() -> None:
    values = [float(t % 3) for t in range(12)]
    estimate = estimate_prepost(series_panel(values, 6), PrepostConfig(seasonal_period=6))
    assert estimate.status == "cannot_estimate"
    assert "cannot fit" in estimate.message


def test_default_errors_are_ar1_by_iterated_prais_winsten() -> None:
    """The same contrast and covariance as statsmodels' GLSAR, and the indicative warning."""
    rng = np.random.default_rng(9)
    noise = np.zeros(30)
    for t in range(1, 30):
        noise[t] = 0.6 * noise[t - 1] + rng.normal()
    values = list(10 + 0.1 * np.arange(30) + noise + (np.arange(30) >= 18) * 2.0)
    time = np.arange(30.0)
    post = (time >= 18).astype(float)
    since = np.where(post == 1, time - 18, 0.0)
    x = np.column_stack([np.ones(30), time, post, since])
    fit = sm.GLSAR(np.array(values), x, rho=1).iterative_fit(maxiter=200, rtol=1e-12)
    contrast = np.array([0, 0, 1, since[post == 1].mean()])

    estimate = estimate_prepost(series_panel(values, 18))

    assert estimate.effect == pytest.approx(contrast @ fit.params)
    assert estimate.se == pytest.approx(np.sqrt(contrast @ fit.cov_params() @ contrast))
    assert estimate.details["ar1_rho"] == pytest.approx(fit.model.rho[0])
    assert any("indicative" in warning for warning in estimate.warnings)
