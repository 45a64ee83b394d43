"""The registered decision rule: Scale, Extend/Iterate or Stop, and how much more data to get."""

from __future__ import annotations

import pytest
from scipy import stats

from evaluation.decision import (
    MetricOutcome,
    Plan,
    guardrail_state,
    recommend,
)
from evaluation.power import did_variance_factor
from evaluation.result import Estimate

PLAN = Plan(
    alpha=0.05, power=0.8, mde=0.2, family_size=1, n_units=12, n_pre=12, n_post=12, period="week"
)


def estimate(effect: float, se: float, p: float, relative: float | None = None) -> Estimate:
    z = stats.norm.ppf(0.975)
    return Estimate(
        method="did",
        estimand="ATT",
        effect=effect,
        se=se,
        ci_low=effect - z * se,
        ci_high=effect + z * se,
        p_value=p,
        relative_effect=relative if relative is not None else effect / 10.0,
        n_obs=288,
        n_units=12,
        n_treated=6,
    )


def primary(effect: float, se: float, p: float, p_adjusted: float | None = None) -> MetricOutcome:
    return MetricOutcome(
        "collections", "primary", "lower_is_better", estimate(effect, se, p), p_adjusted
    )


def guardrail(effect: float, se: float, margin: float = 2.0) -> MetricOutcome:
    return MetricOutcome(
        "overflow", "guardrail", "lower_is_better", estimate(effect, se, 0.5), margin=margin
    )


# --- the rule ---


def test_a_significant_improvement_with_guardrails_held_scales() -> None:
    outcome = recommend([primary(-2.0, 0.5, 0.001), guardrail(0.1, 0.5)], PLAN)
    assert outcome.recommendation == "scale"
    assert outcome.label == "Scale"
    assert outcome.extension is None


def test_a_significantly_worse_primary_stops() -> None:
    outcome = recommend([primary(2.0, 0.5, 0.001), guardrail(0.1, 0.5)], PLAN)
    assert outcome.recommendation == "stop"
    assert "significantly worse" in outcome.reasons[0]


def test_a_failed_guardrail_stops_even_when_the_primary_improves() -> None:
    outcome = recommend([primary(-2.0, 0.5, 0.001), guardrail(5.0, 0.5)], PLAN)
    assert outcome.recommendation == "stop"
    assert "overflow" in outcome.reasons[-1]


def test_the_corrected_p_value_decides_not_the_raw_one() -> None:
    raw_only = primary(-2.0, 0.9, 0.03, p_adjusted=0.09)  # Holm across the family: not < 0.05
    assert recommend([raw_only], PLAN).recommendation == "iterate"
    assert recommend([primary(-2.0, 0.9, 0.03)], PLAN).recommendation == "scale"


def test_an_inconclusive_guardrail_keeps_a_good_primary_from_scaling() -> None:
    outcome = recommend([primary(-2.0, 0.5, 0.001), guardrail(1.0, 1.0)], PLAN)
    assert outcome.recommendation == "iterate"
    assert any("overflow inconclusive" in reason for reason in outcome.reasons)
    assert outcome.extension is not None
    assert outcome.extension.more_units > 0


def test_a_primary_that_cannot_be_estimated_iterates_and_says_why() -> None:
    failed = Estimate(
        "synth", "ATT", None, None, None, None, None, None, 0, 0, 0, "cannot_estimate", "no donors"
    )
    outcome = recommend([MetricOutcome("speed", "primary", "higher_is_better", failed)], PLAN)
    assert outcome.recommendation == "iterate"
    assert "no donors" in outcome.reasons[0]
    assert outcome.extension is None


def test_a_rule_needs_a_primary_metric() -> None:
    with pytest.raises(ValueError, match="primary"):
        recommend([guardrail(0.0, 1.0)], PLAN)


# --- how much more data ---


