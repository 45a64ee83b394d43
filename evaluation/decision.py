"""The registered decision rule: Scale, Extend/Iterate or Stop, from a trial's estimates.

- **Scale** when the primary metric improves significantly (its p-value, corrected for multiple
  testing as registered, is below alpha and the effect points the better way) and every
  guardrail is non-inferior: the worse end of its 95% interval stays within its margin.
- **Stop** when the primary metric is significantly worse, or a guardrail fails: its whole
  interval lies beyond the margin.
- **Extend/Iterate** otherwise, with how many more periods or units would give the registered
  power: for the primary, to detect the registered minimum detectable effect at the corrected
  level; for an inconclusive guardrail, to show non-inferiority at its margin when the truth is
  no change.

The extension scales the observed standard error. More units shrink the variance as ``1 / n``
(same allocation, same kind of units). More periods shrink it as the variance of a unit's
post-period mean minus its pre-period mean under AR(1) errors (``did_variance_factor``); with
the autocorrelation unknown it is taken as 0, which makes the time needed a lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from scipy import stats

from evaluation.power import did_variance_factor, mean_variance_factor
from evaluation.result import Estimate

Recommendation = Literal["scale", "iterate", "stop"]
RECOMMENDATIONS: tuple[Recommendation, ...] = ("scale", "iterate", "stop")
RECOMMENDATION_LABELS: dict[Recommendation, str] = {
    "scale": "Scale",
    "iterate": "Extend/Iterate",
    "stop": "Stop",
}
GuardrailState = Literal["held", "breached", "inconclusive", "not estimated"]
Direction = Literal["higher_is_better", "lower_is_better"]
MAX_EXTENSION_FACTOR = 50  # beyond 50 times the periods, say that time alone will not do


@dataclass(frozen=True)
class MetricOutcome:
    """One registered metric's estimate with what the rule needs to judge it."""

    name: str
    role: str  # primary, secondary or guardrail
    direction: Direction
    estimate: Estimate
    p_adjusted: float | None = None
    margin: float | None = None
    margin_type: Literal["absolute", "relative"] = "absolute"

    @property
    def p_value(self) -> float | None:
        """The p-value the rule uses: corrected as registered when it is in the family."""
        return self.p_adjusted if self.p_adjusted is not None else self.estimate.p_value


@dataclass(frozen=True)
class Plan:
    """The registered targets and the trial's size, in analysis units and periods."""

    alpha: float
    power: float
    mde: float  # relative change of the primary metric
    family_size: int  # metrics sharing the multiple-testing correction
    n_units: int
    n_pre: int
    n_post: int
    period: str  # "day", "week", ...
    ar1: float = 0.0
    unit: str = "unit"  # what is added: the level treatment was assigned (and clustered) at


@dataclass(frozen=True)
class Extension:
    """How much more data would reach the registered power."""

    variance_ratio: float  # current variance over the variance needed
    more_units: int | None
    more_periods: int | None
    period: str
    message: str


@dataclass(frozen=True)
class DecisionOutcome:
    recommendation: Recommendation
    reasons: tuple[str, ...]
    extension: Extension | None = None

    @property
    def label(self) -> str:
        return RECOMMENDATION_LABELS[self.recommendation]

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"label": self.label, "reasons": list(self.reasons)}


