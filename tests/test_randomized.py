"""Randomized comparisons: Welch and Fisher inference, CUPED, cluster, switchback, rates."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.randomized import RandomizedConfig, estimate_randomized
from evaluation.randomized_inference import fisher_difference_in_means
from livinglab.errors import InputError, SpecError
from tests.panels import make_panel

UNADJUSTED = RandomizedConfig(adjustment="none")
CLUSTER = RandomizedConfig(design="cluster")
SWITCHBACK = RandomizedConfig(design="switchback")
RATES = RandomizedConfig(exposure="km")


Row = tuple[str, int, float, bool, bool, str]  # unit, time, y, treated, post, cluster


def panel_of(rows: list[Row], km: list[float] | None = None) -> Panel:
    """A panel from rows; ``cohort`` stays null, as the randomized estimator does not read it."""
    unit, time, y, treated, post, cluster = (list(column) for column in zip(*rows, strict=True))
    columns = {"unit": unit, "time": time, "y": y, "treated": treated, "post": post}
    columns |= {"cohort": [None] * len(rows), "cluster": cluster, "weight": [1.0] * len(rows)}
    schema = PANEL_SCHEMA | ({"km": pl.Float64} if km else {})
    frame = pl.DataFrame(columns | ({"km": km} if km else {}), schema=schema)
    return Panel(frame, "y", times=tuple(sorted(set(time))), covariates=("km",) if km else ())


def cross_section(treated: Sequence[float], control: Sequence[float]) -> Panel:
    """One post-period row per unit, no pre-period."""
    values = [*treated, *control]
    return panel_of(
        [(f"u{i:02d}", 0, v, i < len(treated), True, f"u{i:02d}") for i, v in enumerate(values)]
    )


def switchback(arms: dict[str, Sequence[int]], effect: float = 2.0, seed: int = 0) -> Panel:
    """Routes whose periods were randomised to treatment (1) or control (0)."""
    rng = np.random.default_rng(seed)
    return panel_of(
        [
            (route, t, 10.0 + r + effect * arm + rng.normal(), bool(arm), True, route)
            for r, (route, sequence) in enumerate(arms.items())
            for t, arm in enumerate(sequence)
        ]
    )


def clustered(n_clusters: int = 10, size: int = 3, effect: float = 1.0, seed: int = 0) -> Panel:
    """Half the clusters treated from period 2 of 4, clusters of unequal sizes."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clusters):
        treated, level = c < n_clusters // 2, rng.normal(0, 2)
        for u in range(size + c % 2):
            unit_level = rng.normal()
            for t in range(4):
                y = 10 + level + unit_level + rng.normal() + effect * (treated and t >= 2)
                rows.append((f"c{c}u{u}", t, y, treated, t >= 2, f"c{c}"))
    return panel_of(rows)


def with_counts(
    rates: tuple[float, float], n_units: int = 20, seed: int = 0, overdispersion: float = 0.0
) -> Panel:
    """Event counts over exposure ``km`` per unit-period; the first half of units are treated."""
    rng = np.random.default_rng(seed)
    rows, km = [], []
    for u in range(n_units):
        treated = u < n_units // 2
        frailty = rng.gamma(1 / overdispersion, overdispersion) if overdispersion else 1.0
        for t in range(4):
            km.append(float(rng.uniform(200, 400)))
            mean = km[-1] / 1000 * rates[0 if treated else 1] * frailty
            rows.append((f"v{u:02d}", t, float(rng.poisson(mean)), treated, True, f"v{u:02d}"))
    return panel_of(rows, km)


def difference(frame: pl.DataFrame) -> float:
    """Mean outcome of the treated rows minus that of the control rows."""
    means = dict(frame.group_by("treated").agg(pl.col("y").mean()).iter_rows())
    return means[True] - means[False]


