"""What the committee reads: the portfolio of trials and each trial's latest evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.result import Estimate
from experiments.spec import MetricRole, TrialSpec, trial_pilot
from experiments.store import Registration, TrialStore
from experiments.tracking import RunRecord, Tracker
from pilots.contract import MetricDefinition


@dataclass(frozen=True)
class TrialSummary:
    """One row of the portfolio."""

    trial_id: str
    title: str
    pilot: str
    stage: str  # "registered" or "analysed"
    primary_metric: str
    primary_unit: str
    direction: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_effect: float | None
    last_analysed: datetime | None


@dataclass(frozen=True)
class MetricEvidence:
    role: MetricRole
    definition: MetricDefinition
    estimate: Estimate
    run_id: str


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


def portfolio(home: Path) -> list[TrialSummary]:
    tracker = Tracker(home)
    rows = []
    for registration in TrialStore(home).all():
        spec = registration.spec
        pilot = trial_pilot(spec)
        definition = pilot.metric(spec.primary.name)
        runs = tracker.runs(
            spec.id,
            f"tags.metric = '{spec.primary.name}' and tags.role = 'primary' "
            "and attributes.status = 'FINISHED'",
            1,
        )
        latest = runs[0] if runs else None
        numbers = latest.metrics if latest else {}
        rows.append(
            TrialSummary(
                trial_id=spec.id,
                title=spec.title,
                pilot=pilot.name,
                stage="analysed" if latest else "registered",
                primary_metric=definition.label,
                primary_unit=definition.unit,
                direction=definition.direction,
                effect=numbers.get("effect"),
                ci_low=numbers.get("ci_low"),
                ci_high=numbers.get("ci_high"),
                p_value=numbers.get("p_value"),
                relative_effect=numbers.get("relative_effect"),
                last_analysed=_time(latest) if latest else None,
            )
        )
    return rows


def trial_evidence(home: Path, trial_id: str) -> TrialEvidence:
    """The registration and latest analysis of ``trial_id`` (``UnknownNameError`` if unknown)."""
    registration = TrialStore(home).get(trial_id)
    spec = registration.spec
    pilot = trial_pilot(spec)
    tracker = Tracker(home)
    finished = tracker.runs(spec.id, "attributes.status = 'FINISHED'", limit=200)
    if not finished:
        return TrialEvidence(registration, pilot.name, None, None, (), {})
    analysis_id = finished[0].tag("analysis")
    runs = [run for run in finished if run.tag("analysis") == analysis_id]
    latest = {run.tag("metric"): run for run in runs if run.tag("role") != "robustness"}
    metrics = tuple(
        MetricEvidence(role, pilot.metric(role.name), tracker.estimate(run.run_id), run.run_id)
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
