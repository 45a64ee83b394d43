"""Power, sample size and MDE: published numbers, design arithmetic, and simulated power."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evaluation.panel import Panel
from evaluation.power import (
    design_effect,
    did_variance_factor,
    mean_variance_factor,
    power_two_sample,
    solve_design,
)
from evaluation.power_simulation import (
    pseudo_trial,
    simulate_power,
    simulated_mde,
    simulation_jobs,
)
from evaluation.randomized import RandomizedConfig, estimate_randomized
from evaluation.result import Estimate, cannot_estimate
from livinglab.errors import InputError, SpecError
from tests.panels import make_panel

# A fast method for simulations: CUPED difference in means with Welch's t.
welch = partial(estimate_randomized, config=RandomizedConfig(randomization_inference=False))


@pytest.fixture(scope="module")
def history() -> Panel:
    """Twenty untreated units over twelve periods."""
    return make_panel(n_treated=0, n_control=20, n_periods=12, seed=4)


# --- two-sample t-test: Cohen (1988) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "cohen_n", "exact_n"),
    [
        # Cohen (1988), Table 2.4.1 (two-sided alpha = .05, power = .80): n per group 393, 64, 26.
        (0.2, 393, 394),
        (0.5, 64, 64),
        (0.8, 26, 26),
    ],
)
def test_sample_size_per_group_matches_cohen_table_2_4_1(
    d: float, cohen_n: int, exact_n: int
) -> None:
    solution = solve_design("individual", n_periods=1, mde=d, power=0.8)
    per_group = solution.details["n_units_exact"] / 2
    # Cohen tabulated rounded values of a normal approximation; the exact noncentral-t solution
    # rounds to his numbers (393.41, 63.77, 25.52). Rounding up, as a plan must, gives 394 for
    # d = .2: at 393 per group the exact power is 0.7996 (G*Power also gives 394).
    assert round(per_group) == cohen_n
    assert solution.n_units == 2 * exact_n
    assert solution.details["n_treated"] == exact_n
    assert solution.details["achieved_power"] >= 0.8
    assert power_two_sample(d, exact_n - 1, exact_n - 1) < 0.8
    assert solution.solved_for == "n_units"


def test_power_two_sample_is_the_noncentral_t_power() -> None:
    n, d = 30, 0.6
    df, noncentrality = 2 * n - 2, d * math.sqrt(n / 2)
    t_crit = stats.t.ppf(0.975, df)
    expected = stats.nct.sf(t_crit, df, noncentrality) + stats.nct.cdf(-t_crit, df, noncentrality)
    assert power_two_sample(d, n, n) == pytest.approx(expected, rel=1e-9)


def test_power_stays_defined_far_in_the_tail_with_two_units_per_arm() -> None:
    # statsmodels returns NaN here; the noncentral t from scipy gives the power:
    # df = 2, noncentrality 9 * sqrt(2 * 2 / 4) = 9.
    t_crit = stats.t.ppf(0.975, 2)
    expected = stats.nct.sf(t_crit, 2, 9.0) + stats.nct.cdf(-t_crit, 2, 9.0)
    assert power_two_sample(9.0, 2, 2) == pytest.approx(expected, rel=1e-12)
    assert 0.98 < power_two_sample(9.0, 2, 2) < 0.99


@settings(max_examples=60, deadline=None)
@given(
    effect=st.floats(0.0, 40.0),
    n_treated=st.integers(2, 6),
    n_control=st.integers(2, 6),
)
def test_power_is_a_probability_for_every_effect_and_tiny_arms(
    effect: float, n_treated: int, n_control: int
) -> None:
    power = power_two_sample(effect, n_treated, n_control)
    assert 0.0 <= power <= 1.0 + 1e-12


def test_unequal_arms_are_each_rounded_up_and_powered_as_rounded() -> None:
    solution = solve_design("individual", n_periods=1, mde=0.5, power=0.8, treated_share=0.3)
    n_treated = solution.details["n_treated"]
    exact = solution.details["n_units_exact"]
    assert n_treated == math.ceil(0.3 * exact)
    assert solution.n_units - n_treated == math.ceil(0.7 * exact)
    achieved = power_two_sample(0.5, n_treated, solution.n_units - n_treated)
    assert solution.details["achieved_power"] == pytest.approx(achieved, rel=1e-12)
    assert achieved >= 0.8


def test_solving_for_mde_and_power_round_trips() -> None:
    mde = solve_design("individual", n_units=128, n_periods=1, power=0.8, sd=2.0).mde
    back = solve_design("individual", n_units=128, n_periods=1, mde=mde, sd=2.0)
    assert back.power == pytest.approx(0.8, abs=1e-9)
    # d = 0.5 needs 64 per group (Cohen 1988, Table 2.4.1), so 128 units detect about 0.5 sd.
    assert mde / 2.0 == pytest.approx(0.5, abs=0.002)


def test_more_periods_shrink_the_unit_mean_variance_as_ar1_allows() -> None:
    rho, n = 0.6, 5
    lags = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    assert mean_variance_factor(n, rho) == pytest.approx((rho**lags).sum() / n**2, rel=1e-12)
    independent = solve_design("individual", n_units=40, n_periods=4, power=0.8).mde
    assert independent == pytest.approx(
        solve_design("individual", n_units=40, n_periods=1, power=0.8).mde / 2, rel=1e-9
    )


# --- cluster designs ----------------------------------------------------------------------------


def test_design_effect_arithmetic() -> None:
    # Donner & Klar (2000): DE = 1 + (m - 1) ICC; 20 per cluster at ICC .05 gives 1.95.
    assert design_effect(20, 0.05) == pytest.approx(1.95)
    assert design_effect(1, 0.3) == 1.0
    assert design_effect(10, 1.0) == 10.0


def test_cluster_mde_scales_the_individual_one_by_the_design_effect() -> None:
    cluster = solve_design("cluster", n_units=40, n_periods=1, power=0.8, cluster_size=10, icc=0.05)
    single = solve_design("individual", n_units=40, n_periods=1, power=0.8)
    # A cluster mean of 10 units has variance DE / 10 = 0.145 of a unit's; the test on 40 cluster
    # means is otherwise the test on 40 units.
    assert cluster.mde == pytest.approx(single.mde * math.sqrt(1.45 / 10), rel=1e-9)
    assert cluster.details["design_effect"] == pytest.approx(1.45)


def test_cluster_sample_size_inflates_by_the_design_effect_in_large_samples() -> None:
    m, icc, d = 20, 0.05, 0.1
    clusters = solve_design("cluster", n_periods=1, mde=d, power=0.8, cluster_size=m, icc=icc)
    units = solve_design("individual", n_periods=1, mde=d, power=0.8)
    ratio = clusters.details["n_units_exact"] * m / units.details["n_units_exact"]
    assert ratio == pytest.approx(design_effect(m, icc), rel=0.01)


# --- difference-in-differences with serial correlation ----------------------------------------


def pcpanel_bracket(m: int, r: int, rho: float) -> float:
    """The SCR bracket as Stata's pc_dd_analytic (pcpanel 3.0) computes it for ar1(), variance 1."""
    psi_b = 2 / ((m - 1) * m) * sum((m - k) * rho**k for k in range(1, m)) if m > 1 else 0.0
    psi_a = 2 / ((r - 1) * r) * sum((r - k) * rho**k for k in range(1, r)) if r > 1 else 0.0
    if m == 1 and r == 1:
        cross = rho
    else:
        low, high = min(m, r), max(m, r)
        cross = sum(k * rho**k for k in range(1, low + 1))
        cross += sum(low * rho**k for k in range(low + 1, high))
        cross += sum((m + r - k) * rho**k for k in range(max(high, low + 1), m + r))
        cross /= m * r
    return (m + r) / (m * r) + (r - 1) / r * psi_a + (m - 1) / m * psi_b - 2 * cross