def unit_means(panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit's post-period mean, pre-period mean and arm, in unit order."""
    means = panel.frame.group_by("unit", "treated", "post").agg(pl.col("y").mean()).sort("unit")
    post, pre = means.filter("post"), means.filter(~pl.col("post"))
    return post["y"].to_numpy(), pre["y"].to_numpy(), post["treated"].to_numpy()


# --- difference in means and Welch --------------------------------------------------------------


def test_welch_numbers_equal_scipy_unequal_variance_t_test() -> None:
    treated, control = [5.1, 6.3, 4.8, 7.9, 6.6], [4.2, 3.9, 5.5, 4.1, 3.0, 4.8, 5.0]
    config = RandomizedConfig(adjustment="none", randomization_inference=False)
    estimate = estimate_randomized(cross_section(treated, control), config)
    reference = stats.ttest_ind(treated, control, equal_var=False)
    interval = reference.confidence_interval(0.95)
    welch = estimate.details["welch"]
    assert estimate.effect == pytest.approx(np.mean(treated) - np.mean(control), rel=1e-12)
    assert welch["t"] == pytest.approx(reference.statistic, rel=1e-10)
    assert welch["df"] == pytest.approx(reference.df, rel=1e-10)
    # Without randomization inference the headline numbers are Welch's.
    assert (estimate.p_value, estimate.ci_low, estimate.ci_high) == pytest.approx(
        (reference.pvalue, interval.low, interval.high), rel=1e-10
    )
    assert estimate.details["randomization_inference"] is None


def test_each_unit_counts_once_whatever_its_number_of_post_rows() -> None:
    panel = make_panel(n_treated=3, n_control=4, n_periods=6, first_post=2, effect=1.0, seed=8)
    dropped = panel.frame.filter(~((pl.col("unit") == "u00") & (pl.col("time") > 2)))
    expected = difference(
        dropped.filter("post").group_by("unit", "treated").agg(pl.col("y").mean())
    )
    estimate = estimate_randomized(panel.with_frame(dropped), UNADJUSTED)
    assert estimate.effect == pytest.approx(expected, rel=1e-12)
    assert (estimate.n_units, estimate.n_treated) == (7, 3)


# --- randomization inference ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treated", "control", "extreme"),
    [
        # By hand: only the observed split and its mirror image reach |difference| = 4.
        ([5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0], 2),
        # By hand: with values 1..8 a split's difference is (S - 18) / 2, S the treated sum, here
        # 22. |S - 18| >= 4 for the 1 + 1 + 2 + 3 + 5 = 12 four-subsets summing to 10..14 and,
        # by symmetry, the 12 summing to 22..26.
        ([3.0, 5.0, 6.0, 8.0], [1.0, 2.0, 4.0, 7.0], 24),
    ],
)
def test_exact_fisher_p_value_counts_the_70_assignments_at_least_as_extreme(
    treated: list[float], control: list[float], extreme: int
) -> None:
    sums = [sum(c) for c in itertools.combinations(treated + control, 4)]
    assert sum(abs(s - 18) >= abs(sum(treated) - 18) for s in sums) == extreme
    estimate = estimate_randomized(cross_section(treated, control), UNADJUSTED)
    fisher = estimate.details["randomization_inference"]
    assert (fisher["n_assignments"], fisher["exact"]) == (70, True)
    assert estimate.p_value == pytest.approx(extreme / 70, abs=1e-15)


def test_interval_is_the_set_of_constant_effects_not_rejected() -> None:
    treated, control = [3.1, 5.2, 6.0, 8.4, 4.4], [1.0, 2.5, 4.1, 7.3, 0.2, 3.3]
    config = RandomizedConfig(adjustment="none", alpha=0.1)
    estimate = estimate_randomized(cross_section(treated, control), config)

    def p_at(tau: float) -> float:
        shifted = [y - tau for y in treated]
        result = estimate_randomized(cross_section(shifted, control), config)
        return float(result.p_value)  # type: ignore[arg-type]

    step = 1e-7
    assert p_at(estimate.ci_low + step) >= 0.1 > p_at(estimate.ci_low - step)
    assert p_at(estimate.ci_high - step) >= 0.1 > p_at(estimate.ci_high + step)