def recommend(metrics: Sequence[MetricOutcome], plan: Plan) -> DecisionOutcome:
    """Apply the registered rule to the latest analysis' registered metrics."""
    primary = next((m for m in metrics if m.role == "primary"), None)
    if primary is None:
        raise ValueError("the decision rule needs exactly one primary metric")
    guardrails = [(m, judge_guardrail(m)) for m in metrics if m.role == "guardrail"]
    primary_state = judge_primary(primary, plan.alpha)
    failed = [m.name for m, (state, _, _) in guardrails if state == "breached"]
    reasons: list[str] = []
    if primary_state == "worse":
        reasons.append(f"{primary.name} is significantly worse ({_p(primary)})")
    if failed:
        reasons.append(f"guardrail beyond its margin: {', '.join(failed)}")
    if reasons:
        return DecisionOutcome("stop", tuple(reasons))
    unsettled = [m.name for m, (state, _, _) in guardrails if state != "held"]
    if primary_state == "better" and not unsettled:
        held = f"; every guardrail within its margin ({len(guardrails)})" if guardrails else ""
        return DecisionOutcome(
            "scale", (f"{primary.name} improved significantly ({_p(primary)}){held}",)
        )
    if primary_state == "better":
        reasons.append(f"{primary.name} improved significantly ({_p(primary)})")
    else:
        reasons.append(_primary_reason(primary, primary_state, plan.alpha))
    reasons += [
        f"guardrail {m.name} {state}: non-inferiority not shown"
        for m, (state, _, _) in guardrails
        if state != "held"
    ]
    return DecisionOutcome(
        "iterate", tuple(reasons), _extension(primary_state, primary, guardrails, plan)
    )


def guardrail_state(
    *,
    direction: Direction,
    margin: float,
    margin_type: Literal["absolute", "relative"],
    ci_low: float | None,
    ci_high: float | None,
    counterfactual: float | None = None,
) -> tuple[GuardrailState, float | None, float | None]:
    """Judge a guardrail's 95% interval against its non-inferiority margin.

    Returns the state, the allowed worsening in the metric's unit and the interval's worse end.
    Held when the worse end stays within the margin, breached when the whole interval lies
    beyond it, inconclusive otherwise. A relative margin is a fraction of the counterfactual
    mean; without an interval (or, for a relative margin, a counterfactual mean) it is not
    estimated.
    """
    if ci_low is None or ci_high is None:
        return "not estimated", None, None
    if margin_type == "relative":
        if not counterfactual:
            return "not estimated", None, None
        allowed = margin * abs(counterfactual)
    else:
        allowed = margin
    if direction == "lower_is_better":  # worse means up: the limit is +allowed
        worst, best, beyond = ci_high, ci_low, lambda value: value > allowed
    else:  # worse means down: the limit is -allowed
        worst, best, beyond = ci_low, ci_high, lambda value: value < -allowed
    if not beyond(worst):
        return "held", allowed, worst
    if beyond(best):
        return "breached", allowed, worst
    return "inconclusive", allowed, worst


def counterfactual_mean(effect: float | None, relative_effect: float | None) -> float | None:
    """The treated group's mean without the pilot, recovered as effect / relative effect."""
    if effect is None or not relative_effect:
        return None
    return effect / relative_effect


def judge_guardrail(
    metric: MetricOutcome,
) -> tuple[GuardrailState, float | None, float | None]:
    """``guardrail_state`` of a guardrail's estimate against its registered margin."""
    estimate = metric.estimate
    return guardrail_state(
        direction=metric.direction,
        margin=metric.margin or 0.0,
        margin_type=metric.margin_type,
        ci_low=estimate.ci_low if estimate.ok else None,
        ci_high=estimate.ci_high if estimate.ok else None,
        counterfactual=counterfactual_mean(estimate.effect, estimate.relative_effect),
    )


def judge_primary(metric: MetricOutcome, alpha: float) -> str:
    """better or worse (significant at ``alpha`` by the corrected p-value, in the direction of
    the effect), unclear, or not estimated."""
    estimate, p_value = metric.estimate, metric.p_value
    if not estimate.ok or estimate.effect is None or p_value is None:
        return "not estimated"
    if p_value >= alpha or estimate.effect == 0:
        return "unclear"
    went_up = estimate.effect > 0
    return "better" if went_up == (metric.direction == "higher_is_better") else "worse"


def _primary_reason(metric: MetricOutcome, state: str, alpha: float) -> str:
    if state == "not estimated":
        message = metric.estimate.message or "no interval"
        return f"{metric.name} could not be judged: {message}"
    return f"{metric.name}: no significant change at alpha = {alpha:g} ({_p(metric)})"


