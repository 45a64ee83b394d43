"""Synthetic control: weights, effect, placebo and conformal inference, and refusals."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.synth import SynthConfig, estimate_synth
from evaluation.synth_inference import conformal_p_values, simplex_least_squares
from livinglab.errors import SpecError
from tests.golden.prop99 import PROP99_PACKS_X10, PROP99_STATES
from tests.panels import make_panel

START = date(2026, 1, 5)


def matrix_panel(
    outcomes: np.ndarray,
    first_post: int,
    *,
    n_treated: int = 1,
    units: list[str] | None = None,
    covariates: dict[str, np.ndarray] | None = None,
    times: tuple = (),
) -> Panel:
    """A panel from ``outcomes`` (periods x units); the first ``n_treated`` columns are treated."""
    n_periods, n_units = outcomes.shape
    units = units or [f"u{j:03d}" for j in range(n_units)]
    treated = np.arange(n_units) < n_treated
    frame = pl.DataFrame(
        {
            "unit": np.tile(units, n_periods),
            "time": np.repeat(np.arange(n_periods), n_units),
            "y": outcomes.ravel(),
            "treated": np.tile(treated, n_periods),
            "post": np.repeat(np.arange(n_periods) >= first_post, n_units),
            "cohort": [first_post if t else None for t in np.tile(treated, n_periods)],
            "cluster": np.tile(units, n_periods),
            "weight": 1.0,
        },
        schema=PANEL_SCHEMA,
    )
    covariates = covariates or {}
    frame = frame.with_columns(
        pl.Series(name, values.ravel()) for name, values in covariates.items()
    )
    times = times or tuple(START + timedelta(weeks=t) for t in range(n_periods))
    return Panel(frame=frame, outcome="y", times=times, covariates=tuple(covariates))


def factor_outcomes(n_donors: int, n_periods: int, seed: int, noise: float = 0.3) -> np.ndarray:
    """Donors (periods x donors) from three trending factors with unit loadings, plus noise."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_periods, 3)).cumsum(axis=0)
    loadings = rng.normal(size=(3, n_donors))
    return 20 + factors @ loadings + rng.normal(0, noise, (n_periods, n_donors))


def synthetic_panel(
    n_donors: int,
    n_periods: int,
    first_post: int,
    effect: float,
    seed: int,
    noise: float = 0.3,
) -> Panel:
    """A treated unit that is a random convex combination of donors plus noise and ``effect``."""
    rng = np.random.default_rng(seed + 1)
    donors = factor_outcomes(n_donors, n_periods, seed, noise)
    treated = donors @ rng.dirichlet(np.ones(n_donors)) + rng.normal(0, noise, n_periods)
    treated[first_post:] += effect
    return matrix_panel(np.column_stack([treated, donors]), first_post)


# ---------------------------------------------------------------- the simplex solver