def ancova(outcome: np.ndarray, arms: np.ndarray, x: np.ndarray) -> float:
    """Coefficient on the arm in the least-squares fit of outcome on 1, arm and x."""
    return float(np.linalg.lstsq(np.column_stack([x**0, arms, x]), outcome, rcond=None)[0][1])


def brute_force_p(y: np.ndarray, arms: np.ndarray, x: np.ndarray, tau: float) -> float:
    """Re-run the estimator on the outcomes H0(tau) implies under each of the C(n, k) splits."""
    observed = abs(ancova(y, arms, x) - tau)
    null = y - tau * arms
    extreme = []
    for chosen in itertools.combinations(range(y.size), int(arms.sum())):
        w = np.isin(np.arange(y.size), chosen)
        design = np.column_stack([np.ones_like(x), w, x])
        if np.linalg.matrix_rank(design) < 3:  # the statistic is undefined: counted as extreme
            extreme.append(True)
            continue
        extreme.append(abs(ancova(null + tau * w, w, x) - tau) >= observed - 1e-9)
    return float(np.mean(extreme))


def test_cuped_interval_inverts_the_test_with_the_slope_reestimated_per_assignment() -> None:
    rng = np.random.default_rng(3)
    arms = np.arange(9) < 4
    x = rng.normal(size=9)
    y = 0.8 * x + rng.normal(size=9) + arms
    test = fisher_difference_in_means(
        y, arms, np.ones(9), np.zeros(9), covariate=x, alpha=0.1, n_permutations=500, seed=0
    )
    assert test.exact
    assert test.n_assignments == 126
    assert test.p_value == pytest.approx(brute_force_p(y, arms, x, 0.0), abs=1e-12)
    step = 1e-6
    assert brute_force_p(y, arms, x, test.ci_low + step) >= 0.1
    assert brute_force_p(y, arms, x, test.ci_low - step) < 0.1
    assert brute_force_p(y, arms, x, test.ci_high - step) >= 0.1
    assert brute_force_p(y, arms, x, test.ci_high + step) < 0.1


def test_assignments_the_covariate_explains_perfectly_count_as_extreme() -> None:
    arms = np.arange(8) < 4
    x = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])  # the split {0, 1, 4, 5} is x itself
    y = np.array([3.0, 4.5, 2.0, 2.4, 1.0, 2.2, 0.3, 0.9])
    test = fisher_difference_in_means(
        y, arms, np.ones(8), np.zeros(8), covariate=x, alpha=0.05, n_permutations=100, seed=0
    )
    assert test.p_value == pytest.approx(brute_force_p(y, arms, x, 0.0), abs=1e-12)
    assert test.p_value >= 3 / 70  # the observed split and the two that equal x or 1 - x


def test_far_effects_left_unrejected_by_few_assignments_are_flagged_not_reported() -> None:
    # 2 of 5 units treated: 10 assignments. One has a regression-adjusted statistic that grows
    # faster than the observed one as tau moves away, so effects far out are not rejected either.
    panel = make_panel(n_treated=2, n_control=3, n_periods=4, first_post=2, seed=5)
    estimate = estimate_randomized(panel, RandomizedConfig(alpha=0.2))
    fisher = estimate.details["randomization_inference"]
    assert fisher["rejected_gaps"]
    assert any("far from the estimate are not rejected" in w for w in estimate.warnings)
    y, x, arms = unit_means(panel)
    # Brute force: nothing below the estimate is rejected, the interval stops where rejection
    # starts above it (short of zero, p = 1/10), and far above, rejection stops again.
    assert estimate.ci_low == -math.inf
    assert brute_force_p(y, arms, x, estimate.ci_high - 1e-6) >= 0.2
    assert brute_force_p(y, arms, x, estimate.ci_high + 1e-6) < 0.2
    assert estimate.p_value == pytest.approx(0.1)
    assert estimate.ci_high < 0
    assert brute_force_p(y, arms, x, 1e4) >= 0.2


