"""The plain-language report of a structural time-series analysis, in CausalImpact's structure.

Brodersen et al. (2015)'s R package CausalImpact ends an analysis with ``summary(impact,
"report")``: paragraphs on the average response and its counterfactual, on the sums over the
post-period, on the relative effect, on what the interval says, and on the tail probability.
``impact_report`` writes the same sequence of paragraphs in its own words for ``evaluation.bsts``.

Unlike CausalImpact, whose significance verdict (the interval) and whose one-sided Bayesian tail
probability can disagree, the interval and the two-sided p-value here are built from the same
simulated draws so that ``p < alpha`` exactly when the interval excludes zero; the report can
therefore never contradict itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ImpactSummary:
    """Post-period numbers the report talks about, in the outcome's units.

    ``*_mean`` are averages over the post periods with an observed outcome and ``*_sum`` their
    sums; ``*_interval`` are ``(low, high)`` pairs at level ``1 - alpha``. ``relative`` and
    ``relative_interval`` are ``None`` when the counterfactual mean is zero.
    """

    actual_mean: float
    actual_sum: float
    predicted_mean: float
    predicted_mean_interval: tuple[float, float]
    predicted_sum: float
    predicted_sum_interval: tuple[float, float]
    effect: float
    effect_interval: tuple[float, float]
    cumulative_effect: float
    cumulative_interval: tuple[float, float]
    relative: float | None
    relative_interval: tuple[float, float] | None
    p_value: float
    alpha: float
    outcome: str


def impact_report(summary: ImpactSummary) -> str:
    """Paragraphs (separated by blank lines) interpreting ``summary`` for a non-statistician."""
    level = f"{round((1 - summary.alpha) * 100)}%"
    low, high = summary.effect_interval
    significant = low > 0 or high < 0
    positive = summary.effect > 0
    contrast = "By contrast, had" if significant else "Had"
    paragraphs = [
        f"During the post-intervention period, {summary.outcome} averaged about "
        f"{_number(summary.actual_mean)}. {contrast} the intervention not happened, the model "
        f"expects an average of {_number(summary.predicted_mean)}, with a {level} interval of "
        f"{_interval(summary.predicted_mean_interval)} for this counterfactual prediction. "
        "The difference between what was observed and this prediction estimates the causal "
        f"effect of the intervention: {_number(summary.effect)} per period, with a {level} "
        f"interval of {_interval(summary.effect_interval)}. Whether this effect is "
        "statistically significant is discussed below.",
        "Added up over the post-intervention period (a total that is meaningful only for "
        f"quantities that can be summed), {summary.outcome} came to {_number(summary.actual_sum)}"
        f". {contrast} the intervention not happened, the model expects a total of "
        f"{_number(summary.predicted_sum)}, with a {level} interval of "
        f"{_interval(summary.predicted_sum_interval)}. The cumulative effect is "
        f"{_number(summary.cumulative_effect)}, with a {level} interval of "
        f"{_interval(summary.cumulative_interval)}.",
    ]
    if summary.relative is not None and summary.relative_interval is not None:
        direction = "an increase" if summary.relative > 0 else "a decrease"
        paragraphs.append(
            f"In relative terms, {summary.outcome} showed {direction} of "
            f"{_percent(abs(summary.relative))} against the counterfactual, with a {level} "
            f"interval of [{_percent(summary.relative_interval[0])}, "
            f"{_percent(summary.relative_interval[1])}]."
        )
    paragraphs.append(_verdict(significant, positive, summary))
    p = _probability(summary.p_value)
    if summary.p_value < summary.alpha:
        paragraphs.append(
            "The probability of an average effect at least this large in either direction "
            f"arising by chance, under the fitted model, is very small (two-sided p = {p}). The "
            "effect can be considered statistically significant."
        )
    else:
        paragraphs.append(
            "The probability of an average effect at least this large in either direction "
            f"arising by chance, under the fitted model, is p = {p}. The effect may be spurious "
            "and would not usually be considered statistically significant."
        )
    return "\n\n".join(paragraphs)


def _verdict(significant: bool, positive: bool, summary: ImpactSummary) -> str:
    if significant and positive:
        return (
            "The interval lies above zero: the increase during the intervention period is "
            "statistically significant and unlikely to come from random fluctuations. Whether "
            "it also matters in practice is a separate question, answered by comparing the "
            f"absolute effect ({_number(summary.effect)}) with what the intervention set out "
            "to achieve."
        )
    if significant:
        return (
            "The interval lies below zero: the decrease during the intervention period is "
            "statistically significant. If an increase was expected, check whether something "
            "unusual in the control series made the counterfactual too optimistic."
        )
    lead = (
        "Although the intervention appears to have raised the outcome, the interval includes "
        "zero, so the effect over the post-intervention period as a whole is not statistically "
        "significant. Shorter stretches may still show an effect wherever the lower limit of "
        "the pointwise effect stays above zero."
        if positive
        else "Although the outcome appears to have fallen over the post-intervention period, "
        "the interval includes zero, so the effect is not statistically significant and "
        "cannot be meaningfully interpreted."
    )
    return (
        f"{lead} The apparent effect could be random variation unrelated to the intervention. "
        "This happens when the post-intervention period is long and includes time after the "
        "effect wore off, when it is too short to separate the signal from the noise, or when "
        "the control series are few or track the outcome poorly before the start."
    )


def _number(value: float) -> str:
    """About three significant digits, thousands separated, never scientific notation."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _interval(bounds: tuple[float, float]) -> str:
    return f"[{_number(bounds[0])}, {_number(bounds[1])}]"


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _probability(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else "< 0.001"
