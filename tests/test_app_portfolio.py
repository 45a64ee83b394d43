"""The Portfolio page, driven headlessly with Streamlit's AppTest on a small tracked store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT
from tests.test_portfolio import build_store

APP = str(PROJECT / "app.py")
TIMEOUT = 120
BINS = "Smart bins"
EAST = "Kowloon East smart traffic and parking"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("portfolio_app_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        build_store(home)
        yield home


@pytest.fixture
def app(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LIVINGLAB_HOME", str(store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    page = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not page.exception
    return page


def shown_trials(app: AppTest) -> list[str]:
    return sorted(app.dataframe[0].value["Trial"])


def forest_rows(app: AppTest) -> list[str]:
    (chart,) = app.get("plotly_chart")
    return json.loads(chart.proto.spec)["layout"]["yaxis"]["categoryarray"]


def test_every_trial_is_listed_with_its_verdict_guardrails_and_data_health(app: AppTest) -> None:
    assert shown_trials(app) == ["kowloon-east-2026", "smart-bins-2026", "smart-bins-2098"]
    assert [(m.label, m.value) for m in app.metric] == [
        ("Trials shown", "3 of 3"),
        ("Analysed", "2"),
        ("Decided", "0"),
        ("Guardrail breached", "1"),
        ("Data health flagged", "1"),
    ]
    text = "\n".join(m.value for m in app.markdown)
    assert ":green-badge[Improved] **Collections per bin-week**: -1.6 collections" in text
    assert ":red-badge[Guardrail breached] Peak-hour corridor journey time: breached" in text
    assert ":orange-badge[Data health] 5.0% of rows quarantined (50 of 1,000)" in text
    table = app.dataframe[0].value
    row = table[table["Trial"] == "smart-bins-2026"].iloc[0]
    assert (row["Primary verdict"], row["Recommendation"], row["Districts"], row["Stage"]) == (
        "Improved",
        "Scale",
        "Wan Chai",
        "analysed",
    )
    assert "Recommendation :red-badge[Stop] guardrail beyond its margin" in text


def test_the_forest_plot_has_one_row_per_analysed_trial(app: AppTest) -> None:
    assert sorted(forest_rows(app)) == [
        f"{EAST}: Peak-hour mean speed",
        f"{BINS}: Collections per bin-week",
    ]


@pytest.mark.parametrize(
    ("key", "choice", "expected"),
    [
        ("filter_pilot", [EAST], ["kowloon-east-2026"]),
        ("filter_district", ["Wan Chai"], ["smart-bins-2026"]),
        ("filter_stage", ["analysed"], ["kowloon-east-2026", "smart-bins-2026"]),
        ("filter_pilot", [BINS], ["smart-bins-2026", "smart-bins-2098"]),
    ],
)
def test_filters_change_the_table_and_the_plot(
    app: AppTest, key: str, choice: list[str], expected: list[str]
) -> None:
    app.multiselect(key=key).set_value(choice).run()
    assert not app.exception
    assert shown_trials(app) == expected
    assert app.metric[0].value == f"{len(expected)} of 3"
    assert len(forest_rows(app)) == len([t for t in expected if t != "smart-bins-2098"])


def test_trials_still_collecting_have_no_plot_and_say_when_data_ends(app: AppTest) -> None:
    app.multiselect(key="filter_stage").set_value(["collecting"]).run()
    assert shown_trials(app) == ["smart-bins-2098"]
    assert not app.get("plotly_chart")
    assert "None of the trials shown has been analysed yet" in app.info[0].value
    assert "Collecting data until 2098-07-05; no analysis yet." in [m.value for m in app.markdown]


def test_filters_that_match_nothing_say_how_to_see_more(app: AppTest) -> None:
    app.multiselect(key="filter_pilot").set_value([EAST])
    app.multiselect(key="filter_district").set_value(["Wan Chai"]).run()
    assert not app.exception
    assert "No trial matches these filters" in app.info[0].value
    assert not app.dataframe
    assert not app.get("plotly_chart")


def test_an_empty_store_explains_and_loads_the_demo_on_request(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded: list[Path] = []

    def quick_demo(target: Path, progress: Callable[[float, str], None]) -> list[str]:
        progress(0.5, "Analysing")
        build_store(target)
        seeded.append(target)
        return []

    monkeypatch.setattr("experiments.demo.seed_demo", quick_demo)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not app.exception
    assert "No trial is registered yet" in app.info[0].value
    assert not app.dataframe
    assert not seeded  # nothing is written to a store until asked

    app.button(key="load_demo").click().run()
    assert not app.exception
    assert seeded == [home.resolve()]
    assert shown_trials(app) == ["kowloon-east-2026", "smart-bins-2026", "smart-bins-2098"]
