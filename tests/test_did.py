"""2x2 difference-in-differences: the estimate, its clustered standard error, and refusals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evaluation.did import DidConfig, estimate_did
from tests.panels import make_panel


def test_effect_is_the_difference_of_the_four_cell_means() -> None:
    panel = make_panel(effect=2.5, seed=3)
    cells = panel.frame.group_by("treated", "post").agg(pl.col("y").mean())
    mean = {(t, p): y for t, p, y in cells.iter_rows()}
    expected = (mean[True, True] - mean[True, False]) - (mean[False, True] - mean[False, False])

    estimate = estimate_did(panel)

    assert estimate.ok
    assert estimate.effect == pytest.approx(expected, abs=1e-10)
    assert estimate.n_units == 12
    assert estimate.n_treated == 6
    assert estimate.n_obs == 96


def test_clustered_standard_error_is_cr1_with_fixest_small_sample_factor() -> None:
    """Sandwich by hand: (X'X)^-1 (sum_g X_g' u_g u_g' X_g) (X'X)^-1 x G/(G-1) x (N-1)/(N-K)."""
    panel = make_panel(effect=1.0, seed=11)
    frame = panel.frame
    treated = frame["treated"].cast(float).to_numpy()
    post = frame["post"].cast(float).to_numpy()
    x = np.column_stack([np.ones_like(treated), treated, post, treated * post])
    y = frame["y"].to_numpy()
    bread = np.linalg.inv(x.T @ x)
    residuals = y - x @ (bread @ x.T @ y)
    clusters = frame["cluster"].to_numpy()
    meat = np.zeros((4, 4))
    for cluster in np.unique(clusters):
        score = x[clusters == cluster].T @ residuals[clusters == cluster]
        meat += np.outer(score, score)
    n, k, g = len(y), 4, len(np.unique(clusters))
    covariance = bread @ meat @ bread * g / (g - 1) * (n - 1) / (n - k)

    estimate = estimate_did(panel)

    assert estimate.se == pytest.approx(np.sqrt(covariance[3, 3]), rel=1e-10)
    assert estimate.details["df"] == g - 1


def test_interval_uses_t_with_clusters_minus_one_degrees_of_freedom() -> None:
    from scipy import stats

    estimate = estimate_did(make_panel(seed=5), DidConfig(alpha=0.10, se="cluster"))
    half_width = (estimate.ci_high - estimate.ci_low) / 2
    assert half_width == pytest.approx(stats.t.ppf(0.95, 11) * estimate.se, rel=1e-12)


def test_few_clusters_are_flagged() -> None:
    estimate = estimate_did(make_panel(n_treated=4, n_control=4))
    assert any("only 8 clusters" in warning for warning in estimate.warnings)
    many = estimate_did(make_panel(n_treated=16, n_control=16))
    assert not any("clusters" in warning for warning in many.warnings)


def test_relative_effect_divides_by_the_counterfactual_mean() -> None:
    panel = make_panel(effect=-3.0, seed=2, noise=0.1)
    estimate = estimate_did(panel)
    treated_post = panel.frame.filter("treated", "post")["y"].mean()
    assert estimate.relative_effect == pytest.approx(
        estimate.effect / (treated_post - estimate.effect)
    )


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (~(pl.col("treated") & ~pl.col("post")), "no outcomes for treated units before the start"),
        (~pl.col("treated") | pl.col("post"), "no outcomes for treated units before the start"),
        (pl.col("treated"), "no control units with outcomes"),
        (pl.col("treated") | pl.col("post"), "no outcomes for control units before the start"),
        (~pl.col("post"), "no outcomes for treated units after the start"),
    ],
)
def test_missing_cells_cannot_be_estimated(keep: pl.Expr, message: str) -> None:
    panel = make_panel()
    estimate = estimate_did(panel.with_frame(panel.frame.filter(keep)))
    assert estimate.status == "cannot_estimate"
    assert message in estimate.message
    assert (estimate.effect, estimate.se, estimate.p_value) == (None, None, None)


def test_a_single_treated_cluster_gives_the_effect_without_inference() -> None:
    panel = make_panel(n_treated=1, n_control=5, effect=3.0)
    estimate = estimate_did(panel)
    assert estimate.status == "point_only"
    assert "only 1 treated cluster" in estimate.message
    assert estimate.effect == pytest.approx(estimate_did(panel, DidConfig(se="hetero")).effect)
    assert (estimate.se, estimate.ci_low, estimate.p_value) == (None, None, None)


def test_result_serialises_to_plain_json_data() -> None:
    import json

    from evaluation.result import Estimate

    estimate = estimate_did(make_panel(effect=1.0))
    data = json.loads(json.dumps(estimate.to_dict()))
    assert Estimate.from_dict(data) == Estimate.from_dict(estimate.to_dict())
    assert data["details"]["coefficients"][0]["term"] == "D"
    assert len(data["details"]["series"]["period"]) == 8
