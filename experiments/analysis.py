"""Run a registered trial's planned analysis on a data directory and track every result.

raw files -> pilot adapter -> observations -> metric values -> panel -> method -> Estimate -> MLflow
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from evaluation.diagnostics import DiagnosticsConfig, run_diagnostics
from evaluation.methods import run_method
from evaluation.multiple_testing import adjust_p_values
from evaluation.panel import Panel, build_panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.router import describe, recommend
from experiments.charts import counterfactual_figure
from experiments.provenance import code_version, data_hash
from experiments.store import Registration
from experiments.tracking import DATA_HEALTH_ARTIFACT, Tracker
from livinglab.errors import DataError, SpecError
from pilots.aggregation import metric_values
from pilots.contract import MetricDefinition, Observations
from pilots.registry import get_pilot

DIAGNOSTIC_METHOD_OPTIONS = {"did": {"bootstrap_draws": 999}}


@dataclass(frozen=True)
class MetricResult:
    definition: MetricDefinition
    role: str
    margin: float | None
    estimate: Estimate
    run_id: str
    p_adjusted: float | None = None
    diagnostics: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        numbers = self.estimate.to_dict()
        return {
            "metric": self.definition.name,
            "role": self.role,
            "p_adjusted": self.p_adjusted,
            **{
                key: numbers[key]
                for key in (
                    "method",
                    "effect",
                    "se",
                    "ci_low",
                    "ci_high",
                    "p_value",
                    "relative_effect",
                    "status",
                    "message",
                    "warnings",
                )
            },
            "unit": self.definition.unit,
            "direction": self.definition.direction,
            "diagnostics": list(self.diagnostics),
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class TrialEvaluation:
    trial_id: str
    analysis_id: str
    results: tuple[MetricResult, ...]
    data_health: dict[str, Any]
    recommendation: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial_id,
            "analysis": self.analysis_id,
            "results": [result.to_dict() for result in self.results],
            "recommended_methods": self.recommendation,
            "data_health": self.data_health,
        }


def evaluate_trial(
    registration: Registration, data_dir: Path, tracker: Tracker, *, seed: int = 0
) -> TrialEvaluation:
    """Run the registered method on every registered metric; one tracked run per metric."""
    spec = registration.spec
    require_data_dir(data_dir)
    pilot = get_pilot(spec.pilot)
    observations = pilot.adapter(data_dir)
    assignment, arm_notes = _assignment(observations, registration)
    health = observations.health() | {
        "units": {
            "treated": int(assignment["treated"].sum()),
            "control": int((~assignment["treated"]).sum()),
        },
        "notes": arm_notes,
    }
    analysis_id = uuid.uuid4().hex[:12]
    fingerprint = data_hash(data_dir)
    results = []
    recommendation: dict[str, Any] = {}
    for metric in spec.metrics:
        definition = pilot.metric(metric.name)
        tags = {
            "trial": spec.id,
            "pilot": spec.pilot,
            "metric": metric.name,
            "role": metric.role,
            "method": spec.planned_method,
            "spec_hash": registration.spec_hash,
            "data_hash": fingerprint,
            "code_version": code_version(),
            "seed": str(seed),
            "analysis": analysis_id,
        }
        run_id = tracker.start(spec.id, spec.pilot, f"{metric.name} · {spec.planned_method}", tags)
        try:
            estimate, panel = _estimate(observations, assignment, registration, definition, seed)
            diagnostics = (
                _diagnostics(panel, spec.planned_method, estimate, spec.alpha, seed)
                if metric.role == "primary" and panel is not None and estimate.ok
                else ()
            )
            chart = counterfactual_figure(
                estimate.details.get("series", {}),
                title=definition.label,
                unit=definition.unit,
                treatment_start=spec.common_start() or spec.post[0],
            )
            tracker.finish(
                run_id,
                estimate,
                panel.frame if panel is not None else pl.DataFrame(),
                params={
                    "alpha": spec.alpha,
                    "data_dir": str(data_dir.resolve()),
                    "window": f"{spec.window[0]}..{spec.window[1]}",
                },
                chart_html=chart.to_html(include_plotlyjs="cdn"),
                json_artifacts={
                    DATA_HEALTH_ARTIFACT: health,
                    "diagnostics.json": list(diagnostics),
                },
            )
        except Exception as error:
            tracker.fail(run_id, error)
            raise
        results.append(
            MetricResult(
                definition, metric.role, metric.margin, estimate, run_id, diagnostics=diagnostics
            )
        )
        if metric.role == "primary" and panel is not None and panel.frame.height:
            recommendation = recommend(describe(panel, randomized=False)).to_dict()
    adjusted = adjust_p_values(
        {r.definition.name: r.estimate.p_value for r in results},
        {r.definition.name: r.role for r in results},
        spec.multiple_testing,
    )
    for result in results:
        if adjusted[result.definition.name] is not None:
            tracker.log_number(result.run_id, "p_adjusted", adjusted[result.definition.name])
    results = [replace(r, p_adjusted=adjusted[r.definition.name]) for r in results]
    return TrialEvaluation(spec.id, analysis_id, tuple(results), health, recommendation)


def require_data_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")


def _assignment(
    observations: Observations, registration: Registration
) -> tuple[pl.DataFrame, list[str]]:
    """``unit, treated, cluster`` for the units in the trial's arms."""
    spec = registration.spec
    units = observations.units
    attribute = spec.assigned_by
    if attribute not in units.columns:
        attributes = ", ".join(units.columns)
        raise SpecError(
            f"arms.assigned_by: {attribute!r} is not an attribute of pilot {spec.pilot!r}'s "
            f"units; use one of {attributes}"
        )
    label = pl.col(attribute).cast(pl.String)
    assignment = units.select(
        "unit",
        label.is_in(list(spec.treated)).alias("treated"),
        label.is_in(list(spec.control)).alias("in_control"),
        label.alias("cluster"),
    )
    present = set(assignment["cluster"].to_list())
    absent = [name for name in (*spec.treated, *spec.control) if name not in present]
    notes = [f"arm member(s) with no units in the data: {', '.join(absent)}"] if absent else []
    in_trial = assignment.filter(pl.col("treated") | pl.col("in_control")).drop("in_control")
    return in_trial, notes


def _estimate(
    observations: Observations,
    assignment: pl.DataFrame,
    registration: Registration,
    definition: MetricDefinition,
    seed: int,
) -> tuple[Estimate, Panel | None]:
    spec = registration.spec
    start = spec.common_start()
    if start is None:
        message = (
            "treated units start on different dates; this method needs one start date "
            "(a staggered design needs a staggered method)"
        )
        return cannot_estimate(spec.planned_method, "", message), None
    panel = build_panel(
        metric_values(observations.table, definition),
        assignment.lazy(),
        outcome=definition.name,
        treatment_start=start,
        window=spec.window,
    )
    estimate = run_method(spec.planned_method, panel, alpha=spec.alpha, seed=seed)
    return estimate, panel


def _diagnostics(
    panel: Panel, method: str, estimate: Estimate, alpha: float, seed: int
) -> tuple[dict[str, Any], ...]:
    """Every check on the primary metric; re-runs use fewer bootstrap draws to stay quick."""
    config = DiagnosticsConfig(
        alpha=alpha, seed=seed, method_options=DIAGNOSTIC_METHOD_OPTIONS.get(method, {})
    )
    return tuple(check.to_dict() for check in run_diagnostics(panel, method, estimate, config))
