"""A trial's registered decision rule, in words and applied to its latest analysis.

The rule is fixed by what the registration locks: alpha, the multiple-testing correction, the
target power, the minimum detectable effect, the primary metric and each guardrail's margin.
``evaluation.decision`` holds the statistics; this module feeds it a trial's spec and results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from evaluation.decision import DecisionOutcome, MetricOutcome, Plan, recommend
from evaluation.result import Estimate
from experiments.registration_power import count_periods
from experiments.rule_text import RULE_TEXT
from experiments.spec import MetricRole, TrialSpec, trial_pilot
from experiments.tracking import RunRecord
from pilots.contract import MetricDefinition

# Methods that compare arms over the after-period only: more time adds to the after-period alone.
POST_ONLY = {"randomized"}


def decision_rule_text(spec: TrialSpec, lang: str = "en") -> tuple[str, ...]:
    """The registered rule, one sentence per outcome, in ``lang`` (the dossier's languages)."""
    text = RULE_TEXT[lang]
    pilot = trial_pilot(spec)
    primary = pilot.metric(spec.primary.name)
    better = "higher" if primary.direction == "higher_is_better" else "lower"
    guardrails = [
        text["rule.guardrail"].format(
            metric=definition.label, margin=_margin(m, definition, text["rule.no_margin"])
        )
        for m in spec.metrics
        if m.role == "guardrail" and (definition := pilot.metric(m.name))
    ]
    within = (
        text["rule.within"].format(guardrails="; ".join(guardrails))
        if guardrails
        else text["rule.no_guardrails"]
    )
    return (
        text["rule.scale"].format(
            metric=primary.label,
            better=text[f"rule.{better}"],
            correction=text[f"correction_rule.{spec.multiple_testing}"],
            alpha=f"{spec.alpha:g}",
            within=within,
        ),
        text["rule.stop"].format(metric=primary.label),
        text["rule.iterate"].format(power=f"{spec.power:.0%}", mde=f"{spec.mde:.0%}"),
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
        metric_outcome(m, pilot.metric(m.name), *results[m.name])
        for m in spec.metrics
        if m.name in results
    ]
    primary_estimate = results[spec.primary.name][0]
    return recommend(outcomes, trial_plan(spec, pilot.metric(spec.primary.name), primary_estimate))


def metric_outcome(
    role: MetricRole,
    definition: MetricDefinition,
    estimate: Estimate,
    p_adjusted: float | None = None,
) -> MetricOutcome:
    """A registered metric's estimate with what the rule judges it by."""
    return MetricOutcome(
        name=definition.label,
        role=role.role,
        direction=definition.direction,
        estimate=estimate,
        p_adjusted=p_adjusted,
        margin=role.margin,
        margin_type=role.margin_type,
    )


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
        n_pre=0
        if spec.planned_method in POST_ONLY
        else count_periods(spec.pre[0], start - timedelta(days=1), primary.time_grain),
        n_post=count_periods(start, spec.post[1], primary.time_grain),
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


def _margin(role: MetricRole, definition: MetricDefinition, missing: str) -> str:
    if role.margin is None:
        return missing
    return (
        f"{role.margin:.0%}"
        if role.margin_type == "relative"
        else f"{role.margin:g} {definition.unit}"
    )