def test_monte_carlo_p_value_counts_the_observed_assignment_and_is_reproducible() -> None:
    panel = make_panel(n_treated=10, n_control=10, effect=0.5, seed=4)  # C(20, 10) = 184,756
    config = RandomizedConfig(n_permutations=999, seed=11)
    first, second = estimate_randomized(panel, config), estimate_randomized(panel, config)
    fisher = first.details["randomization_inference"]
    assert fisher["n_assignments"] == 1000
    assert not fisher["exact"]
    assert first.p_value == second.p_value
    assert first.p_value >= 1 / 1000
    assert (first.p_value * 1000) == pytest.approx(round(first.p_value * 1000), abs=1e-9)


def test_too_few_assignments_give_an_unbounded_interval_with_a_warning() -> None:
    # 2 of 4 treated: 6 assignments, the smallest possible p-value is 2/6 > 0.05.
    estimate = estimate_randomized(cross_section([5.0, 6.0], [1.0, 2.0]), UNADJUSTED)
    assert estimate.p_value == pytest.approx(2 / 6)
    assert (estimate.ci_low, estimate.ci_high) == (-math.inf, math.inf)
    assert any("cannot bound the effect" in w for w in estimate.warnings)
    assert estimate.to_dict()["ci_low"] is None


# --- CUPED ------------------------------------------------------------------------------------


def test_cuped_is_the_regression_adjusted_difference_and_shrinks_the_error() -> None:
    panel = make_panel(n_treated=8, n_control=8, effect=1.0, seed=5)
    y, x, arms = unit_means(panel)
    # theta: the within-arm slope pooled over both arms, i.e. the OLS slope on x given the arm.
    design = np.column_stack([np.ones_like(x), arms.astype(float), x])
    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    adjusted = y - coefficients[2] * (x - x.mean())

    cuped = estimate_randomized(panel)
    plain = estimate_randomized(panel, UNADJUSTED)

    assert cuped.details["cuped_theta"] == pytest.approx(coefficients[2], rel=1e-10)
    assert cuped.effect == pytest.approx(coefficients[1], rel=1e-10)
    assert cuped.details["welch"]["p_value"] == pytest.approx(
        stats.ttest_ind(adjusted[arms], adjusted[~arms], equal_var=False).pvalue, rel=1e-10
    )
    assert cuped.se < plain.se
    assert cuped.details["variance_reduction"] > 0.5
    assert cuped.details["unadjusted_effect"] == pytest.approx(plain.effect)


def test_cuped_without_pre_period_falls_back_to_unadjusted_with_a_warning() -> None:
    panel = cross_section([5.1, 6.3, 4.8], [4.2, 3.9, 5.5])
    estimate = estimate_randomized(panel)
    assert estimate.details["adjustment"] == "none"
    assert estimate.effect == pytest.approx(estimate_randomized(panel, UNADJUSTED).effect)
    assert any("CUPED needs each unit's pre-period mean" in w for w in estimate.warnings)


# --- cluster and switchback designs -----------------------------------------------------------


def test_cluster_design_weights_cluster_means_by_size_and_permutes_clusters() -> None:
    panel = clustered()
    estimate = estimate_randomized(panel, RandomizedConfig(design="cluster", adjustment="none"))
    units = (
        panel.frame.filter("post").group_by("unit", "cluster", "treated").agg(pl.col("y").mean())
    )
    clusters = units.group_by("cluster", "treated").agg(pl.col("y").mean(), pl.len().alias("w"))
    parts = []
    for arm in (True, False):
        c = clusters.filter(pl.col("treated") == arm)
        y, share = c["y"].to_numpy(), c["w"].to_numpy() / c["w"].sum()
        mean = share @ y
        parts.append((mean, len(y) / (len(y) - 1) * (share**2 @ (y - mean) ** 2)))
    assert estimate.effect == pytest.approx(difference(units), rel=1e-12)
    assert estimate.effect == pytest.approx(parts[0][0] - parts[1][0], rel=1e-12)
    assert estimate.se == pytest.approx(math.sqrt(parts[0][1] + parts[1][1]), rel=1e-12)
    assert estimate.details["randomization_inference"]["n_assignments"] == math.comb(10, 5)
    assert estimate.details["randomisation_units"] == {
        "level": "cluster",
        "treated": 5,
        "control": 5,
    }


