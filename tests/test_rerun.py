"""``livinglab rerun``: every method's tracked run recomputes to the last digit, tracking nothing;
changed data, a changed registration or an edited estimate make it fail and say where."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from evaluation.methods import METHODS
from experiments.adhoc import run_analysis
from experiments.analysis import evaluate_trial
from experiments.audit import AuditLog
from experiments.cli import main
from experiments.provenance import code_version, data_hash
from experiments.spec import load_spec
from experiments.store import Registration, TrialStore, livinglab_home
from experiments.tracking import Tracker
from pilots.registry import get_pilot

# Demo trials whose planned and robustness runs are re-run; ``AD_HOC`` adds the methods no demo
# trial registers, run ad hoc (and ``randomized`` again, on a switchback, for the tamper tests).
PLANNED_PILOTS = ("smart_bins", "kowloon_east", "smart_lampposts")
AD_HOC = {"prepost": "smart_bins", "randomized": "autonomous_vehicles"}
SIMULATION_SEED = 11
NARROW = (date(2026, 2, 2), date(2026, 6, 28))


@dataclass(frozen=True)
class Evaluated:
    """A demo trial's planned analysis, tracked in ``home``: the runs to re-run."""

    home: Path
    pilot: str
    trial: str
    primary: str
    runs: dict[str, str]  # the primary metric's run id by method: planned and robustness
    rate_runs: tuple[str, ...]


@dataclass(frozen=True)
class Switchback:
    """The autonomous-shuttle trial registered in ``home`` with its simulated data."""

    home: Path
    data: Path
    registration: Registration


@dataclass(frozen=True)
class Tracked:
    """One ad-hoc run of the autonomous-shuttle trial on a copy of its data the test may spoil."""

    home: Path
    data: Path
    registration: Registration
    run_id: str


def registered_methods() -> dict[str, str]:
    """Each method a demo trial registers, with the first of ``PLANNED_PILOTS`` that does."""
    owners: dict[str, str] = {}
    for pilot_id in PLANNED_PILOTS:
        spec, _ = load_spec(get_pilot(pilot_id).demo_spec)
        for method in (spec.planned_method, *spec.analysis.robustness):
            owners.setdefault(method, pilot_id)
    return owners


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One store for the module: MLflow takes seconds to set up each new one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield tmp_path_factory.mktemp("rerun_home")


