"""Wild cluster restricted bootstrap: size with few clusters, power, and test inversion."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.did import DidConfig, estimate_did
from evaluation.wild_bootstrap import WEBB_WEIGHTS
from tests.panels import make_panel


def test_webb_weights_have_mean_zero_and_unit_variance() -> None:
    assert WEBB_WEIGHTS.mean() == pytest.approx(0.0)
    assert (WEBB_WEIGHTS**2).mean() == pytest.approx(1.0)
    assert len(WEBB_WEIGHTS) == 6


def test_few_clusters_switch_to_the_wild_bootstrap_with_a_warning() -> None:
    estimate = estimate_did(make_panel(n_treated=5, n_control=5, effect=2.0, seed=8))
    assert "wild cluster restricted bootstrap" in estimate.details["inference"]
    assert any("wild cluster bootstrap" in w for w in estimate.warnings)
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high


def test_bootstrap_p_value_is_reproducible_for_a_seed() -> None:
    panel = make_panel(n_treated=4, n_control=4, effect=0.5, seed=9)
    first = estimate_did(panel, DidConfig(seed=3, bootstrap_draws=999))
    again = estimate_did(panel, DidConfig(seed=3, bootstrap_draws=999))
    assert (first.p_value, first.ci_low, first.ci_high) == (
        again.p_value,
        again.ci_low,
        again.ci_high,
    )


def test_the_interval_is_where_the_test_stops_rejecting() -> None:
    """Shifting the outcome so the null sits at an interval end gives p close to alpha."""
    panel = make_panel(n_treated=5, n_control=5, effect=1.0, seed=12)
    config = DidConfig(seed=1, bootstrap_draws=1999)
    estimate = estimate_did(panel, config)
    import polars as pl

    shifted = panel.with_frame(
        panel.frame.with_columns(
            pl.when(pl.col("treated") & pl.col("post"))
            .then(pl.col("y") - estimate.ci_high)
            .otherwise(pl.col("y"))
            .alias("y")
        )
    )
    at_boundary = estimate_did(shifted, config)
    assert at_boundary.p_value == pytest.approx(config.alpha, abs=0.01)


def test_size_under_the_null_with_ten_clusters() -> None:
    """At 5%, 300 null panels reject 3 to 28 times: Binomial(300, 0.05)'s 99.9% band.

    (Over 600 such panels the bootstrap rejected 6.2% and the analytic CR1 t-test 6.5%.)
    """
    rejections = sum(
        estimate_did(
            make_panel(n_treated=5, n_control=5, seed=1000 + seed),
            DidConfig(bootstrap_draws=199, seed=seed),
        ).p_value
        < 0.05
        for seed in range(300)
    )
    assert 3 <= rejections <= 28


def test_a_clear_effect_is_detected() -> None:
    estimate = estimate_did(make_panel(n_treated=6, n_control=6, effect=5.0, seed=2))
    assert estimate.p_value < 0.01
    assert estimate.ci_low > 0


@pytest.mark.parametrize("model", ["2x2", "twfe"])
def test_fast_bootstrap_equals_refitting_the_regression_for_every_draw(model: str) -> None:
    """Same Webb draws, brute force: rebuild y* from restricted residuals, refit with dummies."""
    import statsmodels.api as sm

    from evaluation.wild_bootstrap import WEBB_WEIGHTS as WEIGHTS

    panel = make_panel(n_treated=4, n_control=5, effect=0.7, seed=21)
    draws, seed = 199, 5
    estimate = estimate_did(
        panel, DidConfig(model=model, se="wild", bootstrap_draws=draws, seed=seed)
    )
    frame = panel.frame
    y = frame["y"].to_numpy()
    treated = frame["treated"].cast(float).to_numpy()
    post = frame["post"].cast(float).to_numpy()
    unit = np.unique(frame["unit"].to_numpy(), return_inverse=True)[1]
    time = frame["time"].to_numpy()
    clusters = np.unique(frame["cluster"].to_numpy(), return_inverse=True)[1]
    if model == "2x2":
        nuisance = np.column_stack([np.ones_like(y), treated, post])
    else:
        nuisance = np.column_stack(
            [np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]]
        )
    d = treated * post
    design = np.column_stack([d, nuisance])

    def t_stat(outcome: np.ndarray) -> float:
        fit = sm.OLS(outcome, design).fit(
            cov_type="cluster", cov_kwds={"groups": clusters, "use_correction": True}
        )
        return fit.params[0] / fit.bse[0]

    restricted = sm.OLS(y, nuisance).fit()
    weights = np.random.default_rng(seed).choice(WEIGHTS, size=(clusters.max() + 1, draws))
    t_sample = abs(t_stat(y))
    t_draws = [
        abs(t_stat(restricted.fittedvalues + restricted.resid * weights[clusters, b]))
        for b in range(draws)
    ]
    assert estimate.p_value == pytest.approx(np.mean(np.array(t_draws) >= t_sample - 1e-9))
