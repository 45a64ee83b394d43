"""``livinglab user`` and ``livinglab audit``: the local operator manages accounts and reads,
exports and verifies the audit trail."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import experiments.accounts as accounts_module
from experiments.accounts import Accounts
from experiments.audit import DB_NAME, AuditLog
from experiments.cli import main
from tests.cli_helpers import run_json

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def operator_and_cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OS user is ``ops``; cheap Argon2 parameters keep the tests fast."""
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_module, "_HASHER", cheap)


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> Iterator[str]:
    """Answer the hidden password prompts with ``answers``, in order."""
    replies = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(replies))
    return replies


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def add(monkeypatch: pytest.MonkeyPatch, username: str, *roles: str) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    flags = [part for role in roles for part in ("--role", role)]
    assert main(["user", "add", username, *flags, "--password-stdin"]) == 0


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_adding_a_user_from_stdin(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\r\n")
    argv = ["user", "add", "alice", "--role", "admin", "--role", "owner", "--name", "Alice Wong"]
    assert main([*argv, "--password-stdin"]) == 0
    assert capsys.readouterr().out == "added alice (roles: owner, admin)\n"
    user = Accounts(home).authenticate("alice", PASSWORD)
    assert user is not None
    assert (user.roles, user.display_name) == (("owner", "admin"), "Alice Wong")
    entry = AuditLog(home).entries(action="user_add")[0]
    assert (entry.actor, entry.target) == ("os:ops", "alice")


def test_adding_a_user_with_the_password_typed_twice(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = typed(monkeypatch, PASSWORD, PASSWORD)
    assert main(["user", "add", "bob", "--role", "evaluator"]) == 0
    assert capsys.readouterr().out == "added bob (roles: evaluator)\n"
    assert next(replies, None) is None
    assert Accounts(home).authenticate("bob", PASSWORD) is not None


def test_mismatched_passwords_add_nobody(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed(monkeypatch, PASSWORD, PASSWORD + "x")
    assert main(["user", "add", "bob", "--role", "evaluator"]) == 2
    assert one_error_line(capsys) == "error: the two passwords do not match; nothing changed"
    assert Accounts(home).is_empty()


@pytest.mark.parametrize(
    ("argv", "typed_in", "expected"),
    [
        (["user", "add", "Bob", "--role", "owner"], PASSWORD, "username 'Bob' is not valid"),
        (["user", "add", "bob", "--role", "boss"], PASSWORD, "use one of owner, evaluator"),
        (["user", "add", "bob", "--role", "owner"], "short", "password too short"),
        (["user", "add", "bob", "--role", "owner"], "", "standard input held no password"),
        (["user", "add", "root", "--role", "owner"], PASSWORD, "user 'root' already exists"),
        (["user", "remove", "nobody"], "", "no user 'nobody'; users: root"),
        (["user", "remove", "root"], "", "'root' is the last admin"),
        (["user", "passwd", "nobody"], PASSWORD, "no user 'nobody'; users: root"),
        (["user", "passwd", "root"], "short", "password too short"),
        (["audit", "list", "--action", "logon"], "", "audit action 'logon' is unknown"),
        (["audit", "list", "--limit", "0"], "", "limit must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    typed_in: str,
    expected: str,
) -> None:
    add(monkeypatch, "root", "admin")
    capsys.readouterr()
    stdin(monkeypatch, typed_in + "\n" if typed_in else "")
    password_flag = ["--password-stdin"] if argv[1] in ("add", "passwd") else []
    assert main([*argv, *password_flag]) == 2
    error = one_error_line(capsys)
    assert error.startswith("error: ")
    assert expected in error
    assert [user.username for user in Accounts(home).users()] == ["root"]


def test_a_password_is_not_asked_for_an_unknown_user(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = typed(monkeypatch, PASSWORD, PASSWORD)
    assert main(["user", "passwd", "nobody"]) == 2
    assert "no user 'nobody'" in one_error_line(capsys)
    assert next(replies) == PASSWORD  # untouched


@pytest.mark.parametrize(
    "argv",
    [["user"], ["user", "add", "bob"], ["user", "list", "--format", "xml"], ["audit", "export"]],
)
def test_usage_errors_exit_2_with_one_line(
    home: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert one_error_line(capsys).startswith("error: ")


def test_listing_removing_and_changing_passwords(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, "root", "admin")
    add(monkeypatch, "carol", "committee", "evaluator")
    capsys.readouterr()
    listed = run_json(capsys, "user", "list", "--format", "json")
    assert [(user["username"], user["roles"]) for user in listed] == [
        ("carol", ["evaluator", "committee"]),
        ("root", ["admin"]),
    ]
    assert main(["user", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["carol", "root"]
    assert "evaluator, committee" in lines[0]

    stdin(monkeypatch, "a new passphrase\n")
    assert main(["user", "passwd", "carol", "--password-stdin"]) == 0
    assert capsys.readouterr().out == "password changed for carol\n"
    assert Accounts(home).authenticate("carol", "a new passphrase") is not None

    assert main(["user", "remove", "carol"]) == 0
    assert capsys.readouterr().out == "removed carol\n"
    assert [user["username"] for user in run_json(capsys, "user", "list", "--format", "json")] == [
        "root"
    ]


def test_an_empty_store_says_how_to_start(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "list"]) == 0
    assert "livinglab user add USERNAME --role admin" in capsys.readouterr().out


def test_the_audit_trail_lists_every_change_by_the_operator(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, "root", "admin")
    add(monkeypatch, "alice", "owner")
    Accounts(home).authenticate("alice", "wrong password!")
    capsys.readouterr()
    entries = run_json(capsys, "audit", "list", "--format", "json")
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("alice", "login_failed", "alice"),
        ("os:ops", "user_add", "alice"),
        ("os:ops", "user_add", "root"),
    ]
    only = run_json(
        capsys, "audit", "list", "--actor", "os:ops", "--limit", "1", "--format", "json"
    )
    assert [e["target"] for e in only] == ["alice"]
    adds = run_json(capsys, "audit", "list", "--action", "user_add", "--format", "json")
    assert len(adds) == 2
    assert main(["audit", "list", "--action", "login_failed"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split()[0] == "3"
    assert line.endswith('alice {"reason": "wrong password"}')
    assert PASSWORD not in json.dumps(entries)


def test_exports_to_stdout_and_to_a_file(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(monkeypatch, "root", "admin")
    AuditLog(home).record("carol", "decide", "smart_bins_2026", {"decision": "scale up"})
    capsys.readouterr()
    expected = [entry.to_dict() for entry in reversed(AuditLog(home).entries())]
    assert run_json(capsys, "audit", "export", "--format", "json") == expected

    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "--format", "csv", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [
        {**row, "seq": int(row["seq"]), "details": json.loads(row["details"])} for row in rows
    ] == expected


def test_verify_reports_an_intact_or_tampered_trail(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, "root", "admin")
    add(monkeypatch, "alice", "owner")
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == "audit trail intact (2 entries)\n"

    with sqlite3.connect(home / DB_NAME) as connection:
        connection.execute("DROP TRIGGER audit_no_update")
        connection.execute("UPDATE audit SET actor = 'someone else' WHERE seq = 1")
    assert main(["audit", "verify"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "entry 1: contents changed after it was recorded\n"
    assert captured.err == "error: the audit trail was tampered with: 1 problem(s)\n"