def scipy_simplex(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reference: SLSQP on the same objective, rescaled so its tolerances are meaningful."""
    n = design.shape[1]
    scale = float(np.mean(design**2))
    result = minimize(
        lambda w: np.sum((design @ w - target) ** 2) / scale,
        np.full(n, 1 / n),
        jac=lambda w: 2 * design.T @ (design @ w - target) / scale,
        bounds=[(0, 1)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones(n)}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 2000},
    )
    assert result.success
    return np.clip(result.x, 0, None) / np.clip(result.x, 0, None).sum()


@pytest.mark.parametrize("seed", range(12))
def test_solver_matches_scipy_on_random_problems(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n_donors = int(rng.integers(3, 40)), int(rng.integers(2, 30))
    design = rng.normal(50, 20, (n_rows, n_donors)) + rng.normal(0, 5, n_rows)[:, None]
    target = rng.normal(50, 25, n_rows)

    fit = simplex_least_squares(design, target[:, None])
    ours, reference = fit.weights[:, 0], scipy_simplex(design, target)

    assert fit.converged.all()
    assert ours.min() >= 0
    assert ours.sum() == pytest.approx(1, abs=1e-12)
    objective = np.sum((design @ ours - target) ** 2)
    assert objective == pytest.approx(np.sum((design @ reference - target) ** 2), rel=1e-8)
    if n_rows > n_donors:  # donors in general position: the optimum is unique
        assert ours == pytest.approx(reference, abs=1e-5)


def test_solver_handles_duplicate_donors_and_targets_inside_the_hull() -> None:
    rng = np.random.default_rng(4)
    design = rng.normal(0, 1, (6, 12))
    design[:, 11] = design[:, 0]
    inside = design @ rng.dirichlet(np.ones(12))
    outside = rng.normal(0, 3, 6)

    fit = simplex_least_squares(design, np.column_stack([inside, outside]))

    assert fit.converged.all()
    assert design @ fit.weights[:, 0] == pytest.approx(inside, abs=1e-9)
    reference = scipy_simplex(design, outside)
    assert np.sum((design @ fit.weights[:, 1] - outside) ** 2) == pytest.approx(
        np.sum((design @ reference - outside) ** 2), rel=1e-8
    )


def test_batched_problems_respect_the_allowed_donors() -> None:
    rng = np.random.default_rng(9)
    design = rng.normal(0, 1, (25, 8))
    targets = rng.normal(0, 1, (25, 5))
    allowed = rng.random((8, 5)) < 0.6
    allowed[0] = True

    batch = simplex_least_squares(design, targets, allowed).weights

    assert np.all(batch[~allowed] == 0)
    for k in range(5):
        alone = simplex_least_squares(design[:, allowed[:, k]], targets[:, [k]]).weights[:, 0]
        assert batch[allowed[:, k], k] == pytest.approx(alone, abs=1e-10)


# ---------------------------------------------------------------- the estimate


def test_exact_convex_combination_recovers_weights_and_effect() -> None:
    donors = factor_outcomes(8, 30, seed=1)
    true_weights = np.array([0.5, 0.3, 0.2, 0, 0, 0, 0, 0])
    treated = donors @ true_weights
    treated[20:] += 4.0

    estimate = estimate_synth(matrix_panel(np.column_stack([treated, donors]), 20))

    assert estimate.ok
    weights = estimate.details["weights_all"]
    assert [weights[f"u{j:03d}"] for j in range(1, 9)] == pytest.approx(true_weights, abs=1e-8)
    assert list(estimate.details["weights"]) == ["u001", "u002", "u003"]
    assert estimate.effect == pytest.approx(4.0, abs=1e-9)
    assert estimate.details["pre_rmspe"] < 1e-9
    counterfactual = donors[20:] @ true_weights
    assert estimate.relative_effect == pytest.approx(4.0 / counterfactual.mean(), rel=1e-9)
    assert estimate.details["series"]["counterfactual"][20:] == pytest.approx(counterfactual)
    assert estimate.details["series"]["observed"] == pytest.approx(treated.tolist())
    assert estimate.details["series"]["period"][0] == START.isoformat()
    assert (estimate.n_obs, estimate.n_units, estimate.n_treated) == (270, 9, 1)
    assert estimate.ci_low <= 4.0 <= estimate.ci_high


def test_several_treated_units_are_averaged_into_one_series() -> None:
    donors = factor_outcomes(10, 24, seed=3)
    rng = np.random.default_rng(3)
    treated = np.column_stack([donors @ rng.dirichlet(np.ones(10)) for _ in range(3)])
    averaged = treated.mean(axis=1, keepdims=True)

    pooled = estimate_synth(matrix_panel(np.column_stack([treated, donors]), 16, n_treated=3))
    single = estimate_synth(matrix_panel(np.column_stack([averaged, donors]), 16))

    assert pooled.details["treated_units"] == ["u000", "u001", "u002"]
    assert (pooled.n_treated, pooled.n_units) == (3, 13)
    assert pooled.effect == pytest.approx(single.effect, abs=1e-9)
    assert pooled.details["series"]["observed"] == pytest.approx(averaged[:, 0].tolist())


def prop99_panel() -> Panel:
    packs = np.array(PROP99_PACKS_X10.split(), dtype=float).reshape(39, 31).T / 10
    order = [PROP99_STATES.index("California")] + [
        j for j, state in enumerate(PROP99_STATES) if state != "California"
    ]
    units = [PROP99_STATES[j] for j in order]
    return matrix_panel(packs[:, order], 19, units=units, times=tuple(range(1970, 2001)))


def test_prop99_matches_the_published_synthetic_control_estimate() -> None:
    estimate = estimate_synth(prop99_panel())

    # Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER 111(12)), Table 1: SC = -19.6.
    # Their R package (synthdid::sc_estimate) stops Frank-Wolfe early and sparsifies the weights;
    # re-running that solver gives -19.62 at a pre-period sum of squared errors of 52.66. The
    # exact simplex optimum fits better (52.13, checked with scipy SLSQP) and gives -19.51.
    assert estimate.effect == pytest.approx(-19.6, abs=0.1)
    assert estimate.effect == pytest.approx(-19.5136, abs=1e-3)
    assert 19 * estimate.details["pre_rmspe"] ** 2 == pytest.approx(52.13, abs=0.01)
    # Abadie, Diamond & Hainmueller (2010), Table 2: synthetic California is built from Utah,
    # Nevada, Montana, Colorado and Connecticut (their fit also matches covariates, which moves
    # weight between these; outcome-only matching adds New Hampshire at 0.045).
    assert {"Utah", "Nevada", "Montana", "Colorado", "Connecticut"} <= set(
        estimate.details["weights"]
    )
    assert list(estimate.details["weights"])[:3] == ["Utah", "Montana", "Nevada"]
    assert estimate.details["series"]["period"][19] == "1989"
    assert estimate.details["p_value_min"] == pytest.approx(1 / 39)


# ---------------------------------------------------------------- inference


def test_placebo_p_value_is_the_rank_of_the_rmspe_ratio() -> None:
    estimate = estimate_synth(synthetic_panel(40, 30, 20, effect=5.0, seed=2))

    ratios = [row["rmspe_ratio"] for row in estimate.details["placebo"]]
    rank = 1 + sum(ratio >= estimate.details["rmspe_ratio"] for ratio in ratios)
    assert len(ratios) == 40
    assert estimate.p_value == pytest.approx(rank / 41)
    assert estimate.p_value == pytest.approx(1 / 41)
    assert estimate.p_value < 0.05
    assert not any("cannot reach significance" in warning for warning in estimate.warnings)
    gaps = [row["average_gap"] for row in estimate.details["placebo"]]
    assert estimate.se == pytest.approx(np.std(gaps, ddof=1), rel=1e-12)


def test_few_donors_cannot_reach_significance_and_say_so() -> None:
    estimate = estimate_synth(synthetic_panel(9, 30, 20, effect=5.0, seed=2))
    assert estimate.p_value >= 0.1
    assert any(
        "with 9 donors the permutation p-value cannot go below 1/10" in warning
        for warning in estimate.warnings
    )


def test_placebo_donor_is_fitted_without_itself_or_the_treated_unit() -> None:
    donors = factor_outcomes(6, 24, seed=5)
    treated = donors[:, 0].copy()
    estimate = estimate_synth(matrix_panel(np.column_stack([treated, donors]), 16))
    # The treated unit copies donor u001; were either allowed as a donor of u001's placebo, its
    # fit would be exact.
    placebo = {row["unit"]: row for row in estimate.details["placebo"]}
    assert placebo["u001"]["pre_rmspe"] > 1e-3
    assert estimate.details["weights"] == pytest.approx({"u001": 1.0})


def brute_force_p_value(treated, donors, post, theta) -> float:
    """CWZ (2021) eq. 2 spelled out: refit under the null, then every cyclic shift in a loop."""
    adjusted = treated - theta * post
    residuals = np.abs(adjusted - donors @ scipy_simplex(donors, adjusted))
    n_post = int(post.sum())
    statistics = [np.mean(np.roll(residuals, -shift)[-n_post:]) for shift in range(post.size)]
    return float(np.mean(np.array(statistics) >= statistics[0] - 1e-9))


def test_conformal_p_values_match_a_brute_force_computation() -> None:
    donors = factor_outcomes(5, 26, seed=8)
    treated = donors @ np.array([0.4, 0.3, 0.3, 0, 0]) + np.random.default_rng(8).normal(0, 1, 26)
    post = np.arange(26) >= 22
    thetas = np.array([-6.0, -1.5, 0.0, 2.0, 7.5])

    vectorised = conformal_p_values(treated, donors, post, thetas)

    expected = [brute_force_p_value(treated, donors, post, theta) for theta in thetas]
    assert vectorised == pytest.approx(expected, abs=1e-12)
    assert vectorised.min() >= 1 / 26


def test_conformal_interval_covers_the_effect_and_excludes_zero_when_it_is_large() -> None:
    estimate = estimate_synth(synthetic_panel(20, 60, 54, effect=6.0, seed=11))

    conformal = estimate.details["conformal"]
    assert estimate.details["interval"] == "conformal"
    assert estimate.ci_low <= 6.0 <= estimate.ci_high
    assert estimate.ci_low > 0
    assert conformal["p_value_no_effect"] <= 0.05
    assert conformal["grid_low"] < estimate.ci_low < estimate.ci_high < conformal["grid_high"]
    assert not conformal["touches_grid_edge"]
    assert conformal["n_permutations"] == 60


def test_without_conformal_the_interval_comes_from_the_placebo_gaps() -> None:
    panel = synthetic_panel(12, 30, 22, effect=1.0, seed=4)
    estimate = estimate_synth(panel, SynthConfig(conformal=False, alpha=0.1))

    gaps = np.abs([row["average_gap"] for row in estimate.details["placebo"]])
    half_width = np.quantile(gaps, 0.9, method="higher")
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(
        (estimate.effect - half_width, estimate.effect + half_width)
    )
    assert estimate.details["interval"] == "placebo"
    assert estimate.details["conformal"] is None
    assert any("no conformal interval (it was turned off)" in w for w in estimate.warnings)


def test_too_few_periods_for_conformal_fall_back_with_a_warning() -> None:
    estimate = estimate_synth(synthetic_panel(6, 12, 8, effect=1.0, seed=4))
    assert estimate.details["interval"] == "placebo"
    assert any("12 periods are too few for a test at level 0.05" in w for w in estimate.warnings)


def test_placebo_in_time_refits_on_the_first_half_of_the_pre_period() -> None:
    panel = synthetic_panel(15, 40, 30, effect=3.0, seed=6, noise=0.1)
    estimate = estimate_synth(panel)

    in_time = estimate.details["placebo_in_time"]
    assert in_time["start"] == panel.time_label(15)
    assert (in_time["fit_periods"], in_time["pseudo_post_periods"]) == (15, 15)
    assert abs(in_time["average_gap"]) < 0.5
    assert 0 < in_time["p_value"] <= 1
    assert (
        estimate_synth(panel, SynthConfig(placebo_in_time=False)).details["placebo_in_time"] is None
    )
    short = estimate_synth(synthetic_panel(5, 8, 3, effect=1.0, seed=1))
    assert short.details["placebo_in_time"] == {"message": "not run: needs 4 pre periods, found 3"}


def test_a_placebo_in_time_effect_is_flagged() -> None:
    donors = factor_outcomes(30, 40, seed=12, noise=0.05)
    treated = donors @ np.random.default_rng(12).dirichlet(np.ones(30))
    treated[15:] += 5.0  # something happened before the recorded start
    estimate = estimate_synth(matrix_panel(np.column_stack([treated, donors]), 30))
    assert estimate.details["placebo_in_time"]["p_value"] <= 0.05
    assert any("placebo in time: with a fake start" in w for w in estimate.warnings)


# ---------------------------------------------------------------- data handling


def test_covariates_steer_the_weights_when_outcomes_cannot() -> None:
    donors = factor_outcomes(4, 20, seed=7)
    donors[:, 1] = donors[:, 0]  # u001 and u002 have the same outcomes
    outcomes = np.column_stack([donors[:, 0], donors])
    size = np.tile([5.0, 9.0, 5.0, 1.0, 2.0], (20, 1))  # the treated unit is sized like u002

    panel = matrix_panel(outcomes, 15, covariates={"size": size})
    weighted = estimate_synth(panel, SynthConfig(covariates_weight=0.2))

    assert weighted.details["weights"] == pytest.approx({"u002": 1.0}, abs=1e-9)
    assert weighted.effect == pytest.approx(0.0, abs=1e-9)
    ignored = estimate_synth(matrix_panel(outcomes, 15), SynthConfig(covariates_weight=0.2))
    assert "covariates_weight is ignored: the panel has no covariates" in ignored.warnings
    size[:15, 4] = np.nan
    incomplete = matrix_panel(outcomes, 15, covariates={"size": size})
    dropped = estimate_synth(incomplete, SynthConfig(covariates_weight=0.2))
    assert "u004" not in dropped.details["weights_all"]
    assert any("or pre-period covariate values" in w for w in dropped.warnings)
    assert estimate_synth(incomplete).details["n_donors"] == 4


def test_donors_missing_a_period_are_dropped_with_a_warning() -> None:
    panel = synthetic_panel(6, 24, 18, effect=1.0, seed=3)
    frame = panel.frame.filter(~((pl.col("unit") == "u004") & (pl.col("time") == 5)))
    frame = frame.filter(~((pl.col("unit") == "u006") & (pl.col("time") == 20)))

    estimate = estimate_synth(panel.with_frame(frame))

    assert estimate.details["n_donors"] == 4
    assert "u004" not in estimate.details["weights_all"]
    assert estimate.n_obs == 5 * 24
    assert any(w.startswith("2 donor unit(s) were left out") for w in estimate.warnings)


def test_periods_missing_a_treated_unit_are_left_out() -> None:
    outcomes = np.column_stack([factor_outcomes(2, 20, seed=1), factor_outcomes(5, 20, seed=2)])
    panel = matrix_panel(outcomes, 14, n_treated=2)
    frame = panel.frame.filter(~((pl.col("unit") == "u001") & (pl.col("time") == 3)))

    estimate = estimate_synth(panel.with_frame(frame))

    assert estimate.details["n_pre"] == 13
    assert panel.time_label(3) not in estimate.details["series"]["period"]
    assert "1 period(s) where only some treated units have outcomes were left out" in (
        estimate.warnings
    )


def test_treated_series_outside_the_donor_range_is_flagged() -> None:
    donors = factor_outcomes(5, 20, seed=3)
    treated = donors.max(axis=1) + 2.0
    estimate = estimate_synth(matrix_panel(np.column_stack([treated, donors]), 15))
    assert any(
        "outside the donors' range in 15 of 15 pre periods" in warning
        for warning in estimate.warnings
    )


def test_details_are_plain_json() -> None:
    estimate = estimate_synth(synthetic_panel(8, 30, 24, effect=2.0, seed=0))
    text = json.dumps(estimate.to_dict(), allow_nan=False)
    assert json.loads(text)["details"]["placebo"][0]["unit"] == "u001"
    weights = list(estimate.details["weights"].values())
    assert weights == sorted(weights, reverse=True)
    assert min(weights) > 1e-6
    assert sum(estimate.details["weights_all"].values()) == pytest.approx(1.0)


# ---------------------------------------------------------------- refusals


def without(panel: Panel, condition: pl.Expr) -> Panel:
    return panel.with_frame(panel.frame.filter(~condition))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.with_frame(p.frame.with_columns(pl.lit(None, pl.Int64).alias("cohort"))),
            "no treated unit: synthetic control needs a unit with a treatment start (cohort)",
        ),
        (
            lambda p: p.with_frame(
                p.frame.with_columns(
                    pl.when(pl.col("unit") == "u01").then(5).otherwise("cohort").alias("cohort")
                )
            ),
            "treated units start at different times; use staggered",
        ),
        (
            lambda p: without(p, pl.col("unit").is_in(["u03", "u04", "u05"])),
            "synthetic control needs at least 2 never-treated donor units observed in every "
            "period of the treated series; found 1",
        ),
        (
            lambda p: without(
                p, pl.col("unit").is_in(["u03", "u04", "u05"]) & (pl.col("time") == 0)
            ),
            "synthetic control needs at least 2 never-treated donor units observed in every "
            "period of the treated series; found 1",
        ),
        (
            lambda p: without(p, pl.col("time") < 6),
            "synthetic control needs at least 3 periods before the start to fit the weights; "
            "found 2",
        ),
        (
            lambda p: without(p, pl.col("time") >= 8),
            "no post period: the treated units have no outcomes at or after the start",
        ),
        (
            lambda p: p.with_frame(p.frame.with_columns(pl.lit(None, pl.Int64).alias("time"))),
            "synthetic control needs outcomes over time; this panel has no time index",
        ),
    ],
)
def test_refusals(change, message: str) -> None:
    panel = make_panel(n_treated=2, n_control=4, n_periods=12, first_post=8, seed=1)
    estimate = estimate_synth(change(panel))
    assert not estimate.ok
    assert estimate.status == "cannot_estimate"
    assert estimate.message == message
    assert (estimate.effect, estimate.ci_low, estimate.p_value) == (None, None, None)


def test_treated_units_without_covariate_values_are_refused() -> None:
    outcomes = factor_outcomes(5, 12, seed=2)
    size = np.ones((12, 5))
    size[:8, 0] = np.nan
    panel = matrix_panel(outcomes, 8, covariates={"size": size})
    estimate = estimate_synth(panel, SynthConfig(covariates_weight=0.5))
    assert estimate.message == (
        "the treated units have no pre-period values of covariate(s) size; set "
        "covariates_weight to 0 or supply them"
    )


@pytest.mark.parametrize("weight", [-0.1, 1.0, 2.0])
def test_covariates_weight_must_be_a_share_below_one(weight: float) -> None:
    with pytest.raises(SpecError, match=r"covariates_weight: .* use a number in \[0, 1\)"):
        SynthConfig(covariates_weight=weight)


# ---------------------------------------------------------------- properties

panels = st.builds(
    synthetic_panel,
    n_donors=st.integers(2, 12),
    n_periods=st.integers(8, 30),
    first_post=st.integers(4, 7),
    effect=st.floats(-5, 5),
    seed=st.integers(0, 10_000),
    noise=st.sampled_from([0.1, 1.0]),
)
shared_panels = st.builds(
    make_panel,
    n_treated=st.integers(1, 6),
    n_control=st.integers(2, 6),
    n_periods=st.integers(5, 10),
    first_post=st.integers(3, 4),
    effect=st.floats(-5, 5),
    seed=st.integers(0, 10_000),
)
any_panel = st.one_of(panels, shared_panels)


@settings(max_examples=30, deadline=None)
@given(panel=any_panel, shift=st.floats(-100, 100).filter(lambda d: abs(d) > 1e-6))
def test_shifting_treated_post_outcomes_shifts_the_effect_and_interval(
    panel: Panel, shift: float
) -> None:
    shifted = panel.frame.with_columns(
        pl.when(pl.col("cohort").is_not_null() & pl.col("post"))
        .then(pl.col("y") + shift)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    before = estimate_synth(panel)
    after = estimate_synth(panel.with_frame(shifted))
    tolerance = 1e-7 * (1 + abs(shift))
    assert after.effect == pytest.approx(before.effect + shift, abs=tolerance)
    assert after.ci_low == pytest.approx(before.ci_low + shift, abs=tolerance)
    assert after.ci_high == pytest.approx(before.ci_high + shift, abs=tolerance)


@settings(max_examples=30, deadline=None)
@given(panel=any_panel, order_seed=st.integers(0, 1000))
def test_unit_order_and_labels_do_not_matter(panel: Panel, order_seed: int) -> None:
    units = panel.frame["unit"].unique().sort()
    shuffled = units.sample(fraction=1, shuffle=True, seed=order_seed)
    renamed = {old: f"x{new}" for old, new in zip(units, shuffled, strict=True)}
    permuted = panel.frame.with_columns(
        pl.col("unit").replace(renamed), pl.col("cluster").replace(renamed)
    ).sample(fraction=1, shuffle=True, seed=order_seed)
    original = estimate_synth(panel)
    reordered = estimate_synth(panel.with_frame(permuted))
    assert reordered.effect == pytest.approx(original.effect, abs=1e-9)
    assert reordered.se == pytest.approx(original.se, rel=1e-9)
    assert reordered.p_value == pytest.approx(original.p_value)
    assert (reordered.ci_low, reordered.ci_high) == pytest.approx(
        (original.ci_low, original.ci_high), abs=1e-7
    )
    assert {renamed[u]: w for u, w in original.details["weights"].items()} == pytest.approx(
        reordered.details["weights"], abs=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(panel=any_panel, alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_interval_contains_the_estimate_and_p_is_a_probability(panel: Panel, alpha: float) -> None:
    estimate = estimate_synth(panel, SynthConfig(alpha=alpha))
    assert estimate.ok
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert 0.0 < estimate.p_value <= 1.0
    assert estimate.p_value >= estimate.details["p_value_min"]


@settings(max_examples=20, deadline=None)
@given(panel=panels, scale=st.floats(0.01, 100), seed=st.integers(0, 100))
def test_common_time_shocks_cancel_and_scaling_scales(
    panel: Panel, scale: float, seed: int
) -> None:
    """Weights sum to one, so a shock shared by all units cancels (cf. synthdid's invariances)."""
    shocks = np.random.default_rng(seed).normal(0, 50, panel.frame["time"].max() + 1)
    shocked = panel.frame.with_columns(
        pl.col("y") + pl.col("time").map_elements(lambda t: shocks[t], return_dtype=pl.Float64)
    )
    scaled = panel.frame.with_columns(pl.col("y") * scale)
    base = estimate_synth(panel)
    assert estimate_synth(panel.with_frame(shocked)).effect == pytest.approx(base.effect, abs=1e-7)
    assert estimate_synth(panel.with_frame(scaled)).effect == pytest.approx(
        base.effect * scale, rel=1e-7, abs=1e-9
    )
