"""Ad-hoc analyses: checked before they start, tracked as marked runs, and re-runnable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from experiments.adhoc import (
    AdhocAnalysis,
    analysis_window,
    default_data_dir,
    format_options,
    parse_options,
    rerun,
    rerun_request,
    run_analysis,
    suggest_method,
    window_deviation,
)
from experiments.audit import AuditLog
from experiments.portfolio import portfolio, trial_evidence
from experiments.runs import deviation_log, run_details
from experiments.spec import load_spec
from experiments.store import Registration, TrialStore
from experiments.tracking import Tracker
from livinglab.errors import DataError, SpecError
from tests.conftest import SMART_BINS_SPEC

NARROW = (date(2026, 2, 2), date(2026, 6, 28))


@dataclass(frozen=True)
class Tracked:
    home: Path
    data: Path
    registration: Registration
    analysis: AdhocAnalysis
    progress: list[tuple[float, str]]


@pytest.fixture(scope="module")
def tracked(smart_bins_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracked]:
    """One ad-hoc analysis: two metrics x two methods on a narrower window, seed 3."""
    home = tmp_path_factory.mktemp("adhoc_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        spec, text = load_spec(SMART_BINS_SPEC)
        registration, _ = TrialStore(home).register(spec, text)
        progress: list[tuple[float, str]] = []
        analysis = run_analysis(
            registration,
            smart_bins_data,
            Tracker(home),
            ["collections_per_bin_week", "fill_at_collection"],
            ["randomized", "did"],
            window=NARROW,
            seed=3,
            progress=lambda fraction, message: progress.append((fraction, message)),
        )
        yield Tracked(home, smart_bins_data, registration, analysis, progress)


def smart_bins_registration(home: Path) -> Registration:
    spec, text = load_spec(SMART_BINS_SPEC)
    return TrialStore(home).register(spec, text)[0]


def test_every_metric_and_method_is_one_tracked_run_marked_adhoc(tracked: Tracked) -> None:
    analysis = tracked.analysis
    assert [(r.definition.name, r.method, r.role) for r in analysis.results] == [
        ("collections_per_bin_week", "randomized", "primary"),
        ("collections_per_bin_week", "did", "primary"),
        ("fill_at_collection", "randomized", "secondary"),
        ("fill_at_collection", "did", "secondary"),
    ]
    tracker = Tracker(tracked.home)
    runs = tracker.runs("smart-bins-2026")
    assert sorted(r.run_id for r in runs) == sorted(r.run_id for r in analysis.results)
    for result in analysis.results:
        assert result.estimate is not None
        assert result.estimate.ok
        run = run_details(tracker, result.run_id)
        assert run.status == "FINISHED"
        assert run.tags["kind"] == "adhoc"
        assert run.tags["role"] == result.role
        assert run.tags["analysis"] == analysis.analysis_id
        assert run.tags["spec_hash"] == tracked.registration.spec_hash
        assert run.tags["seed"] == "3"
        assert len(run.tags["data_hash"]) == 64
        assert run.params["window"] == "2026-02-02..2026-06-28"
        assert run.params["data_dir"] == str(tracked.data.resolve())
        assert run.metrics["effect"] == pytest.approx(result.estimate.effect)
    # The registered cluster design stays the planned method's default.
    randomized = run_details(tracker, analysis.results[0].run_id)
    assert randomized.params["option.design"] == "cluster"


def test_a_narrower_window_is_recorded_as_a_deviation(tracked: Tracked) -> None:
    expected = (
        "window 2026-02-02..2026-06-28 is narrower than the registered 2026-01-05..2026-07-05"
    )
    assert tracked.analysis.deviations == (expected,)
    run = run_details(Tracker(tracked.home), tracked.analysis.results[1].run_id)
    assert run.tags["deviation"] == expected


def test_a_method_not_registered_for_the_metric_is_a_deviation(tracked: Tracked) -> None:
    # did is registered only as the primary metric's robustness check
    tracker = Tracker(tracked.home)
    primary_did = run_details(tracker, tracked.analysis.results[1].run_id)
    secondary_did = run_details(tracker, tracked.analysis.results[3].run_id)
    assert "method" not in primary_did.tags["deviation"]
    assert secondary_did.tags["deviation"].endswith(
        "; method did is not registered for fill_at_collection"
    )
    log = deviation_log(tracker, "smart-bins-2026")
    assert len(log) == 4  # every run of the narrower window departs from the plan
    assert {row["Run id"] for row in log} == {r.run_id for r in tracked.analysis.results}
    assert all("narrower" in row["Departs from the plan"] for row in log)
    (audited,) = AuditLog(tracked.home).entries(action="analyse")
    assert (audited.target, audited.details["kind"], audited.details["analysis"]) == (
        "smart-bins-2026",
        "adhoc",
        tracked.analysis.analysis_id,
    )


def test_progress_runs_from_reading_the_data_to_done(tracked: Tracked) -> None:
    fractions = [fraction for fraction, _ in tracked.progress]
    assert fractions == sorted(fractions)
    assert tracked.progress[0] == (0.0, "Reading the trial's data")
    assert tracked.progress[1][1] == "Collections per bin-week · randomized (1 of 4)"
    assert tracked.progress[-1] == (1.0, "Analysis done")


def test_a_past_run_re_runs_to_the_same_numbers(tracked: Tracked) -> None:
    tracker = Tracker(tracked.home)
    past = run_details(tracker, tracked.analysis.results[1].run_id)
    request = rerun_request(past.run_id, past.tags, past.params)
    assert (request.metric, request.method, request.window, request.seed) == (
        "collections_per_bin_week",
        "did",
        NARROW,
        3,
    )
    again = rerun(tracked.registration, request, tracker)
    (result,) = again.results
    assert result.estimate is not None
    assert past.metrics["effect"] == result.estimate.effect
    repeated = run_details(tracker, result.run_id)
    assert repeated.tags["rerun_of"] == past.run_id
    assert repeated.tags["data_hash"] == past.tags["data_hash"]
    assert repeated.params == past.params


def test_a_re_run_reads_options_back_as_values() -> None:
    request = rerun_request(
        "r1",
        {"trial": "t", "metric": "m", "method": "did", "seed": "5"},
        {
            "data_dir": "/data",
            "window": "2026-01-05..2026-07-05",
            "option.bootstrap_draws": "999",
            "option.model": "twfe",
        },
    )
    assert request.options == {"bootstrap_draws": 999, "model": "twfe"}
    assert request.window == (date(2026, 1, 5), date(2026, 7, 5))
    assert request.data_dir == Path("/data")
    with pytest.raises(SpecError, match="does not record method, data_dir"):
        rerun_request("r2", {"trial": "t", "metric": "m"}, {})


def test_nothing_is_tracked_when_the_analysis_is_set_up_wrongly(
    home: Path, smart_bins_data: Path
) -> None:
    registration = smart_bins_registration(home)
    tracker = Tracker(home)
    metric = ["collections_per_bin_week"]
    with pytest.raises(SpecError, match="metric: 'speed' is not allowed"):
        run_analysis(registration, smart_bins_data, tracker, ["speed"], ["did"])
    with pytest.raises(SpecError, match="method: 'ols' is not allowed"):
        run_analysis(registration, smart_bins_data, tracker, metric, ["ols"])
    with pytest.raises(SpecError, match=r"options for .did.: .*its options are: model, se"):
        run_analysis(
            registration, smart_bins_data, tracker, metric, ["did"], options={"did": {"x": 1}}
        )
    with pytest.raises(SpecError, match="window: starts 2025-12-01"):
        run_analysis(
            registration,
            smart_bins_data,
            tracker,
            metric,
            ["did"],
            window=(date(2025, 12, 1), NARROW[1]),
        )
    with pytest.raises(DataError, match="data directory not found"):
        run_analysis(registration, home / "nowhere", tracker, metric, ["did"])
    assert tracker.runs("smart-bins-2026") == []


def test_other_options_for_the_planned_method_are_a_deviation(
    home: Path, smart_bins_data: Path
) -> None:
    registration = smart_bins_registration(home)
    tracker = Tracker(home)
    analysis = run_analysis(
        registration,
        smart_bins_data,
        tracker,
        ["fill_at_collection"],
        ["randomized"],
        options={"randomized": {"design": "cluster", "n_permutations": 200}},
    )
    assert analysis.deviations == ()  # the registered window
    run = run_details(tracker, analysis.results[0].run_id)
    assert run.tags["deviation"] == (
        "options design = 'cluster', n_permutations = 200 differ from the registered "
        "design = 'cluster'"
    )
    assert run.params["option.n_permutations"] == "200"


def test_windows_must_keep_a_before_and_an_after_inside_the_registration() -> None:
    spec, _ = load_spec(SMART_BINS_SPEC)
    assert analysis_window(spec, None) == spec.window
    assert analysis_window(spec, NARROW) == NARROW
    assert window_deviation(spec, spec.window) is None
    with pytest.raises(SpecError, match="must start between 2026-01-05 and 2026-03-29"):
        analysis_window(spec, (date(2026, 4, 1), date(2026, 6, 1)))
    with pytest.raises(SpecError, match="must end between 2026-03-30 and 2026-07-05"):
        analysis_window(spec, (date(2026, 2, 1), date(2026, 8, 1)))


def test_options_are_typed_as_name_value_pairs() -> None:
    assert parse_options("", "did") == {}
    assert parse_options("model = twfe, bootstrap_draws = 999", "did") == {
        "model": "twfe",
        "bootstrap_draws": 999,
    }
    assert parse_options(format_options({"design": "cluster"}), "randomized") == {
        "design": "cluster"
    }
    with pytest.raises(SpecError, match="is not written name = value"):
        parse_options("bootstrap_draws 999", "did")
    with pytest.raises(SpecError, match="has no option colour; its options are: model"):
        parse_options("colour = blue", "did")


def test_the_router_suggests_the_randomized_design(home: Path, smart_bins_data: Path) -> None:
    recommendation = suggest_method(smart_bins_registration(home), smart_bins_data)
    assert recommendation.primary == "randomized"
    assert recommendation.robustness == ("did",)
    assert "assignment was randomised" in recommendation.reasons[0]


def test_the_default_data_directory_is_the_demo_data_of_the_pilot(home: Path) -> None:
    spec, _ = load_spec(SMART_BINS_SPEC)
    assert default_data_dir(home, spec) == home / "demo-data" / "smart_bins"


def test_ad_hoc_runs_never_stand_in_for_the_registered_analysis(tracked: Tracked) -> None:
    # Only ad-hoc runs exist: the portfolio still reads the trial as not analysed.
    (row,) = portfolio(tracked.home)
    assert row.stage != "analysed"
    assert row.effect is None
    assert trial_evidence(tracked.home, "smart-bins-2026").metrics == ()
