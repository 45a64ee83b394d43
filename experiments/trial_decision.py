"""A trial's registered decision rule, in words and applied to its latest analysis.

The rule is fixed by what the registration locks: alpha, the multiple-testing correction, the
target power, the minimum detectable effect, the primary metric and each guardrail's margin.
``evaluation.decision`` holds the statistics; this module feeds it a trial's spec and results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

from evaluation.decision import DecisionOutcome, MetricOutcome, Plan, recommend
from evaluation.result import Estimate
from experiments.spec import TrialSpec, trial_pilot
from experiments.tracking import RunRecord
from pilots.contract import MetricDefinition

DAYS_PER_PERIOD = {"day": 1, "week": 7, "month": 30.44}
# Methods that compare arms over the after-period only: more time adds to the after-period alone.
POST_ONLY = {"randomized"}


def decision_rule_text(spec: TrialSpec) -> tuple[str, ...]:
    """The registered rule, one sentence per outcome."""
    pilot = trial_pilot(spec)
    primary = pilot.metric(spec.primary.name)
    better = "higher" if primary.direction == "higher_is_better" else "lower"
    correction = {"holm": "Holm-corrected", "bh": "Benjamini-Hochberg-corrected"}.get(
        spec.multiple_testing, "uncorrected"
    )
    guardrails = [
        f"{definition.label} (may worsen by {_margin(m.margin, m.margin_type, definition)})"
        for m in spec.metrics
        if m.role == "guardrail" and (definition := pilot.metric(m.name))
    ]
    within = (
        f"every guardrail stays within its margin: {'; '.join(guardrails)}"
        if guardrails
        else "there are no guardrails"
    )
    return (
        f"Scale when {primary.label} is significantly {better} ({correction} p < {spec.alpha:g}) "
        f"and {within} (the worse end of each 95% interval).",
        f"Stop when {primary.label} is significantly worse, or a guardrail's whole 95% interval "
        "lies beyond its margin.",
        "Extend/Iterate otherwise, with the extra time or units that would give "
        f"{spec.power:.0%} power to detect a {spec.mde:.0%} change.",
    )


def trial_recommendation(
    spec: TrialSpec, results: Mapping[str, tuple[Estimate, float | None]]
) -> DecisionOutcome | None:
    """The rule applied to ``results`` (metric name -> estimate and corrected p-value);
    ``None`` until the primary metric has a result."""
    if spec.primary.name not in results:
        return None
    pilot = trial_pilot(spec)
    outcomes = [
        MetricOutcome(
            name=pilot.metric(m.name).label,
            role=m.role,
            direction=pilot.metric(m.name).direction,
            estimate=results[m.name][0],
            p_adjusted=results[m.name][1],
            margin=m.margin,
            margin_type=m.margin_type,
        )
        for m in spec.metrics
        if m.name in results
    ]
    primary_estimate = results[spec.primary.name][0]
    return recommend(outcomes, trial_plan(spec, pilot.metric(spec.primary.name), primary_estimate))


def trial_plan(spec: TrialSpec, primary: MetricDefinition, estimate: Estimate) -> Plan:
    """The registered targets with the trial's size in the primary metric's periods."""
    in_family = [m for m in spec.metrics if m.role in ("primary", "secondary")]
    start = spec.common_start() or spec.post[0]
    return Plan(
        alpha=spec.alpha,
        power=spec.power,
        mde=spec.mde,
        family_size=len(in_family) if spec.multiple_testing != "none" else 1,
        n_units=_independent_units(estimate),
        n_pre=0 if spec.planned_method in POST_ONLY else _periods(spec.pre[0], start, primary),
        n_post=_periods(start, spec.post[1], primary, inclusive=True),
        period=primary.time_grain,
        unit="day" if spec.switchback else spec.cluster_by or spec.assigned_by,
    )


def _independent_units(estimate: Estimate) -> int:
    """What the standard error scales with: clusters, or the units randomised, or units."""
    details = estimate.details
    if details.get("n_clusters"):
        return int(details["n_clusters"])
    randomised = details.get("randomisation_units") or {}
    if randomised.get("treated") is not None and randomised.get("control") is not None:
        return int(randomised["treated"]) + int(randomised["control"])
    return estimate.n_units


def estimate_from_run(run: RunRecord) -> Estimate:
    """The numbers a run's search result carries, as an Estimate (no details or sizes)."""
    numbers = run.metrics
    return Estimate(
        method=run.tag("method"),
        estimand="",
        effect=numbers.get("effect"),
        se=numbers.get("se"),
        ci_low=numbers.get("ci_low"),
        ci_high=numbers.get("ci_high"),
        p_value=numbers.get("p_value"),
        relative_effect=numbers.get("relative_effect"),
        n_obs=0,
        n_units=0,
        n_treated=0,
        status=run.tag("status") or "cannot_estimate",  # type: ignore[arg-type]
    )


def _periods(first: date, last: date, metric: MetricDefinition, *, inclusive: bool = False) -> int:
    days = (last - first).days + (1 if inclusive else 0)
    return max(math.floor(days / DAYS_PER_PERIOD[metric.time_grain]), 0)


def _margin(margin: float | None, margin_type: str, metric: MetricDefinition) -> str:
    if margin is None:
        return "no margin registered"
    return f"{margin:.0%}" if margin_type == "relative" else f"{margin:g} {metric.unit}"
