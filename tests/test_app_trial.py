"""The Trial page on every demo trial, driven headlessly with Streamlit's AppTest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from experiments.demo import seed_demo
from experiments.spec import load_spec
from experiments.store import TrialStore
from tests.conftest import PROJECT, SMART_BINS_SPEC

APP = str(PROJECT / "app.py")
TRIAL_PAGE = "app_pages/trial.py"
TIMEOUT = 300
# trial id: (sites on a map, robustness methods)
DEMO_TRIALS = {
    "autonomous-shuttle-2026": (False, ()),
    "kowloon-east-2026": (True, ("did", "bsts")),
    "parking-meters-2026": (False, ()),
    "smart-bins-2026": (True, ("did",)),
    "smart-lampposts-2026": (True, ("event_study",)),
}
MARKERS = ("✅ pass", "⚠️ warn", "❌ fail", "ℹ️ for information", "➖ not applicable")
CHECKS = ("Pre-trend test", "Placebo in time", "Placebo in space", "Balance before the start")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("trial_page_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVINGLAB_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        seed_demo(home)
        yield home


def open_trial(trial_id: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params["id"] = trial_id
    return app.switch_page(TRIAL_PAGE).run()


def tables_with(app: AppTest, column: str) -> list[Any]:
    """The page's tables having ``column`` (tables without selection carry no key to find)."""
    return [table.value for table in app.dataframe if column in table.value.columns]


def charts(app: AppTest) -> dict[str, dict[str, Any]]:
    """Every plotly chart on the page by its key, as the figure's JSON."""
    return {
        chart.proto.id.rsplit("-", 1)[1]: json.loads(chart.proto.spec)
        for chart in app.get("plotly_chart")
    }


@pytest.mark.parametrize("trial_id", sorted(DEMO_TRIALS))
def test_every_demo_trial_shows_design_diagnostics_robustness_and_downloads(
    trial_id: str, demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(demo_home))
    app = open_trial(trial_id)
    assert not app.exception
    on_map, robustness = DEMO_TRIALS[trial_id]
    figures = charts(app)

    # Design: a map of the sites, or the districts in a table; and the rollout timeline.
    districts = tables_with(app, "District")
    assert len(districts) == 1
    assert districts[0]["District"].is_unique
    assert ("chart_sites_map" in figures) == on_map
    if on_map:
        assert figures["chart_sites_map"]["data"][0]["type"] == "scattermap"
    assert "chart_timeline" in figures

    # Diagnostics of the primary metric: each check with a marker and its null hypothesis.
    assert "Diagnostics" in [h.value for h in app.header]
    lines = [m.value for m in app.markdown]
    for title in (*CHECKS, "Data health"):
        found = [line for line in lines if f"**{title}**" in line]
        assert len(found) == 1, title
        assert found[0].startswith(MARKERS)
    assert sum(c.value.startswith("Null hypothesis:") for c in app.caption) == len(CHECKS) + 2

    # Robustness: every method side by side, only where the trial registered some.
    headers = [h.value for h in app.header]
    assert ("Robustness" in headers) == bool(robustness)
    if robustness:
        (table,) = tables_with(app, "Direction vs registered")
        assert list(table["Role"]) == ["registered", *["robustness"] * len(robustness)]
        assert list(table["Method"])[1:] == list(robustness)
        assert "chart_robustness" in figures

    # Downloads: the results CSV, every chart's HTML and all charts in one ZIP.
    buttons = {b.proto.id.rsplit("-", 1)[1]: b.proto.label for b in app.get("download_button")}
    assert buttons["download_results_csv"] == "Results (CSV)"
    assert buttons["download_charts_zip"] == f"All {len(figures)} charts (HTML in a ZIP)"
    for key in figures:
        assert buttons[key.replace("chart_", "download_", 1)] == "Download chart (HTML)"


def test_the_synthetic_control_trial_charts_donors_placebos_and_intervals(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(demo_home))
    app = open_trial("kowloon-east-2026")
    assert not app.exception
    figures = charts(app)
    donors = figures["chart_peak_hour_speed_donor_weights"]["data"][0]
    assert sum(donors["x"]) == pytest.approx(1.0, abs=0.01)
    placebo = figures["chart_placebo_in_space"]
    assert len(placebo["data"][0]["x"]) == 40  # every control area played the treated role
    assert placebo["layout"]["shapes"][0]["line"]["color"] == "#D55E00"  # the real effect
    # BSTS, a robustness method here, gives the cumulative effect an interval band.
    cumulative = figures["chart_robustness_bsts_cumulative"]["data"]
    assert [trace.get("name") for trace in cumulative][1:] == [
        "95% interval",
        "Effect (observed - counterfactual)",
    ]
    assert [t.label for t in app.tabs][:4] == [
        "Observed vs counterfactual",
        "Pointwise effect",
        "Cumulative effect",
        "Donor weights",
    ]
    summary = app.info[0].value
    assert summary.startswith("**In plain words.** Peak-hour mean speed improved with the pilot")
    assert "failed (read with care: pre-trend test" in summary


def test_a_staggered_trial_shows_one_timeline_bar_per_cohort_and_an_event_study(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVINGLAB_HOME", str(demo_home))
    app = open_trial("smart-lampposts-2026")
    assert not app.exception
    figures = charts(app)
    stages = [trace["y"][0] for trace in figures["chart_timeline"]["data"]]
    assert [stage for stage in stages if stage.startswith("Cohort")] == [
        "Cohort P3 treated (100 units)",
        "Cohort P2 treated (100 units)",
        "Cohort P1 treated (100 units)",
    ]
    event_study = figures["chart_kwh_per_lamp_night_event_study"]["data"][0]
    assert len(event_study["x"]) == len(event_study["error_y"]["array"]) > 10


def test_a_registered_trial_without_analysis_shows_its_design_and_what_to_do(
    home: Path,
) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    TrialStore(home).register(spec, text)
    app = open_trial(spec.id)
    assert not app.exception
    assert app.title[0].value == spec.title
    assert "has not been analysed yet" in app.info[0].value
    assert "chart_timeline" in charts(app)
    assert "Diagnostics" not in [h.value for h in app.header]
