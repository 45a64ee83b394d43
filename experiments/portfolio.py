"""What the committee reads: the portfolio of trials and each trial's latest evidence.

The portfolio gives every registered trial one ``TrialSummary``: its stage, the primary metric's
effect with its interval and verdict, the status of each guardrail against its registered
non-inferiority margin, and the data-health flags of its latest analysis. Each trial costs one
run search and three small JSON artifacts (the primary estimate, data health, sites), read for
several trials at once, so that one cached load serves the whole page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from evaluation.decision import (
    DecisionOutcome,
    GuardrailState,
    counterfactual_mean,
    judge_guardrail,
)
from evaluation.result import Estimate
from experiments.decisions import DecisionLog, DecisionRecord
from experiments.spec import MetricRole, TrialSpec, trial_pilot
from experiments.store import Registration, TrialStore
from experiments.summary import Verdict, verdict
from experiments.tracking import PLANNED_FINISHED, RunRecord, Tracker
from experiments.trial_decision import estimate_from_run, metric_outcome, trial_recommendation
from pilots.contract import HONG_KONG, MetricDefinition

Stage = Literal["registered", "collecting", "analysed", "decided"]
# "decided" once the committee has recorded a decision (experiments.decisions).
STAGES: tuple[Stage, ...] = ("registered", "collecting", "analysed", "decided")
# Worst first: a portfolio row shows the worst state among its guardrails.
GUARDRAIL_STATES: tuple[GuardrailState, ...] = ("breached", "inconclusive", "not estimated", "held")
VERDICT_LABELS: dict[Verdict, str] = {
    "better": "Improved",
    "worse": "Worse",
    "unclear": "No clear change",
    "not estimated": "Not estimated",
}
VERDICT_COLOURS: dict[Verdict, str] = {  # Okabe-Ito
    "better": "#009E73",
    "worse": "#D55E00",
    "unclear": "#999999",
    "not estimated": "#E69F00",
}
QUARANTINE_LIMIT = 0.01  # share of rows read beyond which quarantine is worth a look
RUNS_READ = 200  # newest runs read per trial: many analyses' worth
READERS = 4  # trials read at once: the reads wait on the store, not on the CPU


@dataclass(frozen=True)
class GuardrailCheck:
    """One guardrail of a trial's latest analysis against its registered margin.

    ``allowed`` is how much worse the metric may get, in its own unit (a relative margin times
    the counterfactual mean); ``worst`` is the end of the 95% interval in the worse direction.
    """

    metric: str
    unit: str
    state: GuardrailState
    allowed: float | None
    worst: float | None

    def describe(self) -> str:
        if self.state == "not estimated" or self.allowed is None or self.worst is None:
            return f"{self.metric}: not estimated"
        return (
            f"{self.metric}: {self.state} (may worsen by {self.allowed:.3g} {self.unit}; "
            f"worst end of the 95% CI {self.worst:+.3g})"
        )


@dataclass(frozen=True)
class TrialSummary:
    """One row of the portfolio."""

    trial_id: str
    title: str
    pilot: str
    stage: Stage
    primary_metric: str
    primary_unit: str
    direction: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_effect: float | None
    last_analysed: datetime | None
    districts: tuple[str, ...] = ()  # where the pilot runs: districts of its non-control sites
    verdict: Verdict | None = None  # None until analysed
    guardrails: tuple[GuardrailCheck, ...] = ()
    data_flags: tuple[str, ...] = ()  # data-health problems of the latest analysis
    analysis_id: str | None = None
    post_end: date | None = None
    outcome: DecisionOutcome | None = None  # the registered rule applied to the latest analysis
    decision: DecisionRecord | None = None  # the committee's latest decision
    registered_by: str = ""

    @property
    def counterfactual_mean(self) -> float | None:
        return counterfactual_mean(self.effect, self.relative_effect)

    @property
    def relative_ci(self) -> tuple[float, float] | None:
        """The 95% interval as a fraction of the counterfactual mean."""
        mean = self.counterfactual_mean
        if mean is None or self.ci_low is None or self.ci_high is None:
            return None
        ends = (self.ci_low / mean, self.ci_high / mean)
        return (min(ends), max(ends))

    @property
    def analysed(self) -> bool:
        """Whether an analysis exists (the trial may since have been decided)."""
        return self.analysis_id is not None

    @property
    def guardrail_status(self) -> GuardrailState | None:
        """The worst state among the guardrails (``None`` without any to judge)."""
        states = {check.state for check in self.guardrails}
        return next((state for state in GUARDRAIL_STATES if state in states), None)

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict] if self.verdict else "Awaiting analysis"

    @property
    def recommendation(self) -> str:
        """The registered decision rule's recommendation on the latest analysis."""
        return self.outcome.label if self.outcome else "Awaiting analysis"