@pytest.mark.parametrize(("m", "r"), [(1, 1), (4, 4), (5, 2), (2, 5), (3, 4), (6, 1)])
@pytest.mark.parametrize("rho", [0.0, 0.3, 0.8, -0.4])
def test_did_variance_matches_burlig_preonas_woerman(m: int, r: int, rho: float) -> None:
    # Burlig, Preonas & Woerman (2020): Var = bracket / (P (1 - P) J), bracket as in pcpanel.
    assert did_variance_factor(m, r, rho) == pytest.approx(pcpanel_bracket(m, r, rho), rel=1e-10)
    contrast = np.r_[np.full(m, -1 / m), np.full(r, 1 / r)]
    lags = np.abs(np.subtract.outer(np.arange(m + r), np.arange(m + r)))
    assert did_variance_factor(m, r, rho) == pytest.approx(contrast @ rho**lags @ contrast)


def test_did_power_uses_the_bracket_and_units_minus_one_degrees_of_freedom() -> None:
    solution = solve_design("did", n_units=100, n_periods=3, mde=0.3, n_pre=3, ar1=0.5, sd=1.2)
    se = 1.2 * math.sqrt(did_variance_factor(3, 3, 0.5) / (0.25 * 100))
    t_crit = stats.t.ppf(0.975, 99)
    expected = stats.t.cdf(0.3 / se - t_crit, 99) + stats.t.cdf(-0.3 / se - t_crit, 99)
    assert solution.power == pytest.approx(expected, rel=1e-12)


def test_solving_for_periods_returns_the_fewest_sufficient() -> None:
    solution = solve_design("did", n_units=200, mde=0.3, power=0.8, n_pre=4, ar1=0.5)
    fewer = solve_design(
        "did", n_units=200, n_periods=solution.n_periods - 1, mde=0.3, n_pre=4, ar1=0.5
    )
    assert solution.details["achieved_power"] >= 0.8 > fewer.power


def test_switchback_counts_blocks_across_routes() -> None:
    solution = solve_design("switchback", n_units=2, mde=0.5, power=0.8)
    # 128 blocks detect half a standard deviation (Cohen 1988, Table 2.4.1: 64 per arm).
    assert solution.n_periods == 64
    assert solution.n_units * solution.n_periods == 128


