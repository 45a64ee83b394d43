"""Properties every estimator must have, checked on random panels with hypothesis."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.methods import METHODS, run_method
from tests.panels import make_panel


def panel_strategy(
    treated: tuple[int, int],
    control: tuple[int, int],
    periods: tuple[int, int],
    first_post: tuple[int, int],
) -> st.SearchStrategy:
    return st.builds(
        make_panel,
        n_treated=st.integers(*treated),
        n_control=st.integers(*control),
        n_periods=st.integers(*periods),
        first_post=st.integers(*first_post),
        effect=st.floats(-5, 5),
        seed=st.integers(0, 10_000),
    )


# Each method gets panels of the shape its design needs.
PANELS = {
    "bsts": panel_strategy((2, 4), (2, 4), (14, 18), (10, 12)),
    "synth": panel_strategy((1, 1), (6, 12), (12, 16), (8, 10)),
}
DEFAULT_PANELS = panel_strategy((2, 6), (2, 6), (5, 10), (3, 4))
# synth's p-value is the placebo rank (Abadie et al. 2010) and its interval is conformal
# (Chernozhukov et al. 2021): two different tests, which need not agree.
SEPARATE_TESTS = {"synth"}
shifts = st.floats(-100, 100, allow_nan=False).filter(lambda d: abs(d) > 1e-6)


def draw_panel(data: st.DataObject, method: str):
    return data.draw(PANELS.get(method, DEFAULT_PANELS), label="panel")


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=20, deadline=None)
@given(data=st.data(), shift=shifts)
def test_shifting_treated_post_outcomes_by_d_shifts_the_effect_by_d(
    method: str, data: st.DataObject, shift: float
) -> None:
    panel = draw_panel(data, method)
    shifted = panel.frame.with_columns(
        pl.when(pl.col("treated") & pl.col("post"))
        .then(pl.col("y") + shift)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    before = run_method(method, panel)
    after = run_method(method, panel.with_frame(shifted))
    assert after.effect == pytest.approx(before.effect + shift, abs=1e-7 * (1 + abs(shift)))


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=15, deadline=None)
@given(data=st.data(), order_seed=st.integers(0, 1000))
def test_unit_order_and_labels_do_not_matter(
    method: str, data: st.DataObject, order_seed: int
) -> None:
    panel = draw_panel(data, method)
    units = panel.frame["unit"].unique().sort()
    relabel = dict(zip(units, units.sample(fraction=1, shuffle=True, seed=order_seed), strict=True))
    renamed = {old: f"x{new}" for old, new in relabel.items()}
    permuted = panel.frame.with_columns(
        pl.col("unit").replace(renamed), pl.col("cluster").replace(renamed)
    ).sample(fraction=1, shuffle=True, seed=order_seed)
    original = run_method(method, panel)
    reordered = run_method(method, panel.with_frame(permuted))
    assert reordered.effect == pytest.approx(original.effect, abs=1e-9)
    assert reordered.se == pytest.approx(original.se, rel=1e-9)


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=20, deadline=None)
@given(data=st.data(), alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_interval_contains_the_estimate_and_p_is_a_probability(
    method: str, data: st.DataObject, alpha: float
) -> None:
    panel = draw_panel(data, method)
    estimate = run_method(method, panel, alpha=alpha)
    assert estimate.ok
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert 0.0 <= estimate.p_value <= 1.0
    if method in SEPARATE_TESTS:
        return
    excludes_zero = estimate.ci_low > 0 or estimate.ci_high < 0
    # A bootstrap p-value is a share of draws: near alpha, test and interval may round apart.
    margin = 0.01 if "bootstrap" in estimate.details.get("inference", "") else 0.0
    if estimate.p_value < alpha - margin:
        assert excludes_zero
    if estimate.p_value > alpha + margin:
        assert not excludes_zero