@dataclass(frozen=True)
class MetricEvidence:
    role: MetricRole
    definition: MetricDefinition
    estimate: Estimate
    run_id: str
    p_adjusted: float | None = None  # corrected for multiple testing as registered


@dataclass(frozen=True)
class TrialEvidence:
    """A trial's registration and the results of its latest analysis (empty if none yet)."""

    registration: Registration
    pilot_name: str
    analysis_id: str | None
    analysed_at: datetime | None
    metrics: tuple[MetricEvidence, ...]
    data_health: dict[str, Any]
    robustness: tuple[tuple[str, Estimate, str], ...] = ()  # method, estimate, run id

    @property
    def spec(self) -> TrialSpec:
        return self.registration.spec

    def recommendation(self) -> DecisionOutcome | None:
        """The registered decision rule applied to this analysis (``None`` before one)."""
        return trial_recommendation(
            self.spec, {m.definition.name: (m.estimate, m.p_adjusted) for m in self.metrics}
        )


def portfolio(home: Path, today: date | None = None) -> list[TrialSummary]:
    """Every registered trial with its latest analysis; ``today`` (Hong Kong) sets the stage."""
    today = today or datetime.now(ZoneInfo(HONG_KONG)).date()
    tracker = Tracker(home)
    registrations = TrialStore(home).all()
    decisions = DecisionLog(home).latest_by_trial()
    with ThreadPoolExecutor(READERS) as pool:
        return list(
            pool.map(lambda r: _summary(r, tracker, today, decisions.get(r.spec.id)), registrations)
        )


def _summary(
    registration: Registration,
    tracker: Tracker,
    today: date,
    decision: DecisionRecord | None = None,
) -> TrialSummary:
    spec = registration.spec
    pilot = trial_pilot(spec)
    definition = pilot.metric(spec.primary.name)
    # One search: the newest finished runs of every role but robustness, latest analysis first.
    runs = tracker.runs(spec.id, f"tags.role != 'robustness' and {PLANNED_FINISHED}", RUNS_READ)
    latest = next(
        (r for r in runs if r.tag("role") == "primary" and r.tag("metric") == spec.primary.name),
        None,
    )
    numbers = latest.metrics if latest else {}
    summary = TrialSummary(
        trial_id=spec.id,
        title=spec.title,
        pilot=pilot.name,
        stage=trial_stage(
            spec, analysed=latest is not None, decided=decision is not None, today=today
        ),
        primary_metric=definition.label,
        primary_unit=definition.unit,
        direction=definition.direction,
        effect=numbers.get("effect"),
        ci_low=numbers.get("ci_low"),
        ci_high=numbers.get("ci_high"),
        p_value=numbers.get("p_value"),
        relative_effect=numbers.get("relative_effect"),
        last_analysed=_time(latest) if latest else None,
        post_end=spec.post[1],
        decision=decision,
        registered_by=registration.registered_by,
    )
    if latest is None:
        return summary
    analysis_id = latest.tag("analysis")
    by_metric = {
        run.tag("metric"): run
        for run in reversed(runs)  # the newest run of a metric wins
        if run.tag("analysis") == analysis_id and run.tag("role") == "guardrail"
    }
    guardrails = tuple(
        _guardrail(role, pilot.metric(role.name), by_metric.get(role.name))
        for role in spec.metrics
        if role.role == "guardrail"
    )
    health = tracker.data_health(latest.run_id)
    primary = tracker.estimate(latest.run_id)
    results = {name: (estimate_from_run(run), None) for name, run in by_metric.items()}
    results[spec.primary.name] = (primary, latest.metrics.get("p_adjusted"))
    return replace(
        summary,
        districts=pilot_districts(tracker.sites(latest.run_id), health),
        verdict=verdict(primary, definition),
        outcome=trial_recommendation(spec, results),
        guardrails=guardrails,
        data_flags=data_health_flags(health),
        analysis_id=analysis_id,
    )


def trial_stage(spec: TrialSpec, *, analysed: bool, today: date, decided: bool = False) -> Stage:
    """Decided once the committee has recorded a decision; analysed once a finished analysis
    exists; before that, collecting until the post window ends and registered after it (data
    complete, analysis not yet run)."""
    if decided:
        return "decided"
    if analysed:
        return "analysed"
    return "collecting" if today <= spec.post[1] else "registered"


