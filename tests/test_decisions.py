"""Decision records: append-only, audited, and a reason when the committee departs from the rule."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from experiments.audit import DB_NAME, AuditLog
from experiments.decisions import DecisionLog
from livinglab.errors import InputError


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
