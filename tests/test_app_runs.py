"""The Runs page, driven headlessly: the runs table, two runs compared, the MLflow UI link."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from experiments.adhoc import run_analysis
from experiments.spec import load_spec
from experiments.store import TrialStore
from experiments.tracking import Tracker
from tests.conftest import PROJECT, SMART_BINS_SPEC

APP = str(PROJECT / "app.py")
PAGE = "app_pages/runs.py"
TRIAL = "smart-bins-2026"
UNANALYSED = "smart-lampposts-2026"
TIMEOUT = 300


@dataclass(frozen=True)
class Store:
    home: Path
    planned: str  # a failed run tagged like a planned one
    randomized: str
    did: str  # the newest run


@pytest.fixture(scope="module")
def store(smart_bins_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("runs_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        trials = TrialStore(home)
        spec, text = load_spec(SMART_BINS_SPEC)
        registration, _ = trials.register(spec, text)
        trials.register(*load_spec(PROJECT / "experiments" / "trials" / "smart_lampposts.toml"))
        tracker = Tracker(home)
        planned = tracker.start(TRIAL, spec.pilot, "planned", {"metric": "m", "method": "did"})
        tracker.fail(planned, ValueError("no data"))
        first = run_analysis(
            registration, smart_bins_data, tracker, [spec.primary.name], ["randomized"]
        )
        second = run_analysis(
            registration, smart_bins_data, tracker, [spec.primary.name], ["did"], seed=4
        )
        yield Store(home, planned, first.results[0].run_id, second.results[0].run_id)


def open_page(home: Path, monkeypatch: pytest.MonkeyPatch, trial: str = TRIAL) -> AppTest:
    monkeypatch.setenv("LIVINGLAB_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params["id"] = trial
    return app.switch_page(PAGE).run()


def test_an_empty_store_points_to_the_portfolio(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).switch_page(PAGE).run()
    assert not app.exception
    assert "No trial is registered yet" in app.info[0].value


def test_a_trial_without_runs_points_to_the_analyse_page(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(store.home, monkeypatch, UNANALYSED)
    assert not app.exception
    assert app.selectbox(key="runs_trial").value == UNANALYSED
    assert "no tracked runs yet" in app.info[0].value
    assert not app.dataframe


def test_the_table_lists_every_run_newest_first_and_filters_by_kind(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(store.home, monkeypatch)
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["Run id"]) == [store.did, store.randomized, store.planned]
    assert list(table["Kind"]) == ["adhoc", "adhoc", "planned"]
    assert list(table["Run status"]) == ["FINISHED", "FINISHED", "FAILED"]
    assert table["95% CI low"][0] <= table["Effect"][0] <= table["95% CI high"][0]
    app.segmented_control(key="runs_show").set_value("Planned analyses").run()
    assert list(app.dataframe[0].value["Run id"]) == [store.planned]
    assert "1 of 3 run(s)" in [c.value for c in app.caption]


def test_two_runs_side_by_side_say_what_changed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(store.home, monkeypatch)
    assert app.selectbox(key="runs_a").value == store.randomized
    assert app.selectbox(key="runs_b").value == store.did
    headline = "\n".join(m.value for m in app.markdown)
    assert "- Data: same (" in headline
    assert "- Registration (spec): same (" in headline
    assert "- Method: changed, randomized → did" in headline
    assert "- Settings: changed (seed, option.design)" in headline
    differences = app.dataframe[1].value
    changed = {
        name: (a, b)
        for name, a, b in zip(
            differences["Name"], differences["Run A"], differences["Run B"], strict=True
        )
    }
    assert changed["method"] == ("randomized", "did")
    assert changed["seed"] == ("0", "4")
    assert "effect" in changed
    app.selectbox(key="runs_a").set_value(store.did).run()
    assert "the same run" in app.info[0].value


def test_the_mlflow_ui_is_explained_with_its_command_and_links(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(store.home, monkeypatch)
    assert not app.exception
    assert app.code[0].value == f"mlflow ui --backend-store-uri sqlite:///{store.home}/mlflow.db"
    experiment = Tracker(store.home).experiment_id(TRIAL, "smart_bins")
    links = "\n".join(m.value for m in app.markdown)
    assert f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{store.randomized}" in links
    assert f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{store.did}" in links
    assert "start it in a terminal" in links