def test_switchback_washout_drops_the_blocks_right_after_each_switch() -> None:
    arms = {"r0": [1, 1, 0, 0, 0, 1, 1, 1], "r1": [0, 1, 1, 0, 0, 0, 1, 1]}
    panel = switchback(arms)
    # Switches: r0 at periods 2 and 5; r1 at 1, 3 and 6. The first period is not a switch.
    kept = {
        0: {"r0": range(8), "r1": range(8)},
        1: {"r0": [0, 1, 3, 4, 6, 7], "r1": [0, 2, 4, 5, 7]},
        2: {"r0": [0, 1, 4, 7], "r1": [0, 5]},
    }
    for washout, blocks in kept.items():
        config = RandomizedConfig(design="switchback", washout=washout, adjustment="none")
        estimate = estimate_randomized(panel, config)
        keep = pl.any_horizontal(
            (pl.col("unit") == route) & pl.col("time").is_in(list(times))
            for route, times in blocks.items()
        )
        rows = panel.frame.filter(keep)
        assert estimate.n_obs == rows.height
        assert estimate.details["n_washout_dropped"] == 16 - rows.height
        assert estimate.effect == pytest.approx(difference(rows), rel=1e-12)


def test_switchback_blocks_are_reshuffled_within_each_route() -> None:
    panel = switchback({"r0": [1, 0, 1, 0, 0, 1], "r1": [0, 0, 1, 1, 0, 1, 0]})
    fisher = estimate_randomized(panel, SWITCHBACK).details["randomization_inference"]
    assert fisher["n_assignments"] == math.comb(6, 3) * math.comb(7, 3)
    assert (estimate_randomized(panel, SWITCHBACK).n_units, fisher["exact"]) == (13, True)


# --- event rates ------------------------------------------------------------------------------


@pytest.mark.parametrize("idle_first_period", [False, True])
def test_poisson_rate_ratio_is_the_ratio_of_events_per_exposure(idle_first_period: bool) -> None:
    panel = with_counts((3.0, 5.0), seed=2)
    if idle_first_period:  # rows without exposure carry no information and are left out
        idle = pl.when(pl.col("time") == 0).then(0.0).otherwise(pl.col("km")).alias("km")
        panel = panel.with_frame(panel.frame.with_columns(idle))
    estimate = estimate_randomized(panel, RATES)
    used = panel.frame.filter(pl.col("km") > 0)
    totals = used.group_by("treated").agg(pl.col("y").sum(), pl.col("km").sum())
    rate = {t: 1000 * y / km for t, y, km in totals.iter_rows()}
    details = estimate.details
    assert details["model"] == "poisson"
    assert details["rate_ratio"] == pytest.approx(rate[True] / rate[False], rel=1e-8)
    assert (details["treated_rate"], details["control_rate"]) == pytest.approx(
        (rate[True], rate[False]), rel=1e-8
    )
    assert estimate.effect == pytest.approx(rate[True] - rate[False], rel=1e-8)
    assert estimate.relative_effect == pytest.approx(details["rate_ratio"] - 1)
    assert details["rate_ratio_ci_low"] < details["rate_ratio"] < details["rate_ratio_ci_high"]
    assert 0 <= details["randomization_p_value"] <= 1
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert ("20 row(s) without positive km were left out" in estimate.warnings) == idle_first_period
    json.dumps(estimate.to_dict())


