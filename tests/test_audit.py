"""The audit trail: append-only in SQLite (triggers) and tamper-evident (a hash chain)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from experiments.audit import ACTIONS, DB_NAME, AuditLog, operator
from livinglab.errors import InputError


@pytest.fixture
def log(home: Path) -> AuditLog:
    audit = AuditLog(home)
    audit.record("alice", "register", "smart_bins_2026", {"spec_hash": "ab12"})
    audit.record("bob", "analyse", "smart_bins_2026", {"run": "r1", "methods": ["did", "synth"]})
    audit.record("carol", "decide", "smart_bins_2026", {"decision": "scale", "note": "盡快推行"})
    audit.record("bob", "analyse", "lampposts_2026")
    return audit


def raw(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / DB_NAME, isolation_level=None)


def test_entries_are_newest_first_and_filtered(log: AuditLog) -> None:
    assert [entry.seq for entry in log.entries()] == [4, 3, 2, 1]
    assert [entry.target for entry in log.entries(actor="bob")] == [
        "lampposts_2026",
        "smart_bins_2026",
    ]
    assert [entry.actor for entry in log.entries(action="decide")] == ["carol"]
    assert [entry.seq for entry in log.entries(target="smart_bins_2026", limit=2)] == [3, 2]
    assert log.entries(actor="bob", action="decide") == []
    assert log.entries(action="analyse")[1].details == {"run": "r1", "methods": ["did", "synth"]}


def test_an_entry_says_who_did_what_when(home: Path) -> None:
    before = datetime.now().astimezone().replace(microsecond=0)
    entry = AuditLog(home).record("alice", "decide", "trial_x", {"decision": "stop"})
    at = datetime.fromisoformat(entry.at)
    assert at.utcoffset() == timedelta(0)
    assert at.microsecond == 0
    assert before <= at <= datetime.now().astimezone()
    assert entry.to_dict() == {
        "seq": 1,
        "at": entry.at,
        "actor": "alice",
        "action": "decide",
        "target": "trial_x",
        "details": {"decision": "stop"},
        "hash": entry.hash,
    }
    assert AuditLog(home).entries() == [entry]


def test_every_action_can_be_recorded(home: Path) -> None:
    log = AuditLog(home)
    for action in ACTIONS:
        log.record("alice", action)
    assert [entry.action for entry in reversed(log.entries())] == list(ACTIONS)


@pytest.mark.parametrize(
    ("actor", "action", "details", "message"),
    [
        ("alice", "delete_everything", {}, "audit action 'delete_everything' is unknown; use one"),
        ("  ", "login", {}, "actor is empty"),
        ("alice", "user_add", {"password": "hunter2hunter2"}, "'password' looks like a secret"),
        ("alice", "user_add", {"new": {"Passwd": "x"}}, "details.new: 'Passwd' looks like"),
        ("alice", "user_add", {"users": [{"secret_key": "x"}]}, "'secret_key' looks like"),
        ("alice", "analyse", {"data": Path("x")}, "details must be plain JSON values"),
    ],
)
def test_bad_entries_are_refused(
    home: Path, actor: str, action: str, details: dict[str, object], message: str
) -> None:
    log = AuditLog(home)
    with pytest.raises(InputError, match=message):
        log.record(actor, action, "x", details)
    assert log.entries() == []


def test_filters_are_checked(log: AuditLog) -> None:
    with pytest.raises(InputError, match="'logon' is unknown; use one of register, analyse"):
        log.entries(action="logon")
    with pytest.raises(InputError, match="limit must be at least 1"):
        log.entries(limit=0)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit SET actor = 'mallory' WHERE seq = 2", "DELETE FROM audit WHERE seq = 4"],
)
def test_raw_sql_cannot_change_or_delete_entries(log: AuditLog, home: Path, statement: str) -> None:
    with raw(home) as connection, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute(statement)
    assert [entry.actor for entry in log.entries()] == ["bob", "carol", "bob", "alice"]
    assert log.verify() == []


def test_a_changed_entry_breaks_the_chain(log: AuditLog, home: Path) -> None:
    assert log.verify() == []
    with raw(home) as connection:
        connection.execute("DROP TRIGGER audit_no_update")
        connection.execute(
            "UPDATE audit SET details = ? WHERE seq = 3", ('{"decision":"stop","note":""}',)
        )
    assert log.verify() == ["entry 3: contents changed after it was recorded"]


def test_a_removed_entry_breaks_the_chain(log: AuditLog, home: Path) -> None:
    with raw(home) as connection:
        connection.execute("DROP TRIGGER audit_no_delete")
        connection.execute("DELETE FROM audit WHERE seq = 2")
    problems = log.verify()
    assert problems[0] == "entry 3: expected entry 2 here (a gap)"
    assert problems[1].startswith("entry 3: does not follow the entry before it")
    assert len(problems) == 2


def test_a_recomputed_forgery_is_still_caught_downstream(log: AuditLog, home: Path) -> None:
    """Rewriting an entry together with its own hash breaks the next entry's link."""
    original = log.entries(action="register")[0]
    log.record("eve", "login")  # a clean entry made before the forgery, hash untouched
    with raw(home) as connection:
        connection.execute("DROP TRIGGER audit_no_update")
        connection.execute(
            "UPDATE audit SET actor = 'mallory', hash = ? WHERE seq = 1", ("f" * 64,)
        )
    problems = log.verify()
    assert f"entry {original.seq}: contents changed after it was recorded" in problems
    assert any(p.startswith("entry 2: does not follow") for p in problems)


def test_opening_the_log_restores_the_triggers(log: AuditLog, home: Path) -> None:
    with raw(home) as connection:
        connection.execute("DROP TRIGGER audit_no_delete")
    AuditLog(home)
    with raw(home) as connection, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("DELETE FROM audit")


def test_exports_read_back_as_the_same_rows(log: AuditLog) -> None:
    oldest_first = [entry.to_dict() for entry in reversed(log.entries())]
    assert json.loads(log.export("json")) == oldest_first
    rows = list(csv.DictReader(io.StringIO(log.export("csv"))))
    parsed = [
        {**row, "seq": int(row["seq"]), "details": json.loads(row["details"])} for row in rows
    ]
    assert parsed == oldest_first
    with pytest.raises(InputError, match="use 'csv' or 'json'"):
        log.export("xml")  # type: ignore[arg-type]


def test_an_empty_trail_is_intact(home: Path) -> None:
    log = AuditLog(home)
    assert log.verify() == []
    assert log.count() == 0
    assert log.export("json") == "[]\n"


def test_concurrent_writers_keep_one_unbroken_chain(home: Path) -> None:
    AuditLog(home)

    def write(worker: int) -> None:
        log = AuditLog(home)  # its own connections, as the app and the command line have
        for index in range(25):
            log.record(f"worker{worker}", "analyse", f"trial_{index}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    log = AuditLog(home)
    assert log.verify() == []
    assert sorted(entry.seq for entry in log.entries()) == list(range(1, 101))
    assert {entry.actor for entry in log.entries()} == {f"worker{n}" for n in range(4)}


def test_the_store_uses_write_ahead_logging(home: Path) -> None:
    AuditLog(home)
    with raw(home) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_operator_is_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "kwong")
    assert operator() == "os:kwong"