def test_more_units_scale_the_variance_down_as_one_over_n() -> None:
    # counterfactual mean 10 (effect / relative), MDE 20% = 2 units of the metric; se 1.0 gives
    # a required se of 2 / (z_0.975 + z_0.8) = 0.714, so the variance must shrink 1.96-fold.
    outcome = recommend([primary(-1.0, 1.0, 0.3)], PLAN)
    needed = 2.0 / (stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
    ratio = (1.0 / needed) ** 2
    extension = outcome.extension
    assert extension is not None
    assert extension.variance_ratio == pytest.approx(ratio)
    assert extension.more_units == int(-(-12 * ratio // 1)) - 12


def test_more_periods_meet_the_variance_goal_and_no_fewer_do() -> None:
    extension = recommend([primary(-1.0, 0.8, 0.3)], PLAN).extension
    assert extension is not None
    assert extension.more_periods is not None
    goal = did_variance_factor(12, 12, 0.0) / extension.variance_ratio
    assert did_variance_factor(12, 12 + extension.more_periods, 0.0) <= goal
    assert did_variance_factor(12, 12 + extension.more_periods - 1, 0.0) > goal


def test_when_time_alone_cannot_reach_the_power_it_says_so() -> None:
    # With 12 pre periods, the pre-period mean's variance alone is 1/12 of the unit's; a 30-fold
    # cut of the 2/12 total is out of reach however long the trial runs.
    outcome = recommend([primary(-0.5, 4.0, 0.9)], PLAN)
    extension = outcome.extension
    assert extension is not None
    assert extension.more_periods is None
    assert "alone cannot reach" in extension.message
    assert extension.more_units is not None
    assert extension.more_units > 12


def test_a_powered_trial_with_no_clear_effect_needs_no_more_data() -> None:
    outcome = recommend([primary(-0.1, 0.2, 0.6)], PLAN)
    assert outcome.recommendation == "iterate"
    assert outcome.extension is not None
    assert (outcome.extension.more_units, outcome.extension.more_periods) == (0, 0)
    assert "already has the registered power" in outcome.extension.message


# --- guardrail status: H0 of non-inferiority is "the metric got worse by more than the margin" ---


@pytest.mark.parametrize(
    ("direction", "low", "high", "expected"),
    [
        # lower is better: worse means up, so the interval's upper end meets the +margin
        ("lower_is_better", -1.0, 1.5, "held"),
        ("lower_is_better", -1.0, 2.0, "held"),  # worse end exactly at the margin
        ("lower_is_better", 2.5, 4.0, "breached"),
        ("lower_is_better", 1.0, 3.0, "inconclusive"),
        ("lower_is_better", -4.0, -3.0, "held"),  # an improvement far beyond the margin's mirror
        # higher is better: worse means down, so the lower end meets the -margin
        ("higher_is_better", -1.5, 1.0, "held"),
        ("higher_is_better", -4.0, -2.5, "breached"),
        ("higher_is_better", -3.0, -1.0, "inconclusive"),
        ("higher_is_better", 3.0, 4.0, "held"),
    ],
)
def test_an_absolute_margin_is_judged_by_the_intervals_worse_end(
    direction: str, low: float, high: float, expected: str
) -> None:
    state, allowed, worst = guardrail_state(
        direction=direction,  # type: ignore[arg-type]
        margin=2.0,
        margin_type="absolute",
        ci_low=low,
        ci_high=high,
    )
    assert state == expected
    assert allowed == 2.0
    assert worst == (high if direction == "lower_is_better" else low)


@pytest.mark.parametrize(
    ("direction", "low", "high", "expected"),
    [
        # margin 5% of a counterfactual mean of 40: may worsen by 2 units
        ("lower_is_better", 0.5, 1.9, "held"),
        ("lower_is_better", 2.1, 3.0, "breached"),
        ("lower_is_better", 1.0, 2.1, "inconclusive"),
        ("higher_is_better", -1.9, 0.5, "held"),
        ("higher_is_better", -3.0, -2.1, "breached"),
        ("higher_is_better", -2.1, -1.0, "inconclusive"),
    ],
)
def test_a_relative_margin_scales_with_the_counterfactual_mean(
    direction: str, low: float, high: float, expected: str
) -> None:
    state, allowed, _ = guardrail_state(
        direction=direction,  # type: ignore[arg-type]
        margin=0.05,
        margin_type="relative",
        ci_low=low,
        ci_high=high,
        counterfactual=40.0,
    )
    assert state == expected
    assert allowed == pytest.approx(2.0)


def test_a_relative_margin_uses_the_size_of_a_negative_counterfactual_mean() -> None:
    state, allowed, _ = guardrail_state(
        direction="lower_is_better",
        margin=0.1,
        margin_type="relative",
        ci_low=0.5,
        ci_high=0.9,
        counterfactual=-10.0,
    )
    assert (state, allowed) == ("held", pytest.approx(1.0))


@pytest.mark.parametrize(
    ("margin_type", "low", "high", "counterfactual"),
    [
        ("absolute", None, None, 10.0),  # no interval: cannot estimate, or point only
        ("relative", -1.0, 1.0, None),  # no counterfactual mean to scale the margin by
        ("relative", -1.0, 1.0, 0.0),
    ],
)
def test_a_guardrail_without_interval_or_scale_is_not_estimated(
    margin_type: str, low: float | None, high: float | None, counterfactual: float | None
) -> None:
    state, allowed, worst = guardrail_state(
        direction="lower_is_better",
        margin=0.1,
        margin_type=margin_type,  # type: ignore[arg-type]
        ci_low=low,
        ci_high=high,
        counterfactual=counterfactual,
    )
    assert (state, allowed, worst) == ("not estimated", None, None)
