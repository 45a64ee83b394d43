"""Plain-language readings of an estimate, for committee pages and reports."""

from __future__ import annotations

from typing import Literal

from evaluation.result import Estimate
from pilots.contract import MetricDefinition

Verdict = Literal["better", "worse", "unclear", "not estimated"]


def verdict(estimate: Estimate, definition: MetricDefinition) -> Verdict:
    """Whether the pilot made this metric better or worse, judged by the 95% interval."""
    if not estimate.ok or estimate.ci_low is None or estimate.ci_high is None:
        return "not estimated"
    if estimate.ci_low > 0 or estimate.ci_high < 0:
        went_up = estimate.ci_low > 0
        return "better" if went_up == (definition.direction == "higher_is_better") else "worse"
    return "unclear"


def effect_sentence(estimate: Estimate, definition: MetricDefinition) -> str:
    """E.g. "-1.65 collections per bin-week (-30%), 95% CI -2.22 to -1.08; p < 0.001"."""
    if estimate.status == "point_only" and estimate.effect is not None:
        return f"{estimate.effect:+.3g} {definition.unit}; no interval: {estimate.message}"
    if not estimate.ok or estimate.effect is None:
        return f"Not estimated: {estimate.message}"
    relative = f" ({estimate.relative_effect:+.0%})" if estimate.relative_effect is not None else ""
    return (
        f"{estimate.effect:+.3g} {definition.unit}{relative}, "
        f"95% CI {estimate.ci_low:+.3g} to {estimate.ci_high:+.3g}; {format_p(estimate.p_value)}"
    )


def format_p(p_value: float | None) -> str:
    if p_value is None:
        return "p not available"
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
