"""Run a registered trial's planned analysis on a data directory and track every result.

raw files -> pilot adapter -> observations -> metric values -> panel -> method -> Estimate -> MLflow
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evaluation.diagnostics import DiagnosticsConfig, run_diagnostics
from evaluation.methods import run_method
from evaluation.multiple_testing import adjust_p_values
from evaluation.panel import Panel
from evaluation.result import Estimate
from evaluation.router import describe, recommend
from experiments.audit import AuditLog, operator
from experiments.provenance import data_hash
from experiments.run_record import finish_run, run_tags
from experiments.spec import TrialSpec, trial_pilot
from experiments.store import Registration
from experiments.tracking import (
    Tracker,
)
from experiments.trial_data import TrialData, metric_panel, prepare_trial_data
from livinglab.errors import DataError
from pilots.contract import MetricDefinition

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
    robustness: tuple[MetricResult, ...]
    data_health: dict[str, Any]
    recommendation: dict[str, Any]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial_id,
            "analysis": self.analysis_id,
            "warnings": list(self.warnings),
            "results": [result.to_dict() for result in self.results],
            "robustness": [result.to_dict() for result in self.robustness],
            "recommended_methods": self.recommendation,
            "data_health": self.data_health,
        }


def evaluate_trial(
    registration: Registration,
    data_dir: Path,
    tracker: Tracker,
    *,
    seed: int = 0,
    actor: str | None = None,
) -> TrialEvaluation:
    """Run the registered method on every registered metric, and the robustness methods on the
    primary one; one tracked run per metric and method. The analysis goes to the audit trail
    as done by ``actor`` (the OS user when not given)."""
    spec = registration.spec
    require_data_dir(data_dir)
    pilot = trial_pilot(spec)
    data = prepare_trial_data(spec, pilot.adapter(data_dir), data_dir)
    context = _RunContext(
        registration,
        data,
        data_dir.resolve(),
        tracker,
        uuid.uuid4().hex[:12],
        data_hash(data_dir),
        seed,
    )
    results = []
    robustness = []
    recommendation: dict[str, Any] = {}
    for metric in spec.metrics:
        definition = pilot.metric(metric.name)
        estimate, panel, run_id, diagnostics = context.run(
            definition, metric.role, spec.planned_method
        )
        results.append(
            MetricResult(
                definition, metric.role, metric.margin, estimate, run_id, diagnostics=diagnostics
            )
        )
        if metric.role != "primary":
            continue
        if panel.frame.height:
            recommendation = recommend(describe(panel, randomized=_randomized(spec))).to_dict()
        for method in spec.analysis.robustness:
            estimate, _, run_id, _ = context.run(definition, "robustness", method)
            robustness.append(MetricResult(definition, "robustness", None, estimate, run_id))
    adjusted = adjust_p_values(
        {r.definition.name: r.estimate.p_value for r in results},
        {r.definition.name: r.role for r in results},
        spec.multiple_testing,
    )
    for result in results:
        if adjusted[result.definition.name] is not None:
            tracker.log_number(result.run_id, "p_adjusted", adjusted[result.definition.name])
    results = [replace(r, p_adjusted=adjusted[r.definition.name]) for r in results]
    AuditLog(tracker.home).record(
        actor or operator(),
        "analyse",
        spec.id,
        {"analysis": context.analysis_id, "kind": "planned", "seed": seed},
    )
    return TrialEvaluation(
        spec.id,
        context.analysis_id,
        tuple(results),
        tuple(robustness),
        data.health,
        recommendation,
        unreachable_significance(results, spec),
    )


def require_data_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")


@dataclass(frozen=True)
class _RunContext:
    """What every tracked run of one analysis shares."""

    registration: Registration
    data: TrialData
    data_dir: Path
    tracker: Tracker
    analysis_id: str
    data_fingerprint: str
    seed: int

    def run(
        self, definition: MetricDefinition, role: str, method: str
    ) -> tuple[Estimate, Panel, str, tuple[dict[str, Any], ...]]:
        spec = self.registration.spec
        tags = run_tags(
            self.registration,
            definition,
            role,
            method,
            data_fingerprint=self.data_fingerprint,
            seed=self.seed,
            analysis_id=self.analysis_id,
        )
        run_id = self.tracker.start(spec.id, spec.pilot, f"{definition.name} · {method}", tags)
        try:
            panel, options = metric_panel(self.data, definition, method)
            if method == spec.planned_method:
                options |= dict(spec.analysis.options)
            estimate = run_method(method, panel, alpha=spec.alpha, seed=self.seed, **options)
            diagnostics = (
                _diagnostics(panel, method, estimate, spec.alpha, self.seed, options)
                if role == "primary" and estimate.ok
                else ()
            )
            finish_run(
                self.tracker,
                run_id,
                self.registration,
                definition,
                estimate,
                panel,
                data=self.data,
                data_dir=self.data_dir,
                window=spec.window,
                options=options,
                diagnostics=diagnostics,
            )
        except Exception as error:
            self.tracker.fail(run_id, error)
            raise
        return estimate, panel, run_id, diagnostics


def unreachable_significance(results: list[MetricResult], spec: TrialSpec) -> tuple[str, ...]:
    """Say so when a permutation p-value's floor, once Holm-corrected, can never reach alpha.

    Holm multiplies the smallest p-value by the family's size; Benjamini-Hochberg leaves equal
    smallest p-values as they are, so only Holm can put significance out of reach.
    """
    family = [r for r in results if r.p_adjusted is not None and r.role != "guardrail"]
    floors = [r.estimate.details.get("p_value_min") for r in family]
    floor = max((f for f in floors if f is not None), default=None)
    if floor is None or spec.multiple_testing != "holm" or len(family) * floor <= spec.alpha:
        return ()
    return (
        f"the smallest p-value this design can give is {floor:.3g}; Holm-corrected across "
        f"{len(family)} metrics it cannot fall below {min(1.0, len(family) * floor):.3g}, "
        f"so no metric can reach alpha = {spec.alpha:g}: register fewer primary and secondary "
        "metrics or find more donors",
    )


def _randomized(spec: TrialSpec) -> bool:
    return spec.planned_method == "randomized"


def _diagnostics(
    panel: Panel,
    method: str,
    estimate: Estimate,
    alpha: float,
    seed: int,
    options: dict[str, Any],
) -> tuple[dict[str, Any], ...]:
    """Every check on the primary metric, re-running the method with the analysis' options;
    re-runs use fewer bootstrap draws to stay quick."""
    config = DiagnosticsConfig(
        alpha=alpha,
        seed=seed,
        method_options=options | DIAGNOSTIC_METHOD_OPTIONS.get(method, {}),
    )
    return tuple(check.to_dict() for check in run_diagnostics(panel, method, estimate, config))
