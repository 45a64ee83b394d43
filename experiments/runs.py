"""A trial's tracked runs as the evaluator reads them: a table, and what changed between two.

Two runs of the same metric can differ because the data changed (data hash), the registration
changed (spec hash), the code changed (code version), or the analysis was set up differently
(method, window, options, seed). ``compare_runs`` lists every such difference beside the
numbers, so that a changed effect can be traced to its cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from experiments.tracking import NUMBERS, RunRecord, Tracker

MLFLOW_UI = "http://127.0.0.1:5000"
# Bookkeeping that differs between any two runs and says nothing about why results differ.
UNCOMPARED_TAGS = frozenset({"analysis", "error"})
HEADLINE_TAGS = {
    "data_hash": "Data",
    "spec_hash": "Registration (spec)",
    "code_version": "Code",
    "method": "Method",
    "metric": "Metric",
}
Source = Literal["tag", "param", "number"]


@dataclass(frozen=True)
class RunDetails:
    """A run with everything ``compare_runs`` reads: tags, params and numbers."""

    run_id: str
    status: str
    start_time: int
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]

    def tag(self, name: str) -> str:
        return self.tags.get(name, "")

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.start_time / 1000, tz=UTC)


@dataclass(frozen=True)
class Difference:
    source: Source
    name: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunComparison:
    a: RunDetails
    b: RunDetails
    differences: tuple[Difference, ...]

    def differs(self, name: str) -> bool:
        return any(d.name == name for d in self.differences)

    def headline(self) -> list[str]:
        """What changed and what did not, in words, most telling first."""
        lines = []
        for tag, label in HEADLINE_TAGS.items():
            a, b = self.a.tag(tag), self.b.tag(tag)
            lines.append(
                f"{label}: changed, {_short(a)} → {_short(b)}"
                if a != b
                else f"{label}: same ({_short(a) or 'not recorded'})"
            )
        settings = [d.name for d in self.differences if d.source == "param" or d.name == "seed"]
        lines.append(f"Settings: changed ({', '.join(settings)})" if settings else "Settings: same")
        for difference in self.differences:
            if difference.source == "number" and difference.name == "effect":
                lines.append(f"Effect: {_number(difference.a)} → {_number(difference.b)}")
        return lines


def run_details(tracker: Tracker, run_id: str) -> RunDetails:
    """A run's tags, params and numbers (``UnknownNameError`` if there is no such run)."""
    run = tracker.run(run_id)
    return RunDetails(
        run_id=run.run_id,
        status=run.status,
        start_time=run.start_time,
        tags=dict(run.tags),
        params=dict(run.params),
        metrics=dict(run.metrics),
    )


def runs_table(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """One row a run, newest first as given, with fixed columns."""
    return [
        {
            "Started (UTC)": _started(run, "%Y-%m-%d %H:%M:%S"),
            "Metric": run.tag("metric"),
            "Role": run.tag("role"),
            "Method": run.tag("method"),
            "Kind": run.tag("kind") or "planned",
            "Run status": run.status,
            "Estimate": run.tag("status"),
            "Effect": run.metrics.get("effect"),
            "95% CI low": run.metrics.get("ci_low"),
            "95% CI high": run.metrics.get("ci_high"),
            "p-value": run.metrics.get("p_value"),
            "Data hash": run.tag("data_hash")[:12],
            "Spec hash": run.tag("spec_hash")[:12],
            "Code version": run.tag("code_version")[:12],
            "Deviation": run.tag("deviation"),
            "Run id": run.run_id,
        }
        for run in runs
    ]


def run_label(run: RunRecord | RunDetails) -> str:
    """E.g. "2026-11-22 06:44 · collections_per_bin_week · did · adhoc · 1a2b3c4d"."""
    started = datetime.fromtimestamp(run.start_time / 1000, tz=UTC)
    return (
        f"{started:%Y-%m-%d %H:%M} · {run.tag('metric')} · {run.tag('method')} · "
        f"{run.tag('kind') or 'planned'} · {run.run_id[:8]}"
    )


def compare_runs(a: RunDetails, b: RunDetails) -> RunComparison:
    """Every tag, param and number whose value differs between ``a`` and ``b``.

    MLflow's own tags (``mlflow.*``) and bookkeeping (the analysis id, an error text) are left
    out; a value present in one run only shows as ``None`` in the other.
    """
    numbers = _numbers(a, b)
    sides: tuple[tuple[Source, Mapping[str, Any], Mapping[str, Any]], ...] = (
        ("tag", _compared_tags(a.tags), _compared_tags(b.tags)),
        ("param", a.params, b.params),
        ("number", {k: a.metrics.get(k) for k in numbers}, {k: b.metrics.get(k) for k in numbers}),
    )
    differences = [
        Difference(source, name, left.get(name), right.get(name))
        for source, left, right in sides
        for name in sorted(set(left) | set(right))
        if left.get(name) != right.get(name)
    ]
    return RunComparison(a, b, tuple(differences))


def comparison_table(comparison: RunComparison) -> list[dict[str, Any]]:
    return [
        {"What": d.source, "Name": d.name, "Run A": _cell(d.a), "Run B": _cell(d.b)}
        for d in comparison.differences
    ]


def mlflow_ui_command(tracking_uri: str) -> str | None:
    """The command that serves the MLflow UI on a local store; ``None`` for a tracking server,
    which serves its own UI."""
    if _is_server(tracking_uri):
        return None
    return f"mlflow ui --backend-store-uri {tracking_uri}"


def mlflow_ui_base(tracking_uri: str) -> str:
    """Where the MLflow UI answers: the tracking server itself, or ``mlflow ui``'s default."""
    return tracking_uri.rstrip("/") if _is_server(tracking_uri) else MLFLOW_UI


def mlflow_run_url(experiment_id: str, run_id: str, base: str = MLFLOW_UI) -> str:
    """The MLflow UI's page of one run (its single-page app routes after ``#``)."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def _is_server(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("http://", "https://"))


def _compared_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in tags.items()
        if not name.startswith("mlflow.") and name not in UNCOMPARED_TAGS
    }


def _numbers(a: RunDetails, b: RunDetails) -> list[str]:
    extra = sorted((set(a.metrics) | set(b.metrics)) - set(NUMBERS))
    return [*NUMBERS, *extra]


def _short(value: str) -> str:
    """Hashes and commits shortened as git does; other values as they are."""
    return value[:12] if len(value) >= 40 else value


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:+.4g}"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def deviation_log(tracker: Tracker, trial_id: str) -> list[dict[str, Any]]:
    """Every exploratory run that departed from the registered plan, newest first."""
    runs = tracker.runs(trial_id, "tags.kind = 'adhoc' and tags.deviation LIKE '%'")
    return [
        {
            "Started (UTC)": _started(run, "%Y-%m-%d %H:%M"),
            "Metric": run.tag("metric"),
            "Method": run.tag("method"),
            "Departs from the plan": run.tag("deviation"),
            "Effect": run.metrics.get("effect"),
            "95% CI low": run.metrics.get("ci_low"),
            "95% CI high": run.metrics.get("ci_high"),
            "Run id": run.run_id,
        }
        for run in runs
    ]


def _started(run: RunRecord, layout: str) -> str:
    return datetime.fromtimestamp(run.start_time / 1000, tz=UTC).strftime(layout)
