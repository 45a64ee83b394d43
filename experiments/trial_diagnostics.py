"""The Trial page's diagnostics: each check of the primary metric and data health, in words.

Every row carries a pass/warn/fail marker and the check's null hypothesis in words; data health is
judged like a check (``data_health_row``). Placebo and balance checks also give their details.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from experiments.trial_report import finite_number

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
# Data health: below this share of expected readings, or above this share of rows quarantined,
# the data warn; an arm-dependent loss of data (sensor ratio mismatch) fails.
COVERAGE_WARN = 0.90
QUARANTINE_WARN = 0.01
DATA_HEALTH_NULL = (
    "The data arrived alike in both arms and nearly complete: availability after the start does "
    "not differ between treated and control units, and few rows had to be quarantined"
)


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
            p_value=finite_number(check.get("p_value")),
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
