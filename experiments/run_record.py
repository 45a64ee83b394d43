"""What every tracked analysis run records, planned or ad hoc: its tags and its artifacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from evaluation.panel import Panel
from evaluation.result import Estimate
from experiments.charts import counterfactual_figure
from experiments.provenance import code_version
from experiments.store import Registration
from experiments.tracking import (
    DATA_HEALTH_ARTIFACT,
    DIAGNOSTICS_ARTIFACT,
    SITES_ARTIFACT,
    Tracker,
)
from experiments.trial_data import TrialData
from pilots.contract import MetricDefinition


def run_tags(
    registration: Registration,
    definition: MetricDefinition,
    role: str,
    method: str,
    *,
    data_fingerprint: str,
    seed: int,
    analysis_id: str,
) -> dict[str, str]:
    """The tags that identify a run: trial, metric and role, method, spec, data and code."""
    spec = registration.spec
    return {
        "trial": spec.id,
        "pilot": spec.pilot,
        "metric": definition.name,
        "role": role,
        "method": method,
        "spec_hash": registration.spec_hash,
        "data_hash": data_fingerprint,
        "code_version": code_version(),
        "seed": str(seed),
        "analysis": analysis_id,
    }


def finish_run(
    tracker: Tracker,
    run_id: str,
    registration: Registration,
    definition: MetricDefinition,
    estimate: Estimate,
    panel: Panel,
    *,
    data: TrialData,
    data_dir: Path,
    window: tuple[date, date],
    options: Mapping[str, Any],
    diagnostics: Sequence[dict[str, Any]] = (),
) -> None:
    """Record the estimate with its panel, chart, settings, data health, checks and sites."""
    spec = registration.spec
    chart = counterfactual_figure(
        estimate.details.get("series", {}),
        title=definition.label,
        unit=definition.unit,
        treatment_start=spec.common_start() or spec.post[0],
    )
    tracker.finish(
        run_id,
        estimate,
        panel.frame,
        params={
            "alpha": spec.alpha,
            "data_dir": str(data_dir),
            "window": f"{window[0]}..{window[1]}",
            **{f"option.{key}": value for key, value in options.items()},
        },
        chart_html=chart.to_html(include_plotlyjs="cdn"),
        json_artifacts={
            DATA_HEALTH_ARTIFACT: data.health,
            DIAGNOSTICS_ARTIFACT: list(diagnostics),
            SITES_ARTIFACT: data.sites,
        },
    )
