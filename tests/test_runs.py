"""A trial's runs as a table, what differs between two runs, and where the MLflow UI shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.runs import (
    RunDetails,
    compare_runs,
    comparison_table,
    mlflow_run_url,
    mlflow_ui_base,
    mlflow_ui_command,
    run_details,
    run_label,
    runs_table,
)
from experiments.tracking import RunRecord, Tracker
from livinglab.errors import UnknownNameError

DATA_A = "a" * 64
DATA_B = "b" * 64
SPEC = "c" * 64
CODE = "d" * 40


def details(
    run_id: str = "run-a",
    *,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
) -> RunDetails:
    base_tags = {
        "trial": "smart-bins-2026",
        "metric": "collections_per_bin_week",
        "role": "primary",
        "method": "randomized",
        "spec_hash": SPEC,
        "data_hash": DATA_A,
        "code_version": CODE,
        "seed": "0",
        "analysis": "one",
        "status": "ok",
        "mlflow.runName": "collections_per_bin_week · randomized",
    }
    return RunDetails(
        run_id=run_id,
        status="FINISHED",
        start_time=1_780_000_000_000,
        tags=base_tags | (tags or {}),
        params={"alpha": "0.05", "window": "2026-01-05..2026-07-05", "data_dir": "/data"}
        | (params or {}),
        metrics={"effect": -1.65, "ci_low": -2.2, "ci_high": -1.1, "p_value": 0.002}
        | (metrics or {}),
    )


def test_identical_runs_differ_in_nothing_but_bookkeeping() -> None:
    a = details("run-a")
    b = details("run-b", tags={"analysis": "two", "mlflow.runName": "renamed"})
    comparison = compare_runs(a, b)
    assert comparison.differences == ()
    assert comparison_table(comparison) == []
    assert comparison.headline() == [
        "Data: same (aaaaaaaaaaaa)",
        "Registration (spec): same (cccccccccccc)",
        "Code: same (dddddddddddd)",
        "Method: same (randomized)",
        "Metric: same (collections_per_bin_week)",
        "Settings: same",
    ]


def test_new_data_shows_as_a_changed_hash_beside_the_changed_numbers() -> None:
    comparison = compare_runs(
        details(), details("run-b", tags={"data_hash": DATA_B}, metrics={"effect": -1.5})
    )
    assert [(d.source, d.name) for d in comparison.differences] == [
        ("tag", "data_hash"),
        ("number", "effect"),
    ]
    assert comparison.differs("data_hash")
    assert not comparison.differs("spec_hash")
    headline = comparison.headline()
    assert "Data: changed, aaaaaaaaaaaa → bbbbbbbbbbbb" in headline
    assert "Effect: -1.65 → -1.5" in headline
    assert "Settings: same" in headline


def test_method_window_options_and_seed_are_listed_with_both_values() -> None:
    a = details(params={"option.design": "cluster"})
    b = details(
        "run-b",
        tags={"method": "did", "seed": "3", "kind": "adhoc"},
        params={"window": "2026-02-02..2026-06-28"},
        metrics={"se": 0.3},
    )
    rows = comparison_table(compare_runs(a, b))
    assert {"What": "tag", "Name": "method", "Run A": "randomized", "Run B": "did"} in rows
    assert {"What": "tag", "Name": "kind", "Run A": "—", "Run B": "adhoc"} in rows
    assert {"What": "param", "Name": "option.design", "Run A": "cluster", "Run B": "—"} in rows
    assert {
        "What": "param",
        "Name": "window",
        "Run A": "2026-01-05..2026-07-05",
        "Run B": "2026-02-02..2026-06-28",
    } in rows
    assert {"What": "number", "Name": "se", "Run A": "—", "Run B": "0.3"} in rows
    headline = compare_runs(a, b).headline()
    assert "Method: changed, randomized → did" in headline
    assert "Settings: changed (seed, option.design, window)" in headline


def test_numbers_beyond_the_estimate_are_compared_too() -> None:
    comparison = compare_runs(details(metrics={"p_adjusted": 0.004}), details("run-b"))
    assert [(d.name, d.a, d.b) for d in comparison.differences] == [("p_adjusted", 0.004, None)]


def record(run_id: str, tags: dict[str, str], metrics: dict[str, float]) -> RunRecord:
    return RunRecord(run_id, "FINISHED", 1_780_000_000_000, tags, metrics)


def test_the_runs_table_has_fixed_columns_and_names_planned_runs() -> None:
    planned = record(
        "0123456789abcdef",
        {"metric": "m", "role": "primary", "method": "did", "data_hash": DATA_A, "status": "ok"},
        {"effect": 1.0, "ci_low": 0.5, "ci_high": 1.5, "p_value": 0.01},
    )
    adhoc = record("fedcba9876543210", {"metric": "m", "kind": "adhoc", "deviation": "x"}, {})
    rows = runs_table([planned, adhoc])
    assert list(rows[0]) == [
        "Started (UTC)",
        "Metric",
        "Role",
        "Method",
        "Kind",
        "Run status",
        "Estimate",
        "Effect",
        "95% CI low",
        "95% CI high",
        "p-value",
        "Data hash",
        "Spec hash",
        "Code version",
        "Deviation",
        "Run id",
    ]
    assert rows[0]["Started (UTC)"] == "2026-05-28 20:26:40"
    assert (rows[0]["Kind"], rows[1]["Kind"]) == ("planned", "adhoc")
    assert rows[0]["Data hash"] == "aaaaaaaaaaaa"
    assert rows[0]["Effect"] == 1.0
    assert rows[1]["Effect"] is None
    assert rows[1]["Deviation"] == "x"
    assert run_label(adhoc) == "2026-05-28 20:26 · m ·  · adhoc · fedcba98"


def test_the_mlflow_ui_link_follows_its_url_scheme() -> None:
    # MLflow prints run links as {host}/#/experiments/{experiment}/runs/{run} (tracking client).
    assert mlflow_run_url("7", "abc") == "http://127.0.0.1:5000/#/experiments/7/runs/abc"
    local = "sqlite:////home/x/.livinglab/mlflow.db"
    assert mlflow_ui_command(local) == f"mlflow ui --backend-store-uri {local}"
    assert mlflow_ui_base(local) == "http://127.0.0.1:5000"
    assert mlflow_ui_command("http://mlflow.internal:5000/") is None
    assert mlflow_ui_base("http://mlflow.internal:5000/") == "http://mlflow.internal:5000"


def test_run_details_read_tags_params_and_numbers_back(home: Path) -> None:
    tracker = Tracker(home)
    run_id = tracker.start("trial-x", "smart_bins", "m · did", {"metric": "m", "method": "did"})
    tracker.log_number(run_id, "effect", 2.5)
    tracker.fail(run_id, ValueError("boom"))
    read = run_details(tracker, run_id)
    assert read.status == "FAILED"
    assert read.tag("method") == "did"
    assert read.tags["error"] == "ValueError: boom"
    assert read.metrics == {"effect": 2.5}
    with pytest.raises(UnknownNameError, match="no tracked run 'missing'"):
        run_details(tracker, "missing")
