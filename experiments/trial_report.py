"""What the Trial page shows, shaped as plain tables and sentences (no Streamlit here).

The page reads a trial's latest analysis (``TrialReport``: the evidence, the sites and the
primary metric's diagnostics) and lays out what this module builds from it: the rollout timeline,
the sites by district, each metric's pointwise and cumulative effect paths, event-time effects,
donor weights, diagnostics rows with a pass/warn/fail marker and their null hypothesis in words,
the robustness table, the results CSV and a plain-language summary.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from scipy import stats

from evaluation.methods import METHODS
from evaluation.result import Estimate
from experiments.portfolio import MetricEvidence, TrialEvidence, trial_evidence
from experiments.spec import TrialSpec
from experiments.summary import Verdict, format_p, verdict
from experiments.tracking import Tracker

MARKERS = {
    "pass": "✅ pass",
    "warn": "⚠️ warn",
    "fail": "❌ fail",
    "informational": "ℹ️ for information",
    "not_applicable": "➖ not applicable",
}
CHECK_TITLES = {
    "pre_trends": "Pre-trend test",
    "placebo_in_time": "Placebo in time",
    "placebo_in_space": "Placebo in space",
    "balance": "Balance before the start",
    "pre_period_fit": "Pre-period fit",
    "data_health": "Data health",
}
VERDICT_WORDS: dict[Verdict, str] = {
    "better": "improved",
    "worse": "got worse",
    "unclear": "did not clearly change",
    "not estimated": "could not be estimated",
}
PERIOD_LABELS = {"day": "Day", "week": "Week starting", "month": "Month starting"}
NAMED_GROUPS = 3  # a timeline bar names at most this many treated groups, else counts them
ARM_LABELS = {"treated": "Treated", "control": "Control", "switchback": "Switchback"}
# Data health: below this share of expected readings, or above this share of rows quarantined,
# the data warn; an arm-dependent loss of data (sensor ratio mismatch) fails.
COVERAGE_WARN = 0.90
QUARANTINE_WARN = 0.01
DATA_HEALTH_NULL = (
    "The data arrived alike in both arms and nearly complete: availability after the start does "
    "not differ between treated and control units, and few rows had to be quarantined"
)
RESULT_COLUMNS = (
    "trial",
    "analysis",
    "metric",
    "label",
    "role",
    "method",
    "estimand",
    "status",
    "effect",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "relative_effect",
    "unit",
    "n_obs",
    "n_units",
    "n_treated",
    "message",
    "run_id",
)


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


# --- design -------------------------------------------------------------------------------------


def first_start(spec: TrialSpec) -> date:
    """The earliest treatment start (the start of the post window when none is given)."""
    starts = [spec.treatment_start] if spec.treatment_start else []
    starts += [start for _, start in spec.start_by_unit]
    return min(starts, default=spec.post[0])


def mapped_sites(sites: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Sites with coordinates, as ``unit, arm, district, lat, lon`` rows for a map."""
    return [
        {
            "unit": site["unit"],
            "arm": ARM_LABELS.get(site.get("arm", ""), site.get("arm", "")),
            "district": site.get("district") or "not recorded",
            "start": site.get("start") or "",
            "lat": float(site["lat"]),
            "lon": float(site["lon"]),
        }
        for site in sites
        if _number(site.get("lat")) is not None and _number(site.get("lon")) is not None
    ]