def _guardrail(
    role: MetricRole, definition: MetricDefinition, run: RunRecord | None
) -> GuardrailCheck:
    if run is None:
        return GuardrailCheck(definition.label, definition.unit, "not estimated", None, None)
    outcome = metric_outcome(role, definition, estimate_from_run(run))
    state, allowed, worst = judge_guardrail(outcome)
    return GuardrailCheck(definition.label, definition.unit, state, allowed, worst)


def data_health_flags(health: Mapping[str, Any]) -> tuple[str, ...]:
    """Problems worth a look: a sensor ratio mismatch in a feed, or much of the data quarantined."""
    flags = [
        f"sensor ratio mismatch in {feed.get('label', feed.get('feed', 'a feed'))} "
        f"({feed['sensor_ratio_mismatch'].get('difference_points', 0):+.1f} points)"
        for feed in health.get("coverage", [])
        if feed.get("sensor_ratio_mismatch", {}).get("flag")
    ]
    read, quarantined = health.get("rows_read", 0), health.get("rows_quarantined", 0)
    if read and quarantined / read > QUARANTINE_LIMIT:
        flags.append(f"{quarantined / read:.1%} of rows quarantined ({quarantined:,} of {read:,})")
    return tuple(flags)


def pilot_districts(
    sites: Sequence[Mapping[str, Any]], health: Mapping[str, Any]
) -> tuple[str, ...]:
    """Districts where the pilot runs: those of its sites outside the control arm.

    Control and donor sites are left out (a synthetic control draws donors from all over the
    city); without site districts, the data-health list of every site's district stands in.
    """
    running = {s["district"] for s in sites if s.get("district") and s.get("arm") != "control"}
    return tuple(sorted(running)) if running else tuple(health.get("districts", ()))


def filter_portfolio(
    trials: Iterable[TrialSummary],
    *,
    pilots: Iterable[str] = (),
    districts: Iterable[str] = (),
    stages: Iterable[str] = (),
) -> list[TrialSummary]:
    """Trials matching every non-empty filter; a trial matches a district filter when the pilot
    runs in any of the chosen districts."""
    pilots, districts, stages = set(pilots), set(districts), set(stages)
    return [
        t
        for t in trials
        if (not pilots or t.pilot in pilots)
        and (not stages or t.stage in stages)
        and (not districts or districts & set(t.districts))
    ]


def portfolio_table(trials: Iterable[TrialSummary]) -> list[dict[str, Any]]:
    """One row per trial for the portfolio's table; numbers stay numbers so columns sort."""
    return [
        {
            "Trial": t.trial_id,
            "Title": t.title,
            "Pilot": t.pilot,
            "Districts": ", ".join(t.districts),
            "Stage": t.stage,
            "Primary metric": t.primary_metric,
            "Primary verdict": t.verdict_label,
            "Recommendation": t.recommendation,
            "Decision": t.decision.label if t.decision else "",
            "Effect": t.effect,
            "95% CI low": t.ci_low,
            "95% CI high": t.ci_high,
            "Unit": t.primary_unit,
            "Relative effect (%)": None if t.relative_effect is None else 100 * t.relative_effect,
            "p-value": t.p_value,
            "Guardrails": _guardrail_text(t),
            "Data health": _health_text(t),
            "Last analysed (UTC)": f"{t.last_analysed:%Y-%m-%d %H:%M}" if t.last_analysed else "",
        }
        for t in trials
    ]


def _guardrail_text(trial: TrialSummary) -> str:
    if trial.analysis_id is None:
        return ""
    if not trial.guardrails:
        return "none registered"
    return "; ".join(f"{check.metric}: {check.state}" for check in trial.guardrails)


def _health_text(trial: TrialSummary) -> str:
    if trial.analysis_id is None:
        return ""
    return "; ".join(trial.data_flags) if trial.data_flags else "ok"