def test_delta_method_error_of_the_rate_difference() -> None:
    import statsmodels.api as sm

    panel = with_counts((3.0, 5.0), seed=6)
    frame = panel.frame
    arm = np.column_stack([np.ones(frame.height), frame["treated"].cast(float).to_numpy()])
    y, km, units = (frame[name].to_numpy() for name in ("y", "km", "unit"))
    model = sm.GLM(y, arm, family=sm.families.Poisson(), offset=np.log(km))
    fit = model.fit(
        cov_type="cluster", cov_kwds={"groups": np.unique(units, return_inverse=True)[1]}
    )
    b0, b1 = fit.params
    gradient = 1000 * np.array([np.exp(b0 + b1) - np.exp(b0), np.exp(b0 + b1)])
    estimate = estimate_randomized(panel, RATES)
    assert estimate.se == pytest.approx(np.sqrt(gradient @ fit.cov_params() @ gradient), rel=1e-6)


def test_overdispersed_counts_switch_to_negative_binomial_unless_it_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    panel = with_counts((30.0, 50.0), n_units=30, seed=1, overdispersion=1.0)
    estimate = estimate_randomized(panel, RATES)
    assert estimate.details["dispersion"] > 1.5
    assert estimate.details["model"] == "negative_binomial"
    assert estimate.details["negative_binomial_alpha"] > 0
    assert any("a negative binomial model was used" in w for w in estimate.warnings)

    class Unconverged(sm.NegativeBinomial):
        def fit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            warnings.warn("maximum likelihood did not converge", ConvergenceWarning, stacklevel=1)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr("evaluation.rates.sm.NegativeBinomial", Unconverged)
    estimate = estimate_randomized(panel, RATES)
    assert estimate.details["model"] == "poisson"
    assert any("negative binomial fit did not converge" in w for w in estimate.warnings)


def test_rate_inputs_that_cannot_be_used_are_named() -> None:
    panel = with_counts((3.0, 5.0))
    with pytest.raises(InputError, match="exposure: column 'hours' is not in the panel"):
        estimate_randomized(panel, RandomizedConfig(exposure="hours"))
    negative = panel.with_frame(panel.frame.with_columns(pl.col("y") - 100))
    with pytest.raises(InputError, match="event counts of zero or more"):
        estimate_randomized(negative, RATES)
    silent = panel.with_frame(
        panel.frame.with_columns(pl.when("treated").then(pl.col("y")).otherwise(0.0).alias("y"))
    )
    estimate = estimate_randomized(silent, RATES)
    assert estimate.status == "cannot_estimate"
    assert "no events in the control arm" in estimate.message


# --- refusals and configuration ---------------------------------------------------------------


def without_post(panel: Panel) -> Panel:
    return panel.with_frame(panel.frame.filter(~pl.col("post")))


def without_time(panel: Panel) -> Panel:
    return panel.with_frame(panel.frame.with_columns(pl.lit(None, pl.Int64).alias("time")))