def district_rows(sites: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Units per district and arm: the design in a table when there is no map to draw."""
    arms = [arm for arm in ARM_LABELS if any(site.get("arm") == arm for site in sites)]
    counts = Counter((site.get("district") or "not recorded", site.get("arm")) for site in sites)
    districts = sorted({district for district, _ in counts})
    return [
        {"District": district}
        | {f"{ARM_LABELS[arm]} units": counts[(district, arm)] for arm in arms}
        for district in districts
    ]


@dataclass(frozen=True)
class TimelineRow:
    """One bar of the rollout timeline."""

    stage: str
    start: date
    end: date
    kind: str  # "pre", "cohort" or "post"


def timeline_rows(spec: TrialSpec, sites: Sequence[Mapping[str, Any]]) -> list[TimelineRow]:
    """The pre window, one bar per cohort from its start, and the post window."""
    rows = [TimelineRow("Before (pre window)", spec.pre[0], spec.pre[1], "pre")]
    if spec.switchback:
        rows.append(
            TimelineRow(
                f"Switchback: {len(spec.treated)} days with, {len(spec.control)} without",
                spec.treatment_start or spec.post[0],
                spec.post[1],
                "cohort",
            )
        )
    elif spec.start_by_unit:
        starts = Counter(
            site.get("start")
            for site in sites
            if site.get("arm") == "treated" and site.get("start")
        )
        groups: dict[date, list[str]] = {}
        for group, start in spec.start_by_unit:
            groups.setdefault(start, []).append(group)
        for start in sorted(groups):
            count = starts.get(start.isoformat(), 0)
            rows.append(
                TimelineRow(
                    f"Cohort {', '.join(groups[start])} treated{_units(count)}",
                    start,
                    spec.post[1],
                    "cohort",
                )
            )
    else:
        count = sum(1 for site in sites if site.get("arm") == "treated")
        named = (
            ", ".join(spec.treated)
            if len(spec.treated) <= NAMED_GROUPS
            else f"{len(spec.treated)} {spec.assigned_by}s"
        )
        start = spec.treatment_start or spec.post[0]
        rows.append(TimelineRow(f"{named} treated{_units(count)}", start, spec.post[1], "cohort"))
    rows.append(TimelineRow("After (post window)", spec.post[0], spec.post[1], "post"))
    return rows


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
    after = [_on_or_after(label, start) for label in period[: len(pointwise)]]
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
        se = _number(row.get("se"))
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


# --- diagnostics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosticRow:
    """One diagnostic as the page lists it."""

    name: str
    title: str
    status: str
    marker: str
    null_hypothesis: str
    reading: str
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "Check": self.title,
            "Result": self.marker,
            "Null hypothesis": self.null_hypothesis,
            "What the data say": self.reading,
            "p-value": self.p_value,
        }


def diagnostic_rows(
    checks: Sequence[Mapping[str, Any]], health: Mapping[str, Any]
) -> list[DiagnosticRow]:
    """The primary metric's checks, then data health, each with its marker and null in words."""
    rows = [
        DiagnosticRow(
            name=check["name"],
            title=CHECK_TITLES.get(check["name"], check["name"].replace("_", " ").capitalize()),
            status=check["status"],
            marker=MARKERS.get(check["status"], check["status"]),
            null_hypothesis=check["null_hypothesis"],
            reading=check.get("message", ""),
            p_value=_number(check.get("p_value")),
        )
        for check in checks
    ]
    return [*rows, data_health_row(health)]


def data_health_row(health: Mapping[str, Any]) -> DiagnosticRow:
    """Data health judged like a check: ``fail`` on a sensor ratio mismatch, ``warn`` when
    coverage is below ``COVERAGE_WARN`` or more than ``QUARANTINE_WARN`` of rows were quarantined.
    """
    if not health or not health.get("rows_read"):
        return _health("not_applicable", "No data-health report was recorded for this analysis.")
    quarantined = health.get("rows_quarantined", 0) / health["rows_read"]
    feeds = health.get("coverage", [])
    mismatched = [f["label"] for f in feeds if (f.get("sensor_ratio_mismatch") or {}).get("flag")]
    thin = [f"{f['label']} ({f['coverage']:.0%})" for f in feeds if f["coverage"] < COVERAGE_WARN]
    told = f"{quarantined:.2%} of {health['rows_read']:,} rows quarantined"
    if feeds:
        told += "; coverage " + ", ".join(f"{f['label']} {f['coverage']:.1%}" for f in feeds)
    if mismatched:
        return _health(
            "fail",
            f"{told}. Availability after the start differs between the arms for "
            f"{', '.join(mismatched)}: the comparison may reflect what went missing.",
        )
    problems = []
    if thin:
        problems.append(f"below {COVERAGE_WARN:.0%} coverage: {', '.join(thin)}")
    if quarantined > QUARANTINE_WARN:
        problems.append(f"more than {QUARANTINE_WARN:.0%} of rows quarantined")
    if problems:
        return _health("warn", f"{told}. Watch: {'; '.join(problems)}.")
    return _health("pass", f"{told}; data arrived alike in both arms.")


def placebo_distribution(check: Mapping[str, Any]) -> tuple[list[dict[str, Any]], float] | None:
    """The placebo-in-space effects (``cluster, effect``) and the real effect, if it ran."""
    details = check.get("details") or {}
    if check.get("name") != "placebo_in_space" or not details.get("placebos"):
        return None
    return list(details["placebos"]), float(details["real_effect"])


def balance_rows(check: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The balance check's variables with arm means and standardised differences."""
    details = check.get("details") or {}
    threshold = details.get("threshold")
    return [
        {
            "Variable": row["variable"],
            "Treated mean": row["treated_mean"],
            "Control mean": row["control_mean"],
            "Standardised difference": row["smd"],
            "Flag": "⚠️" if row["variable"] in details.get("flagged", []) else "",
            "Threshold": threshold,
        }
        for row in details.get("variables", [])
    ]


# --- robustness, results, summary ---------------------------------------------------------------


def robustness_rows(evidence: TrialEvidence) -> list[dict[str, Any]]:
    """The primary metric under the registered method and every robustness method."""
    primary = next((m for m in evidence.metrics if m.role.role == "primary"), None)
    if primary is None:
        return []
    reference = primary.estimate.effect
    rows = [_robustness_row(primary.estimate, "registered", reference)]
    rows += [_robustness_row(est, "robustness", reference) for _, est, _ in evidence.robustness]
    return rows


def result_rows(evidence: TrialEvidence) -> list[dict[str, Any]]:
    """Every estimate of the latest analysis in ``RESULT_COLUMNS``: metrics, then robustness."""
    rows = [
        _result_row(evidence, m.definition.name, m.definition.label, m.role.role, m.estimate)
        | {"unit": m.definition.unit, "run_id": m.run_id}
        for m in evidence.metrics
    ]
    primary = next((m for m in evidence.metrics if m.role.role == "primary"), None)
    if primary is not None:
        rows += [
            _result_row(
                evidence, primary.definition.name, primary.definition.label, "robustness", est
            )
            | {"unit": primary.definition.unit, "run_id": run_id}
            for _, est, run_id in evidence.robustness
        ]
    return rows


def results_table(evidence: TrialEvidence) -> list[dict[str, Any]]:
    """The results as the page shows them: readable column names, p-values in words."""
    return [
        {
            "Metric": row["label"] if row["role"] != "robustness" else f"{row['label']} (check)",
            "Role": row["role"],
            "Method": row["method"],
            "Effect": row["effect"],
            "95% CI low": row["ci_low"],
            "95% CI high": row["ci_high"],
            "Relative": row["relative_effect"],
            "p-value": format_p(row["p_value"]),
            "Status": row["status"],
            "Unit": row["unit"],
        }
        for row in result_rows(evidence)
    ]


def results_csv(evidence: TrialEvidence) -> str:
    """The results as CSV, one row per estimate, columns ``RESULT_COLUMNS``."""
    schema = {
        name: pl.Float64
        if name in ("effect", "se", "ci_low", "ci_high", "p_value", "relative_effect")
        else pl.Int64
        if name.startswith("n_")
        else pl.String
        for name in RESULT_COLUMNS
    }
    return pl.DataFrame(result_rows(evidence), schema=schema, orient="row").write_csv()


def plain_summary(evidence: TrialEvidence, diagnostics: Sequence[DiagnosticRow]) -> str:
    """A few sentences a committee member can read in a minute: what changed, how far the
    checks (``diagnostic_rows``) support it and whether other methods agree."""
    if not evidence.metrics:
        return "This trial is registered but has not been analysed yet."
    parts = []
    primary = next((m for m in evidence.metrics if m.role.role == "primary"), None)
    if primary is not None:
        parts.append(_metric_sentence(primary, headline=True))
    others = [m for m in evidence.metrics if m is not primary]
    if others:
        listed = "; ".join(_metric_sentence(m, headline=False) for m in others)
        parts.append(f"Other metrics: {listed}.")
    judged = [row for row in diagnostics if row.status in ("pass", "warn", "fail")]
    if judged:
        counts = Counter(row.status for row in judged)
        flagged = [row.title.lower() for row in judged if row.status in ("warn", "fail")]
        told = (
            f"Of {len(judged)} checks with a pass/fail rule, {counts['pass']} passed, "
            f"{counts['warn']} warned and {counts['fail']} failed"
        )
        parts.append(told + (f" (read with care: {', '.join(flagged)})." if flagged else "."))
    if primary is not None and evidence.robustness and primary.estimate.effect is not None:
        same = sum(
            1
            for _, est, _ in evidence.robustness
            if est.effect is not None and _sign(est.effect) == _sign(primary.estimate.effect)
        )
        parts.append(
            f"{same} of {len(evidence.robustness)} other method(s) "
            "point the same way as the registered one."
        )
    return " ".join(parts)


def _metric_sentence(item: MetricEvidence, *, headline: bool) -> str:
    estimate, definition = item.estimate, item.definition
    words = VERDICT_WORDS[verdict(estimate, definition)]
    label = definition.label if headline else definition.label.lower()
    if estimate.effect is None:
        return f"{label} {words}" + (f": {estimate.message}." if headline else "")
    change = f"{estimate.effect:+.3g} {definition.unit}"
    if estimate.relative_effect is not None:
        change += f" ({estimate.relative_effect:+.0%})"
    if headline:
        interval = (
            f", 95% CI {estimate.ci_low:+.3g} to {estimate.ci_high:+.3g}"
            if estimate.ci_low is not None and estimate.ci_high is not None
            else ", with no interval"
        )
        return f"{label} {words} with the pilot: {change}{interval}."
    return f"{label} {words} ({change}, {item.role.role})"


def _robustness_row(estimate: Estimate, role: str, reference: float | None) -> dict[str, Any]:
    method = METHODS.get(estimate.method)
    if estimate.effect is None or reference is None:
        direction = "not estimated"
    else:
        direction = "same" if _sign(estimate.effect) == _sign(reference) else "opposite"
    return {
        "Method": estimate.method,
        "Role": role,
        "Effect": estimate.effect,
        "95% CI low": estimate.ci_low,
        "95% CI high": estimate.ci_high,
        "p-value": estimate.p_value,
        "Relative": estimate.relative_effect,
        "Direction vs registered": direction,
        "Status": estimate.status,
        "How it works": method.summary if method else "",
    }


def _result_row(
    evidence: TrialEvidence, metric: str, label: str, role: str, estimate: Estimate
) -> dict[str, Any]:
    numbers = estimate.to_dict()
    return {name: numbers.get(name) for name in RESULT_COLUMNS} | {
        "trial": evidence.spec.id,
        "analysis": evidence.analysis_id,
        "metric": metric,
        "label": label,
        "role": role,
    }


def _health(status: str, reading: str) -> DiagnosticRow:
    return DiagnosticRow(
        "data_health",
        CHECK_TITLES["data_health"],
        status,
        MARKERS[status],
        DATA_HEALTH_NULL,
        reading,
        None,
    )


def _units(count: int) -> str:
    if not count:
        return ""
    return f" ({count} unit{'s' if count != 1 else ''})"


def _on_or_after(label: str, start: date) -> bool | None:
    """Whether a period labelled by its first day lies on or after ``start``; None if undated."""
    try:
        return date.fromisoformat(label[:10]) >= start
    except ValueError:
        return None


def _floats(values: Sequence[Any] | None) -> list[float | None] | None:
    if values is None:
        return None
    return [_number(v) for v in values]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def charts_zip(pages: Mapping[str, str]) -> bytes:
    """Every chart's standalone HTML (``file name -> html``) in one ZIP archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, html in pages.items():
            archive.writestr(name, html)
    return buffer.getvalue()