def forest_figure(trials: Sequence[TrialSummary]) -> go.Figure:
    """The primary metric's relative effect with its 95% CI, one row per analysed trial.

    Rows without a relative effect (not estimated, or no counterfactual mean) stay on the axis
    with a note, so every analysed trial is accounted for.
    """
    rows = [t for t in trials if t.analysed]
    labels = _row_labels(rows)
    figure = go.Figure()
    for kind, name in VERDICT_LABELS.items():
        shown = [(label, t) for label, t in zip(labels, rows, strict=True) if t.verdict == kind]
        plotted = [(label, t) for label, t in shown if t.relative_effect is not None]
        if not plotted:
            continue
        centre = [100 * t.relative_effect for _, t in plotted]  # type: ignore[operator]
        intervals = [t.relative_ci for _, t in plotted]
        figure.add_scatter(
            x=centre,
            y=[label for label, _ in plotted],
            mode="markers",
            name=name,
            marker={"color": VERDICT_COLOURS[kind], "size": 11, "symbol": "diamond"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [
                    max(100 * ci[1] - c, 0.0) if ci else 0.0
                    for ci, c in zip(intervals, centre, strict=True)
                ],
                "arrayminus": [
                    max(c - 100 * ci[0], 0.0) if ci else 0.0
                    for ci, c in zip(intervals, centre, strict=True)
                ],
                "thickness": 2,
                "width": 6,
            },
            hovertext=[_hover(t) for _, t in plotted],
            hoverinfo="text",
        )
    for label, trial in zip(labels, rows, strict=True):
        if trial.relative_effect is None:
            figure.add_annotation(
                x=0, y=label, text="not estimated", showarrow=False, xanchor="left"
            )
    figure.add_vline(x=0, line={"color": "#000000", "width": 1})
    figure.update_layout(
        xaxis_title="Relative effect on the primary metric (% of the counterfactual mean)",
        xaxis={"ticksuffix": "%", "zeroline": False},
        yaxis={
            "title": None,
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(labels)),
            "range": [-0.5, len(labels) - 0.5],
        },
        legend={"orientation": "h", "y": -0.25, "title": {"text": "Verdict "}},
        margin={"l": 20, "r": 20, "t": 20, "b": 40},
        height=140 + 48 * len(labels),
    )
    return figure


def _row_labels(rows: Sequence[TrialSummary]) -> list[str]:
    labels = [f"{t.pilot}: {t.primary_metric}" for t in rows]
    return [
        f"{label} ({t.trial_id})" if labels.count(label) > 1 else label
        for label, t in zip(labels, rows, strict=True)
    ]


def _hover(trial: TrialSummary) -> str:
    lines = [f"<b>{trial.title}</b>", f"{trial.primary_metric}: {trial.verdict_label}"]
    if trial.effect is not None:
        interval = (
            f", 95% CI {trial.ci_low:+.3g} to {trial.ci_high:+.3g}"
            if trial.ci_low is not None and trial.ci_high is not None
            else ", no interval"
        )
        lines.append(f"Effect {trial.effect:+.3g} {trial.primary_unit}{interval}")
    relative = trial.relative_ci
    if trial.relative_effect is not None:
        lines.append(
            f"Relative {trial.relative_effect:+.1%}"
            + (f", 95% CI {relative[0]:+.1%} to {relative[1]:+.1%}" if relative else "")
        )
    return "<br>".join(lines)


def trial_evidence(home: Path, trial_id: str) -> TrialEvidence:
    """The registration and latest analysis of ``trial_id`` (``UnknownNameError`` if unknown)."""
    registration = TrialStore(home).get(trial_id)
    spec = registration.spec
    pilot = trial_pilot(spec)
    tracker = Tracker(home)
    finished = tracker.runs(spec.id, PLANNED_FINISHED, limit=200)
    if not finished:
        return TrialEvidence(registration, pilot.name, None, None, (), {})
    analysis_id = finished[0].tag("analysis")
    runs = [run for run in finished if run.tag("analysis") == analysis_id]
    latest = {run.tag("metric"): run for run in runs if run.tag("role") != "robustness"}
    metrics = tuple(
        MetricEvidence(
            role,
            pilot.metric(role.name),
            tracker.estimate(run.run_id),
            run.run_id,
            run.metrics.get("p_adjusted"),
        )
        for role in spec.metrics
        if (run := latest.get(role.name)) is not None
    )
    return TrialEvidence(
        registration=registration,
        pilot_name=pilot.name,
        analysis_id=analysis_id,
        analysed_at=_time(finished[0]),
        metrics=metrics,
        data_health=tracker.data_health(finished[0].run_id),
        robustness=tuple(
            (run.tag("method"), tracker.estimate(run.run_id), run.run_id)
            for run in runs
            if run.tag("role") == "robustness"
        ),
    )


def _time(run: RunRecord) -> datetime:
    return datetime.fromtimestamp(run.start_time / 1000, tz=UTC)