@pytest.fixture(scope="module", params=PLANNED_PILOTS)
def planned(
    request: pytest.FixtureRequest, shared_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Evaluated:
    pilot = get_pilot(request.param)
    if pilot.id == "smart_bins":
        data = request.getfixturevalue("smart_bins_data")
    else:
        data = tmp_path_factory.mktemp(pilot.id)
        pilot.simulator(data, seed=SIMULATION_SEED, effect=pilot.default_effect)
    registration = register(shared_home, pilot.demo_spec)
    evaluation = evaluate_trial(registration, data, Tracker(shared_home), seed=SIMULATION_SEED)
    primary = registration.spec.primary.name
    return Evaluated(
        home=shared_home,
        pilot=pilot.id,
        trial=registration.spec.id,
        primary=primary,
        runs={
            result.estimate.method: result.run_id
            for result in (*evaluation.results, *evaluation.robustness)
            if result.definition.name == primary
        },
        # For ``randomized`` a rate goes in as event counts, with its exposure and scale as
        # options that come back from the run's text params.
        rate_runs=tuple(
            result.run_id
            for result in evaluation.results
            if result.definition.aggregation == "ratio" and result.estimate.method == "randomized"
        ),
    )


@pytest.fixture(scope="module")
def switchback(shared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Switchback:
    pilot = get_pilot(AD_HOC["randomized"])
    data = tmp_path_factory.mktemp(pilot.id)
    pilot.simulator(data, seed=SIMULATION_SEED, effect=pilot.default_effect)
    return Switchback(shared_home, data, register(shared_home, pilot.demo_spec))


@pytest.fixture
def tracked(switchback: Switchback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tracked:
    monkeypatch.setenv("LIVINGLAB_HOME", str(switchback.home))
    return adhoc_run(switchback.home, switchback.registration, switchback.data, tmp_path)


def adhoc_run(home: Path, registration: Registration, pristine: Path, tmp_path: Path) -> Tracked:
    """The primary metric's ``randomized`` run, ad hoc, on a fresh copy of ``pristine``."""
    data = shutil.copytree(pristine, tmp_path / "data")
    analysis = run_analysis(
        registration,
        data,
        Tracker(home),
        [registration.spec.primary.name],
        ["randomized"],
        seed=SIMULATION_SEED,
    )
    return Tracked(home, data, registration, analysis.results[0].run_id)


def register(home: Path, spec_path: Path) -> Registration:
    spec, text = load_spec(spec_path)
    return TrialStore(home).register(spec, text)[0]


def rerun(capsys: pytest.CaptureFixture[str], run_id: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of ``livinglab rerun RUN_ID --format json``."""
    code = main(["rerun", run_id, "--format", "json"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    report = json.loads(captured.out)
    audited = AuditLog(livinglab_home()).entries(action="rerun", limit=1)[0]
    assert audited.details == {"run_id": run_id, "match": report["match"]}
    return code, report


def tracked_state(home: Path, trial: str) -> list[tuple[Any, ...]]:
    """Everything MLflow holds about a trial's runs."""
    return [
        (run.run_id, run.status, dict(run.tags), dict(run.params), dict(run.metrics))
        for run in Tracker(home).runs(trial)
    ]


def estimate_file(home: Path, run_id: str) -> Path:
    """The run's ``estimate.json`` in the local artifact store."""
    (path,) = home.glob(f"artifacts/*/{run_id}/artifacts/estimate.json")
    return path


def test_the_demo_trials_and_ad_hoc_runs_cover_every_method() -> None:
    assert set(registered_methods()) | set(AD_HOC) == set(METHODS)


def test_planned_and_robustness_runs_rerun_to_the_last_digit(
    planned: Evaluated, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(planned.home))
    before = tracked_state(planned.home, planned.trial)
    methods = [m for m, pilot in registered_methods().items() if pilot == planned.pilot]
    assert methods
    for method in methods:
        code, report = rerun(capsys, planned.runs[method])
        assert (code, report["match"], report["differences"]) == (0, True, []), method
        assert report["run_id"] == planned.runs[method]
        assert (report["trial"], report["metric"], report["method"]) == (
            planned.trial,
            planned.primary,
            method,
        )
        assert report["seed"] == SIMULATION_SEED
        assert report["code_version"] == {"recorded": code_version(), "current": code_version()}
    for run_id in planned.rate_runs:
        code, report = rerun(capsys, run_id)
        assert (code, report["match"], report["differences"]) == (0, True, []), run_id
    assert tracked_state(planned.home, planned.trial) == before  # no new run, nothing changed


def test_an_ad_hoc_run_with_its_own_window_and_options_reruns_to_the_last_digit(
    shared_home: Path,
    smart_bins_data: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(shared_home))
    registration = register(shared_home, get_pilot(AD_HOC["prepost"]).demo_spec)
    tracker = Tracker(shared_home)
    analysis = run_analysis(
        registration,
        smart_bins_data,
        tracker,
        [registration.spec.primary.name],
        ["prepost"],
        window=NARROW,
        options={"prepost": {"trend": False, "errors": "hac"}},
        seed=5,
    )
    run_id = analysis.results[0].run_id
    params = tracker.run(run_id).params
    assert (params["window"], params["option.trend"], params["option.errors"]) == (
        "2026-02-02..2026-06-28",
        "False",
        "hac",
    )
    code, report = rerun(capsys, run_id)
    assert (code, report["match"], report["differences"]) == (0, True, [])
    assert (report["method"], report["seed"]) == ("prepost", 5)


def test_a_switchback_run_reruns_and_says_so_in_text(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rerun", tracked.run_id, "--format", "text"]) == 0
    (verdict,) = capsys.readouterr().out.splitlines()
    assert verdict == (
        f"run {tracked.run_id} (autonomous-shuttle-2026: journey_time_min, primary, randomized, "
        f"seed {SIMULATION_SEED}): reproduced exactly"
    )


def test_a_changed_data_file_fails_the_rerun_without_recomputing(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = data_hash(tracked.data)
    changed = next(p for p in sorted(tracked.data.iterdir()) if p.suffix == ".csv")
    changed.write_bytes(changed.read_bytes() + b"\n")
    code, report = rerun(capsys, tracked.run_id)
    assert (code, report["match"]) == (1, False)
    (difference,) = report["differences"]
    assert difference["field"] == "data_hash"
    assert (difference["recorded"], difference["current"]) == (recorded, data_hash(tracked.data))
    assert difference["current"] != recorded


def test_a_data_directory_that_is_gone_fails_the_rerun(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.move(tracked.data, tracked.data.with_name("moved"))
    code, report = rerun(capsys, tracked.run_id)
    assert (code, report["match"]) == (1, False)
    (difference,) = report["differences"]
    assert (difference["field"], difference["current"]) == ("data_hash", None)
    assert str(tracked.data.resolve()) in difference["note"]


def test_an_edited_estimate_fails_the_rerun_naming_each_number(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    path = estimate_file(tracked.home, tracked.run_id)
    stored = json.loads(path.read_text())
    original_effect = stored["effect"]
    original_point = stored["details"]["series"]["counterfactual"][3]
    stored["effect"] = math.nextafter(original_effect, math.inf)  # the last digit only
    stored["details"]["series"]["counterfactual"][3] = original_point + 1
    path.write_text(json.dumps(stored))
    code, report = rerun(capsys, tracked.run_id)
    assert (code, report["match"]) == (1, False)
    assert report["differences"] == [
        {"field": "effect", "recorded": stored["effect"], "current": original_effect},
        {
            "field": "details.series.counterfactual[3]",
            "recorded": original_point + 1,
            "current": original_point,
        },
    ]
    assert main(["rerun", tracked.run_id]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(f"seed {SIMULATION_SEED}): DOES NOT MATCH")
    assert lines[1] == f"  effect: recorded {stored['effect']!r}, now {original_effect!r}"


def test_more_than_fifty_differences_are_counted_not_listed(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    path = estimate_file(tracked.home, tracked.run_id)
    stored = json.loads(path.read_text())
    series = stored["details"]["series"]["counterfactual"]
    stored["details"]["series"]["counterfactual"] = [
        None if value is None else value + 1 for value in series
    ]
    path.write_text(json.dumps(stored))
    _, report = rerun(capsys, tracked.run_id)
    changed = sum(value is not None for value in series)
    assert changed > 50
    assert len(report["differences"]) == 51
    assert all(
        d["field"].startswith("details.series.counterfactual[") for d in report["differences"][:50]
    )
    assert report["differences"][50] == {
        "field": "...",
        "note": f"{changed - 50} more differences",
    }


def test_another_code_version_is_reported_but_still_matches(
    tracked: Tracked, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("experiments.rerun.code_version", lambda: "0123abc")
    code, report = rerun(capsys, tracked.run_id)
    assert (code, report["match"]) == (0, True)
    assert report["differences"] == [
        {
            "field": "code_version",
            "recorded": code_version(),
            "current": "0123abc",
            "note": "recomputed with the current code",
        }
    ]
    assert report["code_version"] == {"recorded": code_version(), "current": "0123abc"}


def test_a_trial_registered_again_with_another_spec_fails_the_rerun(
    home: Path, switchback: Switchback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a store of its own: the shared one keeps its registration."""
    spec_path = get_pilot(AD_HOC["randomized"]).demo_spec
    tracked = adhoc_run(home, register(home, spec_path), switchback.data, tmp_path)
    shutil.rmtree(home / "trials" / tracked.registration.spec.id)
    changed = tmp_path / "changed.toml"
    changed.write_text(spec_path.read_text().replace("alpha = 0.05", "alpha = 0.1"))
    again = register(home, changed)
    code, report = rerun(capsys, tracked.run_id)
    assert (code, report["match"]) == (1, False)
    (difference,) = report["differences"]
    assert difference["field"] == "spec_hash"
    assert (difference["recorded"], difference["current"]) == (
        tracked.registration.spec_hash,
        again.spec_hash,
    )


def test_an_unknown_run_is_an_error(
    shared_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(shared_home))
    assert main(["rerun", "0" * 32, "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: no tracked run '{'0' * 32}'")


def test_a_failed_run_is_an_error(
    shared_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(shared_home))
    tracker = Tracker(shared_home)
    run_id = tracker.start("failing-trial", "smart_bins", "failed", {"trial": "failing-trial"})
    tracker.fail(run_id, ValueError("boom"))
    assert main(["rerun", run_id]) == 2
    assert "ended FAILED" in capsys.readouterr().err


def test_rerun_help_explains_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["rerun", "--help"])
    assert "1 when it does not" in " ".join(capsys.readouterr().out.split())