@pytest.mark.parametrize(
    ("panel", "config", "message"),
    [
        (without_post(make_panel()), UNADJUSTED, "no outcomes after the start"),
        (make_panel(n_treated=1, n_control=5), UNADJUSTED, "only 1 treated unit(s)"),
        (clustered(n_clusters=3), CLUSTER, "only 1 treated cluster(s)"),
        (switchback({"r0": [1, 0, 1, 0]}), UNADJUSTED, "'r0' has outcomes in both arms"),
        (switchback({"r0": [1, 0, 0]}), SWITCHBACK, "only 1 treated block(s)"),
        (without_time(switchback({"r0": [1, 0, 1, 0]})), SWITCHBACK, "period of every block"),
        (cross_section([1.0, 1.0], [0.0, 0.0]), UNADJUSTED, "do not vary within either arm"),
    ],
)
def test_designs_that_cannot_support_an_answer_say_why(
    panel: Panel, config: RandomizedConfig, message: str
) -> None:
    estimate = estimate_randomized(panel, config)
    assert estimate.status == "cannot_estimate"
    assert message in estimate.message
    assert (estimate.effect, estimate.se, estimate.p_value) == (None, None, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"design": "stepped"}, "design: 'stepped' is not allowed; use one of 'individual'"),
        ({"adjustment": "ancova"}, "adjustment: 'ancova' is not allowed; use one of 'none'"),
        ({"n_permutations": 0}, "n_permutations: 0 is not allowed"),
        ({"washout": 1}, "washout: 1 applies only to design 'switchback'"),
        ({"design": "switchback", "washout": -1}, "washout: -1 is not allowed"),
    ],
)
def test_invalid_configurations_are_rejected_with_the_allowed_values(
    options: dict, message: str
) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        RandomizedConfig(**options)


# --- properties -------------------------------------------------------------------------------

panels = st.builds(
    make_panel,
    n_treated=st.integers(2, 6),
    n_control=st.integers(2, 6),
    n_periods=st.integers(4, 8),
    first_post=st.integers(2, 3),
    effect=st.floats(-5, 5),
    seed=st.integers(0, 10_000),
)
adjustments = st.sampled_from(["none", "cuped"])


@settings(max_examples=25, deadline=None)
@given(panel=panels, shift=st.floats(-100, 100).filter(lambda d: abs(d) > 1e-6), how=adjustments)
def test_shifting_treated_post_outcomes_by_d_shifts_the_effect_by_d(
    panel: Panel, shift: float, how: str
) -> None:
    shifted = panel.frame.with_columns(
        pl.when(pl.col("treated") & pl.col("post")).then(pl.col("y") + shift).otherwise(pl.col("y"))
    )
    config = RandomizedConfig(adjustment=how, randomization_inference=False)  # type: ignore[arg-type]
    before = estimate_randomized(panel, config)
    after = estimate_randomized(panel.with_frame(shifted), config)
    assert after.effect == pytest.approx(before.effect + shift, abs=1e-7 * (1 + abs(shift)))


@settings(max_examples=20, deadline=None)
@given(panel=panels, order_seed=st.integers(0, 1000), how=adjustments)
def test_unit_order_and_labels_do_not_matter(panel: Panel, order_seed: int, how: str) -> None:
    units = panel.frame["unit"].unique().sort()
    relabel = dict(zip(units, units.sample(fraction=1, shuffle=True, seed=order_seed), strict=True))
    renamed = {old: f"x{new}" for old, new in relabel.items()}
    permuted = panel.frame.with_columns(
        pl.col("unit").replace(renamed), pl.col("cluster").replace(renamed)
    ).sample(fraction=1, shuffle=True, seed=order_seed)
    config = RandomizedConfig(adjustment=how)  # type: ignore[arg-type]
    original = estimate_randomized(panel, config)
    reordered = estimate_randomized(panel.with_frame(permuted), config)
    assert reordered.effect == pytest.approx(original.effect, abs=1e-9)
    assert reordered.se == pytest.approx(original.se, rel=1e-9)
    # Every panel here has at most C(12, 6) = 924 assignments: exact, so order-free too.
    assert reordered.p_value == pytest.approx(original.p_value, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(panel=panels, alpha=st.sampled_from([0.05, 0.1, 0.2]), how=adjustments)
def test_interval_contains_the_estimate_and_agrees_with_the_p_value(
    panel: Panel, alpha: float, how: str
) -> None:
    estimate = estimate_randomized(panel, RandomizedConfig(alpha=alpha, adjustment=how))  # type: ignore[arg-type]
    assert estimate.ok
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert 0.0 <= estimate.p_value <= 1.0
    assert (estimate.p_value < alpha) == (estimate.ci_low > 0 or estimate.ci_high < 0)
    json.dumps(estimate.to_dict())
