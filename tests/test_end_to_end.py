"""From raw files to a tracked analysis, through the command line, as a new user would go."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest

from experiments.audit import AuditLog
from experiments.cli import main
from experiments.store import TrialStore
from experiments.tracking import Tracker
from tests.cli_helpers import run_json
from tests.conftest import SMART_BINS_SPEC

REQUIRED_TAGS = (
    "trial",
    "pilot",
    "metric",
    "method",
    "spec_hash",
    "data_hash",
    "code_version",
    "seed",
)


def test_simulate_register_evaluate_recovers_the_injected_effect(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    truth = run_json(
        capsys, "simulate", "smart_bins", "--out", str(data), "--seed", "11", "--effect", "-0.3"
    )
    assert (data / "truth.json").is_file()
    assert truth["metrics"]["collections_per_bin_week"]["relative"] == pytest.approx(-0.3, abs=0.02)

    assert main(["register", str(SMART_BINS_SPEC)]) == 0
    assert "registered; spec hash" in capsys.readouterr().out
    report = run_json(
        capsys, "evaluate", str(SMART_BINS_SPEC), "--data", str(data), "--format", "json"
    )

    assert report["trial"] == "smart-bins-2026"
    results = {row["metric"]: row for row in report["results"]}
    assert set(results) == set(truth["metrics"])
    for row in results.values():
        assert row["status"] == "ok", row["message"]
        assert row["ci_low"] <= row["effect"] <= row["ci_high"]
        for key in ("role", "method", "se", "p_value", "message"):
            assert key in row
    primary = results["collections_per_bin_week"]
    injected = truth["metrics"]["collections_per_bin_week"]["effect"]
    assert primary["role"] == "primary"
    assert primary["ci_low"] <= injected <= primary["ci_high"]
    assert primary["p_value"] < 0.05  # a 30% cut on 120 bins is a clear effect
    fill = results["fill_at_collection"]
    assert fill["ci_low"] <= truth["metrics"]["fill_at_collection"]["effect"] <= fill["ci_high"]

    # Holm over the primary and secondary metric; the guardrail keeps its own p-value.
    family = ("collections_per_bin_week", "fill_at_collection")
    (first, p_first), (second, p_second) = sorted(
        ((name, results[name]["p_value"]) for name in family), key=lambda item: item[1]
    )
    assert results[first]["p_adjusted"] == pytest.approx(min(1.0, 2 * p_first))
    assert results[second]["p_adjusted"] == pytest.approx(min(1.0, max(2 * p_first, p_second)))
    guardrail = results["overflow_per_1000_bin_days"]
    assert guardrail["p_adjusted"] == guardrail["p_value"]
    checks = {check["name"]: check for check in primary["diagnostics"]}
    assert set(checks) == {
        "pre_trends",
        "placebo_in_time",
        "placebo_in_space",
        "balance",
        "pre_period_fit",
    }
    assert checks["pre_trends"]["status"] in ("pass", "warn")  # simulated parallel trends
    assert all(check["null_hypothesis"] for check in checks.values())
    assert results["fill_at_collection"]["diagnostics"] == []  # primary metric only
    recommended = report["recommended_methods"]
    assert recommended["primary"] == "randomized"
    assert "did" in recommended["robustness"]
    # The registered robustness check: DiD on the same routes agrees with the randomized answer.
    (robustness,) = report["robustness"]
    assert (robustness["metric"], robustness["method"], robustness["role"]) == (
        "collections_per_bin_week",
        "did",
        "robustness",
    )
    assert robustness["ci_low"] <= injected <= robustness["ci_high"]

    health = report["data_health"]
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert health["rows_quarantined"] > 0
    assert health["units"] == {"treated": 60, "control": 60}
    (fill_feed,) = health["coverage"]
    assert fill_feed["feed"] == "fill_level"
    assert 0.85 < fill_feed["coverage"] < 1.0  # sensor outages and lost readings are simulated
    assert fill_feed["sensor_ratio_mismatch"]["flag"] is False
    assert health["calendar"]["public_holidays"] > 0

    runs = Tracker(home).runs("smart-bins-2026")
    assert len(runs) == 4  # three metrics and the DiD robustness check
    for run in runs:
        assert run.status == "FINISHED"
        assert all(run.tag(tag) for tag in REQUIRED_TAGS)
        assert {"effect", "se", "ci_low", "ci_high", "p_value"} <= set(run.metrics)
        artifacts = {a.path for a in Tracker(home).client.list_artifacts(run.run_id)}
        assert {
            "estimate.json",
            "panel.parquet",
            "observed_vs_counterfactual.html",
            "data_health.json",
            "diagnostics.json",
        } <= artifacts
    registration = TrialStore(home).get("smart-bins-2026")
    assert {run.tag("spec_hash") for run in runs} == {registration.spec_hash}
    assert (home / "mlflow.db").is_file()


def test_evaluate_registers_an_unregistered_spec_first(
    home: Path, smart_bins_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(SMART_BINS_SPEC), "--data", str(smart_bins_data)]) == 0
    captured = capsys.readouterr()
    assert "registered before analysis" in captured.err
    assert "collections_per_bin_week" in captured.out
    assert TrialStore(home).ids() == ["smart-bins-2026"]
    # the command line acts as the operator who owns the store, named by the OS user
    operator = f"os:{getpass.getuser()}"
    entries = AuditLog(home).entries()
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("analyse", operator, "smart-bins-2026"),
        ("register", operator, "smart-bins-2026"),
    ]
    assert entries[0].details["kind"] == "planned"
    assert entries[1].details["spec_hash"] == TrialStore(home).get("smart-bins-2026").spec_hash


def test_a_design_that_cannot_answer_says_so(
    home: Path, smart_bins_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pre-period before the data starts leaves DiD with no 'before' cells: a status, no crash.

    The randomized comparison needs no pre-period and still answers, saying it is unadjusted.
    """
    spec = tmp_path / "early.toml"
    spec.write_text(
        SMART_BINS_SPEC.read_text()
        .replace('id = "smart-bins-2026"', 'id = "smart-bins-early"')
        .replace("start = 2026-03-30", "start = 2026-01-05")
        .replace("pre = [2026-01-05, 2026-03-29]", "pre = [2025-10-06, 2026-01-04]")
        .replace("post = [2026-03-30, 2026-07-05]", "post = [2026-01-05, 2026-07-05]")
    )
    report = run_json(
        capsys, "evaluate", str(spec), "--data", str(smart_bins_data), "--format", "json"
    )
    (robustness,) = report["robustness"]
    assert robustness["status"] == "cannot_estimate"
    assert "no outcomes for treated units before the start" in robustness["message"]
    assert robustness["effect"] is None
    primary = report["results"][0]
    assert primary["status"] == "ok"
    assert any("pre-period" in warning for warning in primary["warnings"])


