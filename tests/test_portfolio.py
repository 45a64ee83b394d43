"""The portfolio's logic: stages, guardrail status against margins, data health, filters, forest."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from evaluation.decision import counterfactual_mean
from evaluation.result import Estimate
from experiments.decisions import DecisionLog
from experiments.portfolio import (
    STAGES,
    GuardrailCheck,
    TrialSummary,
    data_health_flags,
    filter_portfolio,
    forest_figure,
    pilot_districts,
    portfolio,
    portfolio_table,
    trial_stage,
)
from experiments.spec import TrialSpec, load_spec, parse_spec
from experiments.store import TrialStore
from experiments.tracking import (
    DATA_HEALTH_ARTIFACT,
    DIAGNOSTICS_ARTIFACT,
    SITES_ARTIFACT,
    Tracker,
)
from tests.conftest import PROJECT, SMART_BINS_SPEC

KOWLOON_EAST_SPEC = PROJECT / "experiments" / "trials" / "kowloon_east.toml"
HEALTHY = {
    "rows_read": 1000,
    "rows_accepted": 995,
    "rows_quarantined": 5,
    "coverage": [],
    "districts": [],
}


# --- helpers shared with tests/test_app_portfolio.py: a small store without the demo's cost ---


def estimate(
    effect: float | None,
    low: float | None,
    high: float | None,
    relative: float | None,
    status: str = "ok",
) -> Estimate:
    return Estimate(
        method="randomized",
        estimand="ATT",
        effect=effect,
        se=None,
        ci_low=low,
        ci_high=high,
        p_value=0.01 if low is not None else None,
        relative_effect=relative,
        n_obs=24,
        n_units=12,
        n_treated=6,
        status=status,  # type: ignore[arg-type]
    )


def record_analysis(
    home: Path,
    spec: TrialSpec,
    analysis_id: str,
    estimates: Mapping[str, Estimate],
    health: Mapping[str, Any],
    sites: list[dict[str, Any]],
) -> None:
    """Track one finished analysis of ``spec``: a run per metric given, as evaluate_trial does."""
    tracker = Tracker(home)
    for role in spec.metrics:
        if role.name not in estimates:
            continue
        tags = {
            "trial": spec.id,
            "pilot": spec.pilot,
            "metric": role.name,
            "role": role.role,
            "method": "randomized",
            "analysis": analysis_id,
        }
        run_id = tracker.start(spec.id, spec.pilot, role.name, tags)
        tracker.finish(
            run_id,
            estimates[role.name],
            pl.DataFrame({"unit": ["R01"], "value": [1.0]}),
            {},
            "",
            {DATA_HEALTH_ARTIFACT: dict(health), SITES_ARTIFACT: sites, DIAGNOSTICS_ARTIFACT: []},
        )


def shifted(spec: TrialSpec, trial_id: str, years: int) -> TrialSpec:
    """The same design under another id, its dates moved by ``years``."""
    data = spec.to_dict()

    def move(day: str) -> str:
        return str(date.fromisoformat(day).replace(year=date.fromisoformat(day).year + years))

    data["id"] = trial_id
    data["windows"] = {key: [move(d) for d in days] for key, days in data["windows"].items()}
    data["treatment"] = {"start": move(data["treatment"]["start"])}
    return parse_spec(data)


def build_store(home: Path) -> None:
    """Three trials: smart bins analysed (guardrail held), Kowloon East analysed (guardrail
    breached, much quarantined), and a smart-bins rerun in 2098 still collecting."""
    store = TrialStore(home)
    bins, bins_text = load_spec(SMART_BINS_SPEC)
    east, east_text = load_spec(KOWLOON_EAST_SPEC)
    future = shifted(bins, "smart-bins-2098", 72)
    for spec, text in ((bins, bins_text), (east, east_text), (future, "# a later wave")):
        store.register(spec, text)
    record_analysis(
        home,
        bins,
        "a1",
        {
            "collections_per_bin_week": estimate(-1.6, -2.2, -1.0, -0.3),
            "overflow_per_1000_bin_days": estimate(2.0, -5.0, 9.0, 0.05),
        },
        HEALTHY,
        [
            {"unit": "R02", "arm": "treated", "district": "Wan Chai"},
            {"unit": "R01", "arm": "control", "district": "Sha Tin"},
        ],
    )
    record_analysis(
        home,
        east,
        "b1",
        {
            "peak_hour_speed": estimate(0.4, -0.5, 1.3, 0.01),
            "corridor_journey_time": estimate(1.2, 0.8, 1.6, 0.25),
        },
        {
            "rows_read": 1000,
            "rows_accepted": 950,
            "rows_quarantined": 50,
            "coverage": [],
            "districts": [],
        },
        [
            {"unit": "Kowloon East", "arm": "treated", "district": "Kwun Tong"},
            {"unit": "Central", "arm": "control", "district": "Central and Western"},
        ],
    )


@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("portfolio_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        build_store(home)
        yield home


def summary(**changes: Any) -> TrialSummary:
    base = TrialSummary(
        trial_id="t-1",
        title="A trial",
        pilot="Smart bins",
        stage="analysed",
        primary_metric="Collections per bin-week",
        primary_unit="collections per bin-week",
        direction="lower_is_better",
        effect=-2.0,
        ci_low=-3.0,
        ci_high=-1.0,
        p_value=0.01,
        relative_effect=-0.2,
        last_analysed=None,
        districts=("Wan Chai",),
        verdict="better",
        analysis_id="a1",
    )
    return replace(base, **changes)


# --- guardrail status: H0 of non-inferiority is "the metric got worse by more than the margin" ---


def test_a_trial_shows_its_worst_guardrail() -> None:
    def check(state: str) -> GuardrailCheck:
        return GuardrailCheck("m", "u", state, 1.0, 0.0)  # type: ignore[arg-type]

    assert summary().guardrail_status is None
    assert summary(guardrails=(check("held"), check("held"))).guardrail_status == "held"
    mixed = (check("held"), check("not estimated"), check("inconclusive"))
    assert summary(guardrails=mixed).guardrail_status == "inconclusive"
    assert summary(guardrails=(*mixed, check("breached"))).guardrail_status == "breached"


# --- relative effects, stages, data health, districts ---


def test_the_relative_interval_divides_by_the_counterfactual_mean() -> None:
    assert counterfactual_mean(-2.0, -0.2) == pytest.approx(10.0)
    assert counterfactual_mean(1.0, None) is None
    assert counterfactual_mean(0.0, 0.0) is None
    assert summary().relative_ci == pytest.approx((-0.3, -0.1))
    # a negative counterfactual mean flips the ends; the interval still runs low to high
    flipped = summary(effect=2.0, ci_low=1.0, ci_high=3.0, relative_effect=-0.2)
    assert flipped.relative_ci == pytest.approx((-0.3, -0.1))
    assert summary(relative_effect=None).relative_ci is None


def test_stage_follows_analysis_and_the_post_window() -> None:
    spec, _ = load_spec(SMART_BINS_SPEC)  # post window ends 2026-07-05
    assert trial_stage(spec, analysed=False, today=date(2026, 7, 5)) == "collecting"
    assert trial_stage(spec, analysed=False, today=date(2026, 7, 6)) == "registered"
    assert trial_stage(spec, analysed=True, today=date(2026, 5, 1)) == "analysed"
    assert STAGES == ("registered", "collecting", "analysed", "decided")


def test_data_health_flags_a_sensor_ratio_mismatch_and_heavy_quarantine() -> None:
    assert data_health_flags(HEALTHY) == ()
    assert data_health_flags({"rows_read": 1000, "rows_quarantined": 10}) == ()  # exactly 1%
    mismatch = {
        "rows_read": 1000,
        "rows_quarantined": 11,
        "coverage": [
            {
                "label": "Fill-level readings",
                "sensor_ratio_mismatch": {"flag": True, "difference_points": 7.5},
            },
            {"label": "Other feed", "sensor_ratio_mismatch": {"flag": False}},
        ],
    }
    assert data_health_flags(mismatch) == (
        "sensor ratio mismatch in Fill-level readings (+7.5 points)",
        "1.1% of rows quarantined (11 of 1,000)",
    )


def test_districts_are_where_the_pilot_runs_not_where_its_controls_are() -> None:
    sites = [
        {"unit": "A", "arm": "treated", "district": "Wan Chai"},
        {"unit": "B", "arm": "switchback", "district": "Islands"},
        {"unit": "C", "arm": "control", "district": "Sha Tin"},
        {"unit": "D", "arm": "treated"},
    ]
    assert pilot_districts(sites, {"districts": ["Sha Tin", "Wan Chai"]}) == ("Islands", "Wan Chai")
    assert pilot_districts([], {"districts": ["Sha Tin"]}) == ("Sha Tin",)
    assert pilot_districts([], {}) == ()


def test_filters_combine_and_an_empty_filter_keeps_everything() -> None:
    trials = [
        summary(trial_id="a", pilot="Smart bins", districts=("Wan Chai", "Sha Tin")),
        summary(trial_id="b", pilot="Smart lampposts", districts=("Kwun Tong",)),
        summary(trial_id="c", pilot="Smart bins", stage="collecting", districts=()),
    ]

    def ids(**filters: Any) -> list[str]:
        return [t.trial_id for t in filter_portfolio(trials, **filters)]

    assert ids() == ["a", "b", "c"]
    assert ids(pilots=["Smart bins"]) == ["a", "c"]
    assert ids(districts=["Sha Tin", "Kwun Tong"]) == ["a", "b"]
    assert ids(stages=["collecting"]) == ["c"]
    assert ids(pilots=["Smart bins"], stages=["analysed"]) == ["a"]
    assert ids(pilots=["Smart lampposts"], districts=["Wan Chai"]) == []
    assert ids(stages=["decided"]) == []


# --- the forest plot ---


def test_the_forest_plot_has_one_row_per_analysed_trial_coloured_by_verdict() -> None:
    trials = [
        summary(trial_id="a", pilot="Smart bins"),
        summary(
            trial_id="b",
            pilot="Smart lampposts",
            verdict="unclear",
            effect=1.0,
            ci_low=-1.0,
            ci_high=3.0,
            relative_effect=0.1,
        ),
        summary(
            trial_id="c", pilot="Kowloon East", stage="collecting", verdict=None, analysis_id=None
        ),
        summary(
            trial_id="d",
            pilot="Autonomous shuttle",
            verdict="not estimated",
            effect=None,
            ci_low=None,
            ci_high=None,
            relative_effect=None,
        ),
    ]
    figure = forest_figure(trials)
    rows = list(figure.layout.yaxis.categoryarray)
    assert sorted(rows) == sorted(
        [
            "Smart bins: Collections per bin-week",
            "Smart lampposts: Collections per bin-week",
            "Autonomous shuttle: Collections per bin-week",
        ]
    )
    improved, unclear = figure.data
    assert (improved.name, improved.marker.color) == ("Improved", "#009E73")
    assert (unclear.name, unclear.marker.color) == ("No clear change", "#999999")
    # -20% with its interval -30% to -10%; +10% with -10% to +30%
    assert improved.x[0] == pytest.approx(-20.0)
    assert (improved.error_x.arrayminus[0], improved.error_x.array[0]) == pytest.approx((10, 10))
    assert unclear.x[0] == pytest.approx(10.0)
    assert (unclear.error_x.arrayminus[0], unclear.error_x.array[0]) == pytest.approx((20, 20))
    assert "Effect -2 collections per bin-week, 95% CI -3 to -1" in improved.hovertext[0]
    assert [a.text for a in figure.layout.annotations] == ["not estimated"]
    assert "%" in figure.layout.xaxis.title.text


def test_the_forest_plot_tells_apart_two_trials_of_the_same_pilot_and_metric() -> None:
    figure = forest_figure([summary(trial_id="a"), summary(trial_id="b")])
    assert list(figure.layout.yaxis.categoryarray) == [
        "Smart bins: Collections per bin-week (b)",
        "Smart bins: Collections per bin-week (a)",
    ]


# --- reading a tracked store ---


def test_the_portfolio_reads_each_trials_latest_analysis(small_home: Path) -> None:
    trials = {t.trial_id: t for t in portfolio(small_home, today=date(2026, 11, 1))}
    assert sorted(trials) == ["kowloon-east-2026", "smart-bins-2026", "smart-bins-2098"]

    bins = trials["smart-bins-2026"]
    assert (bins.stage, bins.verdict, bins.analysis_id) == ("analysed", "better", "a1")
    assert (bins.effect, bins.ci_low, bins.ci_high) == (-1.6, -2.2, -1.0)
    assert bins.districts == ("Wan Chai",)
    assert [(g.metric, g.state) for g in bins.guardrails] == [
        ("Overflowing bin-days per 1,000", "held")
    ]
    assert bins.data_flags == ()

    east = trials["kowloon-east-2026"]
    assert (east.stage, east.verdict, east.districts) == ("analysed", "unclear", ("Kwun Tong",))
    assert east.guardrail_status == "breached"  # journey time up 0.8 to 1.6 min, margin 0.5
    assert east.data_flags == ("5.0% of rows quarantined (50 of 1,000)",)

    later = trials["smart-bins-2098"]
    assert (later.stage, later.verdict, later.effect, later.guardrails) == (
        "collecting",
        None,
        None,
        (),
    )
    table = {row["Trial"]: row for row in portfolio_table(trials.values())}
    assert table["kowloon-east-2026"]["Guardrails"] == "Peak-hour corridor journey time: breached"
    assert table["smart-bins-2026"]["Relative effect (%)"] == pytest.approx(-30.0)
    assert table["smart-bins-2098"]["Recommendation"] == "Awaiting analysis"
    # the registered rule: bins improved with its guardrail held; Kowloon East breached one
    assert (bins.recommendation, east.recommendation) == ("Scale", "Stop")
    assert table["smart-bins-2026"]["Recommendation"] == "Scale"


def test_a_recorded_decision_moves_the_trial_to_decided(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_store(home)
    DecisionLog(home).record(
        "smart-bins-2026",
        "scale",
        recommendation="scale",
        reason="",
        analysis="a1",
        spec_hash="h",
        actor="committee",
    )
    trials = {t.trial_id: t for t in portfolio(home, today=date(2026, 11, 1))}
    assert trials["smart-bins-2026"].stage == "decided"
    forest = forest_figure(list(trials.values()))
    rows = [label for trace in forest.data for label in trace.y]
    assert any("Collections per bin-week" in label for label in rows)  # decided, still plotted
    assert trials["smart-bins-2026"].decision.decided_by == "committee"
    assert trials["kowloon-east-2026"].stage == "analysed"
    spec, _ = load_spec(SMART_BINS_SPEC)
    assert trial_stage(spec, analysed=True, decided=True, today=date(2026, 5, 1)) == "decided"


def test_a_newer_analysis_replaces_the_older_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec, text = load_spec(SMART_BINS_SPEC)
    TrialStore(home).register(spec, text)
    primary, guardrail = "collections_per_bin_week", "overflow_per_1000_bin_days"
    record_analysis(
        home,
        spec,
        "old",
        {primary: estimate(-1.0, -2.0, 0.5, -0.2), guardrail: estimate(20, 16, 24, 0.5)},
        HEALTHY,
        [],
    )
    record_analysis(
        home,
        spec,
        "new",
        {primary: estimate(2.0, 1.0, 3.0, 0.4), guardrail: estimate(None, None, None, None)},
        HEALTHY,
        [],
    )
    (trial,) = portfolio(home, today=date(2026, 11, 1))
    assert (trial.analysis_id, trial.verdict, trial.effect) == ("new", "worse", 2.0)
    assert trial.guardrail_status == "not estimated"