# --- solve_design validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_units": 10, "n_periods": 1, "mde": 0.5, "power": 0.8}, "got 0 None \\(none\\)"),
        ({"n_periods": 1, "mde": 0.5}, "got 2 None \\(n_units, power\\)"),
        (
            {"n_periods": 1, "mde": 0.5, "power": 0.8, "icc": 0.1},
            "icc: not a parameter of design 'individual'",
        ),
        (
            {"design": "cluster", "n_periods": 1, "mde": 0.5, "power": 0.8},
            "needs cluster_size, icc",
        ),
        ({"n_periods": 1, "mde": 0.5, "power": 0.04}, "power: 0.04 is not allowed"),
        ({"n_units": 3, "n_periods": 1, "power": 0.8}, "n_units: 3 is not allowed"),
        ({"n_periods": 1, "mde": -1.0, "power": 0.8}, "mde: -1.0 is not allowed"),
        ({"n_periods": 1, "mde": 0.5, "power": 0.8, "ar1": 1.0}, "ar1: 1.0 is not allowed"),
        (
            # DiD with one pre period: its noise stays however many post periods follow.
            {"design": "did", "n_units": 20, "mde": 0.5, "power": 0.9, "n_pre": 1},
            "no number of periods up to 1000 gives power 0.9",
        ),
    ],
)
def test_unusable_requests_are_refused_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        solve_design(**kwargs)


def test_unknown_design_lists_the_designs() -> None:
    with pytest.raises(SpecError, match="design: 'geo' is not allowed; use one of 'individual'"):
        solve_design("geo", n_units=10, n_periods=1, mde=0.5)  # type: ignore[arg-type]


# --- simulation-based power -------------------------------------------------------------------


def test_pseudo_trial_treats_the_chosen_units_and_scales_their_post_outcomes(
    history: Panel,
) -> None:
    job = simulation_jobs(effect=0.25, n_treated=4, n_post=3, n_simulations=1, seed=9)[0]
    trial = pseudo_trial(history, job).frame
    start = trial.filter("post")["time"].min()
    assert trial.filter("treated")["unit"].n_unique() == 4
    assert trial["time"].max() - start + 1 == 3
    assert start >= 2
    joined = trial.join(history.frame, on=["unit", "time"], suffix="_history")
    scaled = joined.filter(pl.col("treated") & pl.col("post"))
    assert np.allclose(scaled["y"], 1.25 * scaled["y_history"])
    untouched = joined.filter(~(pl.col("treated") & pl.col("post")))
    assert np.array_equal(untouched["y"], untouched["y_history"])


def test_no_effect_is_rejected_about_as_often_as_alpha(history: Panel) -> None:
    result = simulate_power(history, welch, 0.0, n_treated=10, n_post=3, n_simulations=100, seed=1)
    assert 0.0 <= result.power <= 0.15
    assert result.n_simulations == 100
    assert result.n_failed == 0


def test_a_large_effect_is_nearly_always_detected(history: Panel) -> None:
    result = simulate_power(history, welch, 0.5, n_treated=10, n_post=3, n_simulations=30, seed=1)
    assert result.power >= 0.95


def test_replays_are_reproducible_and_failures_count_as_no_answer(history: Panel) -> None:
    first = simulate_power(history, welch, 0.1, n_treated=5, n_post=2, n_simulations=20, seed=3)
    again = simulate_power(history, welch, 0.1, n_treated=5, n_post=2, n_simulations=20, seed=3)
    assert first == again

    def refuses(panel: Panel) -> Estimate:
        return cannot_estimate("none", "nothing", "always refuses")

    failed = simulate_power(history, refuses, 0.5, n_treated=5, n_post=2, n_simulations=5, seed=3)
    assert (failed.power, failed.n_failed) == (0.0, 5)


def test_simulated_mde_bisects_to_the_smallest_effect_with_the_target_power(history: Panel) -> None:
    result = simulated_mde(
        history, welch, n_treated=10, n_post=3, n_simulations=30, seed=1, tolerance=0.02
    )
    assert result.mde is not None
    assert result.power >= 0.8
    tried = {e.effect: e.power for e in result.evaluations}
    weaker = [effect for effect, power in tried.items() if power < 0.8]
    assert max(weaker) < result.mde <= max(weaker) + 0.02
    assert all(power >= 0.8 for effect, power in tried.items() if effect >= result.mde)


def test_simulated_mde_says_when_the_largest_effect_is_not_enough(history: Panel) -> None:
    result = simulated_mde(
        history, welch, n_treated=10, n_post=3, n_simulations=10, seed=1, max_effect=0.001
    )
    assert result.mde is None
    assert "reaches only power" in result.message


@pytest.mark.parametrize(
    ("n_treated", "n_post", "message"),
    [(20, 2, "n_treated: 20 is not allowed"), (5, 11, "do not fit in the 12 periods")],
)
def test_simulations_that_do_not_fit_the_history_are_refused(
    history: Panel, n_treated: int, n_post: int, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        simulate_power(history, welch, 0.1, n_treated, n_post, n_simulations=2, seed=0)