def test_a_failing_analysis_is_tracked_as_failed(
    home: Path,
    smart_bins_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver diverged")

    monkeypatch.setattr("experiments.analysis.run_method", explode)
    assert main(["evaluate", str(SMART_BINS_SPEC), "--data", str(smart_bins_data)]) == 1
    assert "internal error: RuntimeError: solver diverged" in capsys.readouterr().err
    runs = Tracker(home).runs("smart-bins-2026")
    assert [run.status for run in runs] == ["FAILED"]
    assert runs[0].tag("error") == "RuntimeError: solver diverged"


def test_mlflow_tracking_uri_points_the_runs_elsewhere(
    home: Path,
    smart_bins_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    assert main(["evaluate", str(SMART_BINS_SPEC), "--data", str(smart_bins_data)]) == 0
    capsys.readouterr()
    assert other.is_file()
    assert not (home / "mlflow.db").exists()
    assert len(Tracker(home).runs("smart-bins-2026")) == 4


def test_quarantined_rows_do_not_stop_the_analysis(
    home: Path, smart_bins_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "damaged"
    shutil.copytree(smart_bins_data, data)
    with (data / "readings.csv").open("a") as readings:
        readings.write("garbage line without enough fields\n\x00\x01\n")
    report = run_json(
        capsys, "evaluate", str(SMART_BINS_SPEC), "--data", str(data), "--format", "json"
    )
    health = report["data_health"]
    assert health["files"]["readings.csv"]["rows_quarantined"] >= 2
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert report["results"][0]["status"] == "ok"


@pytest.mark.parametrize(("seed", "effect"), [(21, -0.3), (22, -0.3), (23, 0.0)])
def test_the_cluster_randomized_trial_recovers_the_effect_across_seeds(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    seed: int,
    effect: float,
) -> None:
    data = tmp_path / "data"
    truth = run_json(
        capsys, "simulate", "smart_bins", "--out", str(data), "--seed", str(seed),
        "--effect", str(effect),
    )  # fmt: skip
    report = run_json(
        capsys, "evaluate", str(SMART_BINS_SPEC), "--data", str(data), "--format", "json"
    )
    primary = report["results"][0]
    injected = truth["metrics"]["collections_per_bin_week"]["effect"]
    assert primary["ci_low"] <= injected <= primary["ci_high"], seed
    if effect:
        assert primary["p_value"] < 0.05  # 924 possible draws: p can go down to 1/924
    else:
        assert primary["p_value"] > 0.05