def _p(metric: MetricOutcome) -> str:
    corrected = " corrected" if metric.p_adjusted is not None else ""
    p_value = metric.p_value
    return f"p{corrected} = {p_value:.3g}" if p_value is not None else "no p-value"


def _standard_error(estimate: Estimate) -> float | None:
    if not estimate.ok:
        return None
    if estimate.se and math.isfinite(estimate.se) and estimate.se > 0:
        return estimate.se
    if estimate.ci_low is not None and estimate.ci_high is not None:
        width = (estimate.ci_high - estimate.ci_low) / (2 * stats.norm.ppf(0.975))
        return width if width > 0 else None
    return None


def _needed_ratio(
    primary_state: str,
    primary: MetricOutcome,
    guardrails: Sequence[tuple[MetricOutcome, tuple[GuardrailState, float | None, float | None]]],
    plan: Plan,
) -> float | None:
    """The factor by which the variance must shrink for every unsettled metric to be powered."""
    z_power = stats.norm.ppf(plan.power)
    ratios = []
    if primary_state != "better":
        level = plan.alpha / max(plan.family_size, 1)  # Holm's first step: conservative
        target = _mde_in_units(primary.estimate, plan.mde)
        se = _standard_error(primary.estimate)
        if target is None or se is None:
            return None
        needed = target / (stats.norm.ppf(1 - level / 2) + z_power)
        ratios.append((se / needed) ** 2)
    for metric, (state, allowed, _) in guardrails:
        if state == "held":
            continue
        se = _standard_error(metric.estimate)
        if se is None or not allowed:
            return None
        needed = allowed / (stats.norm.ppf(0.975) + z_power)
        ratios.append((se / needed) ** 2)
    return float(max(ratios)) if ratios else None


def _mde_in_units(estimate: Estimate, mde: float) -> float | None:
    mean = counterfactual_mean(estimate.effect, estimate.relative_effect)
    return abs(mde * mean) if mean else None


def _extension(
    primary_state: str,
    primary: MetricOutcome,
    guardrails: Sequence[tuple[MetricOutcome, tuple[GuardrailState, float | None, float | None]]],
    plan: Plan,
) -> Extension | None:
    ratio = _needed_ratio(primary_state, primary, guardrails, plan)
    if ratio is None:
        return None
    if ratio <= 1:
        return Extension(
            ratio,
            0,
            0,
            plan.period,
            "the trial already has the registered power: a true effect as large as the "
            "registered MDE would most likely have shown; the effect is probably smaller",
        )
    more_units = math.ceil(plan.n_units * ratio) - plan.n_units if plan.n_units else None
    more_periods = _more_periods(plan, ratio)
    options = []
    if more_periods is not None:
        options.append(f"about {more_periods} more {plan.period}(s) of data")
    if more_units is not None:
        options.append(f"about {more_units} more {plan.unit}(s) (from {plan.n_units})")
    message = " or ".join(options) if options else "more data"
    if more_periods is None:
        message += f"; more {plan.period}s alone cannot reach the registered power"
    return Extension(ratio, more_units, more_periods, plan.period, message)


def _more_periods(plan: Plan, ratio: float) -> int | None:
    """The fewest extra post periods that cut the variance by ``ratio`` (None if none do)."""
    if plan.n_post < 1:
        return None

    def variance(n_post: int) -> float:
        if plan.n_pre > 0:
            return did_variance_factor(plan.n_pre, n_post, plan.ar1)
        return mean_variance_factor(n_post, plan.ar1)

    goal = variance(plan.n_post) / ratio
    low, high = plan.n_post, plan.n_post * MAX_EXTENSION_FACTOR
    if variance(high) > goal:
        return None
    while high - low > 1:  # the variance falls as the post window grows
        middle = (low + high) // 2
        low, high = (middle, high) if variance(middle) > goal else (low, middle)
    return high - plan.n_post
