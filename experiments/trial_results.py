"""The Trial page's results: the robustness table, the results CSV and the summary in words.

``result_rows`` lists every estimate of the latest analysis in ``RESULT_COLUMNS``, the rows that
``results_table`` shows and ``results_csv`` downloads; ``plain_summary`` tells a committee member
in a few sentences what changed; ``charts_zip`` bundles the page's charts for download.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from evaluation.methods import METHODS
from evaluation.result import Estimate
from experiments.portfolio import MetricEvidence, TrialEvidence
from experiments.summary import Verdict, format_p, verdict
from experiments.trial_diagnostics import DiagnosticRow

VERDICT_WORDS: dict[Verdict, str] = {
    "better": "improved",
    "worse": "got worse",
    "unclear": "did not clearly change",
    "not estimated": "could not be estimated",
}
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


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def charts_zip(pages: Mapping[str, str]) -> bytes:
    """Every chart's standalone HTML (``file name -> html``) in one ZIP archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, html in pages.items():
            archive.writestr(name, html)
    return buffer.getvalue()
