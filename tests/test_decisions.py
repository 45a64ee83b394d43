"""Decision records: append-only, audited, and a reason when the committee departs from the rule."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from evaluation.result import Estimate
from experiments.audit import DB_NAME, AuditLog
from experiments.decisions import DecisionLog
from experiments.spec import load_spec, trial_pilot
from experiments.trial_decision import trial_plan
from livinglab.errors import InputError
from tests.conftest import SMART_BINS_SPEC


def decide(home: Path, decision: str, reason: str = "", recommendation: str = "iterate"):
    return DecisionLog(home).record(
        "smart-bins-2026",
        decision,
        recommendation=recommendation,  # type: ignore[arg-type]
        reason=reason,
        analysis="a1",
        spec_hash="abc",
        actor="chair",
    )


def test_a_decision_is_stored_with_who_and_when_and_audited(home: Path) -> None:
    record = decide(home, "iterate")
    assert (record.label, record.decided_by, record.follows_recommendation) == (
        "Extend/Iterate",
        "chair",
        True,
    )
    assert DecisionLog(home).latest("smart-bins-2026") == record
    entry = AuditLog(home).entries(action="decide")[0]
    assert (entry.actor, entry.target, entry.details["decision"]) == (
        "chair",
        "smart-bins-2026",
        "iterate",
    )


def test_departing_from_the_recommendation_needs_a_written_reason(home: Path) -> None:
    with pytest.raises(InputError, match="differs from the recommendation 'Extend/Iterate'"):
        decide(home, "scale", reason="   ")
    assert DecisionLog(home).latest("smart-bins-2026") is None
    assert AuditLog(home).entries(action="decide") == []
    record = decide(home, "scale", reason="The council funds city-wide roll-out regardless.")
    assert not record.follows_recommendation


def test_unknown_decisions_and_trials_without_analysis_are_refused(home: Path) -> None:
    with pytest.raises(InputError, match="not one of scale, iterate, stop"):
        decide(home, "expand")
    with pytest.raises(InputError, match="analyse it before deciding"):
        DecisionLog(home).record(
            "t", "stop", recommendation="stop", reason="", analysis="", spec_hash="", actor="x"
        )


def test_a_later_decision_supersedes_without_erasing(home: Path) -> None:
    decide(home, "iterate")
    decide(home, "stop", reason="Guardrail breached in the extension.")
    log = DecisionLog(home)
    assert [r.decision for r in log.history("smart-bins-2026")] == ["iterate", "stop"]
    assert log.latest_by_trial()["smart-bins-2026"].decision == "stop"
    with (
        sqlite3.connect(home / DB_NAME) as connection,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        connection.execute("UPDATE decisions SET decision = 'scale'")
    with (
        sqlite3.connect(home / DB_NAME) as connection,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        connection.execute("DELETE FROM decisions")


def test_the_rules_plan_counts_registered_periods_and_randomised_units() -> None:
    spec, _ = load_spec(SMART_BINS_SPEC)  # weeks: before 2026-01-05..03-29, after 03-30..07-05
    pilot = trial_pilot(spec)
    primary = pilot.metric(spec.primary.name)
    randomized = Estimate(
        "randomized",
        "ATT",
        -1.6,
        0.3,
        -2.2,
        -1.0,
        0.01,
        -0.3,
        1680,
        120,
        60,
        details={"randomisation_units": {"treated": 6, "control": 6}},
    )
    plan = trial_plan(spec, primary, randomized)
    # the arms compare after-periods only; the 120 bins were randomised as 12 routes
    assert (plan.n_pre, plan.n_post, plan.n_units, plan.unit) == (0, 14, 12, "route")
    as_did = trial_plan(replace(spec, planned_method="did"), primary, randomized)
    assert (as_did.n_pre, as_did.n_post) == (12, 14)
    assert as_did.family_size == 2  # Holm over the primary and the secondary metric
