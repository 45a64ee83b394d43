"""What the Trial page shows of a trial's latest analysis, shaped as plain tables (no Streamlit).

The page reads a trial's latest analysis (``TrialReport``: the evidence, the sites and the
primary metric's diagnostics) and lays out what this module and its siblings build from it: each
metric's pointwise and cumulative effect paths, event-time effects and donor weights here; the
rollout timeline and the sites by district in ``experiments.trial_design``; diagnostics rows with
a pass/warn/fail marker and their null hypothesis in words in ``experiments.trial_diagnostics``;
the robustness table, the results CSV and a plain-language summary in
``experiments.trial_results``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from scipy import stats

from evaluation.result import Estimate
from experiments.portfolio import MetricEvidence, TrialEvidence, trial_evidence
from experiments.spec import TrialSpec
from experiments.tracking import Tracker

PERIOD_LABELS = {"day": "Day", "week": "Week starting", "month": "Month starting"}


@dataclass(frozen=True)
class TrialReport:
    """Everything the Trial page shows: the evidence, its sites and the primary's diagnostics."""

    evidence: TrialEvidence
    sites: tuple[Mapping[str, Any], ...]
    checks: tuple[Mapping[str, Any], ...]

    @property
    def spec(self) -> TrialSpec:
        return self.evidence.spec

    @property
    def primary(self) -> MetricEvidence | None:
        return next((m for m in self.evidence.metrics if m.role.role == "primary"), None)


def period_label(time_grain: str) -> str:
    """The time axis title for a metric's grain."""
    return PERIOD_LABELS.get(time_grain, "Period")


def trial_report(home: Path, trial_id: str) -> TrialReport:
    """The latest analysis of ``trial_id`` (``UnknownNameError`` if the trial is unknown)."""
    evidence = trial_evidence(home, trial_id)
    primary = next((m for m in evidence.metrics if m.role.role == "primary"), None)
    if primary is None:
        return TrialReport(evidence, (), ())
    tracker = Tracker(home)
    return TrialReport(
        evidence, tuple(tracker.sites(primary.run_id)), tuple(tracker.diagnostics(primary.run_id))
    )


# --- effects per metric -------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectPaths:
    """Pointwise and cumulative effect per period, with intervals where the method gives them."""

    period: list[str]
    pointwise: list[float | None]
    pointwise_low: list[float | None] | None
    pointwise_high: list[float | None] | None
    cumulative: list[float | None]
    cumulative_low: list[float | None] | None
    cumulative_high: list[float | None] | None


def effect_paths(series: Mapping[str, Sequence[Any]], start: date) -> EffectPaths | None:
    """Observed minus counterfactual per period, and its running sum from ``start``.

    A method's own paths are used when it reports them (``pointwise_effect`` and
    ``cumulative_effect`` with intervals from ``bsts``, ``effect`` from ``staggered``); otherwise
    the pointwise effect is the gap between the observed and counterfactual series, where both
    exist, and the cumulative effect its sum over the periods since ``start`` (zero before).
    ``None`` when the series has no period with both paths after the start, or its periods
    are not labelled by dates.
    """
    period = [str(p) for p in series.get("period", [])]
    if "pointwise_effect" in series and "cumulative_effect" in series:
        return EffectPaths(
            period,
            _floats(series["pointwise_effect"]),
            _floats(series.get("pointwise_low")),
            _floats(series.get("pointwise_high")),
            _floats(series["cumulative_effect"]),
            _floats(series.get("cumulative_low")),
            _floats(series.get("cumulative_high")),
        )
    if "effect" in series:
        pointwise = _floats(series["effect"])
    else:
        observed = _floats(series.get("observed")) or []
        counterfactual = _floats(series.get("counterfactual")) or []
        pointwise = [
            o - c if o is not None and c is not None else None
            for o, c in zip(observed, counterfactual, strict=False)
        ]
    after = [on_or_after(label, start) for label in period[: len(pointwise)]]
    if None in after or not any(
        value is not None and post for value, post in zip(pointwise, after, strict=False)
    ):
        return None
    cumulative: list[float | None] = []
    running = 0.0
    for value, post in zip(pointwise, after, strict=False):
        if post and value is not None:
            running += value
        cumulative.append(running if post else 0.0)
    return EffectPaths(period[: len(pointwise)], pointwise, None, None, cumulative, None, None)


def event_time_rows(estimate: Estimate, alpha: float) -> tuple[list[dict[str, Any]], str]:
    """Effects by event time (periods since the start) with intervals, and the band's kind.

    From the event study's ``event_times`` (the reference period included at zero), or from
    the staggered method's dynamic aggregation, whose interval is the bootstrap's uniform band
    when it has one and the pointwise normal interval otherwise. Empty for other methods.
    """
    details = estimate.details
    if "event_times" in details:
        reference = details.get("reference_period", -1)
        rows = [
            {
                "event_time": int(row["event_time"]),
                "effect": row["estimate"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "reference": row["event_time"] == reference,
            }
            for row in details["event_times"]
        ]
        return sorted(rows, key=lambda row: row["event_time"]), "pointwise"
    dynamic = (details.get("aggregations") or {}).get("dynamic") or {}
    if not dynamic.get("by"):
        return [], ""
    uniform = dynamic.get("uniform_critical_value")
    critical = uniform if uniform else float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for row in dynamic["by"]:
        se = finite_number(row.get("se"))
        rows.append(
            {
                "event_time": int(row["event_time"]),
                "effect": row["att"],
                "ci_low": row["att"] - critical * se if se is not None else None,
                "ci_high": row["att"] + critical * se if se is not None else None,
                "reference": False,
            }
        )
    return sorted(rows, key=lambda row: row["event_time"]), "uniform" if uniform else "pointwise"


def donor_weight_rows(estimate: Estimate) -> list[dict[str, Any]]:
    """The synthetic control's donors with their weight, largest first (empty otherwise)."""
    weights = estimate.details.get("weights") if estimate.method == "synth" else None
    if not weights:
        return []
    rows = [{"Donor": donor, "Weight": float(weight)} for donor, weight in weights.items()]
    return sorted(rows, key=lambda row: -row["Weight"])


def on_or_after(label: str, start: date) -> bool | None:
    """Whether a period labelled by its first day lies on or after ``start``; None if undated."""
    try:
        return date.fromisoformat(label[:10]) >= start
    except ValueError:
        return None


def _floats(values: Sequence[Any] | None) -> list[float | None] | None:
    if values is None:
        return None
    return [finite_number(v) for v in values]


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float; ``None`` when missing, boolean, not a number or infinite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
