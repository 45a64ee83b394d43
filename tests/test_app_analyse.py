"""The Analyse page, driven headlessly: choose, run with progress, track, re-run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from experiments.adhoc import run_analysis
from experiments.portfolio import portfolio
from experiments.runs import run_details
from experiments.spec import load_spec
from experiments.store import TrialStore
from experiments.tracking import PLANNED_FINISHED, Tracker
from tests.conftest import PROJECT, SMART_BINS_SPEC

APP = str(PROJECT / "app.py")
PAGE = "app_pages/analyse.py"
TRIAL = "smart-bins-2026"
TIMEOUT = 300


@pytest.fixture(scope="module")
def bins_home(smart_bins_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The smart-bins trial registered, its data where the demo puts it, and one ad-hoc run."""
    home = tmp_path_factory.mktemp("analyse_home")
    (home / "demo-data").mkdir()
    (home / "demo-data" / "smart_bins").symlink_to(smart_bins_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        spec, text = load_spec(SMART_BINS_SPEC)
        registration, _ = TrialStore(home).register(spec, text)
        run_analysis(registration, smart_bins_data, Tracker(home), [spec.primary.name], ["did"])
        yield home


@pytest.fixture
def page(bins_home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LIVINGLAB_HOME", str(bins_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params["id"] = TRIAL
    return app.switch_page(PAGE).run()


def run_ids(home: Path) -> set[str]:
    return {run.run_id for run in Tracker(home).runs(TRIAL)}


def test_an_empty_store_points_to_the_portfolio(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).switch_page(PAGE).run()
    assert not app.exception
    assert "No trial is registered yet" in app.info[0].value


def test_the_routers_suggestion_is_preselected_with_its_reason(page: AppTest) -> None:
    assert not page.exception
    suggestion = page.info[0].value
    assert "Suggested method: `randomized`" in suggestion
    assert "assignment was randomised" in suggestion
    assert page.multiselect(key=f"analyse_methods_{TRIAL}").value == ["randomized"]
    assert page.multiselect(key=f"analyse_metrics_{TRIAL}").value == ["collections_per_bin_week"]
    options = page.text_input(key=f"analyse_options_{TRIAL}_randomized")
    assert options.value == "design = 'cluster'"
    assert page.date_input(key=f"analyse_window_{TRIAL}").value == (
        date(2026, 1, 5),
        date(2026, 7, 5),
    )


def test_running_an_analysis_tracks_marked_runs_and_shows_results(
    page: AppTest, bins_home: Path
) -> None:
    before = run_ids(bins_home)
    page.multiselect(key=f"analyse_metrics_{TRIAL}").set_value(["fill_at_collection"])
    page.multiselect(key=f"analyse_methods_{TRIAL}").set_value(["did", "randomized"])
    page.date_input(key=f"analyse_window_{TRIAL}").set_value((date(2026, 2, 2), date(2026, 6, 28)))
    page.run()
    page.text_input(key=f"analyse_options_{TRIAL}_did").set_value("bootstrap_draws = 199")
    page.button(key="analyse_run").click().run()
    assert not page.exception
    assert not page.error
    assert any(
        "narrower than the registered 2026-01-05..2026-07-05" in w.value for w in page.warning
    )
    texts = [m.value for m in page.markdown]
    assert any(t.startswith("**Fill at collection** (secondary) · `did`: ") for t in texts)
    assert any("95% CI" in t for t in texts)
    results = page.dataframe[0].value
    assert list(results["Method"]) == ["did", "randomized"]
    new = run_ids(bins_home) - before
    assert new == set(results["Run id"])
    tracker = Tracker(bins_home)
    for run_id in new:
        run = run_details(tracker, run_id)
        assert run.tags["kind"] == "adhoc"
        assert run.tags["role"] == "secondary"
    did = run_details(tracker, results["Run id"][0])
    assert did.params["option.bootstrap_draws"] == "199"


def test_mistyped_options_say_what_is_allowed_and_track_nothing(
    page: AppTest, bins_home: Path
) -> None:
    before = run_ids(bins_home)
    page.text_input(key=f"analyse_options_{TRIAL}_randomized").set_value("draws = 5")
    page.button(key="analyse_run").click().run()
    assert not page.exception
    assert "has no option draws; its options are: design" in page.error[0].value
    assert run_ids(bins_home) == before


def test_a_data_directory_that_does_not_exist_says_what_to_type(page: AppTest) -> None:
    page.text_input(key=f"analyse_data_dir_{TRIAL}").set_value("/no/such/folder").run()
    assert not page.exception
    assert any("`/no/such/folder` is not a folder on this machine" in w.value for w in page.warning)
    assert not page.button


def test_a_past_run_is_re_run_as_a_new_marked_run(page: AppTest, bins_home: Path) -> None:
    tracker = Tracker(bins_home)
    past = next(
        run
        for run in reversed(tracker.runs(TRIAL))
        if run.tag("method") == "did" and not run.tag("rerun_of")
    )
    before = run_ids(bins_home)
    page.selectbox(key=f"analyse_rerun_{TRIAL}").set_value(past.run_id)
    page.button(key="analyse_rerun_button").click().run()
    assert not page.exception
    assert not page.error
    (new,) = run_ids(bins_home) - before
    repeated = run_details(tracker, new)
    assert repeated.tags["rerun_of"] == past.run_id
    assert repeated.tags["kind"] == "adhoc"
    assert repeated.metrics["effect"] == past.metrics["effect"]
    assert list(page.dataframe[0].value["Run id"]) == [new]


def test_the_registered_analysis_runs_from_the_browser_and_reaches_the_portfolio(
    page: AppTest, bins_home: Path
) -> None:
    page.button(key="analyse_planned").click().run()
    assert not page.exception
    assert not page.error
    assert any("is tracked" in s.value for s in page.success)
    planned = Tracker(bins_home).runs(TRIAL, PLANNED_FINISHED)
    assert {run.tag("metric") for run in planned} == {
        "collections_per_bin_week",
        "fill_at_collection",
        "overflow_per_1000_bin_days",
    }
    (row,) = portfolio(bins_home)
    assert row.stage == "analysed"
