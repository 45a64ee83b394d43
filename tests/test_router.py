"""The method router picks what each design can support and says why."""

from __future__ import annotations

import pytest

from evaluation.router import Design, describe, recommend
from tests.panels import make_panel


def design(**changes: object) -> Design:
    base = {
        "randomized": False,
        "n_treated": 60,
        "n_control": 60,
        "n_cohorts": 1,
        "n_pre_periods": 12,
        "n_clusters": 12,
    }
    return Design(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "primary", "robustness", "reason"),
    [
        ({}, "did", ("event_study",), "difference-in-differences compares"),
        ({"randomized": True}, "randomized", ("did",), "randomised"),
        ({"n_cohorts": 3}, "staggered", ("event_study", "did"), "Callaway & Sant'Anna"),
        ({"n_treated": 1, "n_control": 45}, "synth", ("bsts", "did"), "synthetic control"),
        ({"n_control": 0}, "prepost", ("bsts",), "weakest design"),
        ({"n_control": 0, "n_pre_periods": 4}, "prepost", (), "weakest design"),
        (
            {"n_treated": 1, "n_control": 45, "n_pre_periods": 5},
            "did",
            ("event_study", "synth"),
            "difference-in-differences",
        ),
    ],
)
def test_recommendations(changes: dict, primary: str, robustness: tuple, reason: str) -> None:
    recommendation = recommend(design(**changes))
    assert recommendation.primary == primary
    assert recommendation.robustness == robustness
    assert any(reason in text for text in recommendation.reasons)


def test_few_clusters_mention_the_wild_bootstrap() -> None:
    assert any("wild cluster bootstrap" in r for r in recommend(design()).reasons)
    assert not any("wild" in r for r in recommend(design(n_clusters=60)).reasons)


def test_describe_reads_the_design_from_a_panel() -> None:
    panel = make_panel(n_treated=3, n_control=5, n_periods=9, first_post=6)
    described = describe(panel, randomized=False)
    assert described == Design(False, 3, 5, 1, 6, 8)
