"""The audit trail: who registered, analysed, decided, logged in or changed users, and when.

Entries live in the SQLite file ``LIVINGLAB_HOME/governance.db`` (table ``audit``) next to the
accounts store, so a user change and its audit entry are written in one transaction. The trail is
append-only twice over: triggers abort any UPDATE or DELETE, and each entry carries a SHA-256
hash chained to the previous one, so an entry changed or removed behind the triggers' back (by
dropping them) is found by ``AuditLog.verify``. WAL mode and a busy timeout let the app and the
command line write at the same time.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from livinglab.errors import InputError

DB_NAME = "governance.db"
BUSY_TIMEOUT_SECONDS = 30.0
ACTIONS = (
    "register",
    "analyse",
    "decide",
    "login",
    "login_failed",
    "logout",
    "user_add",
    "user_remove",
    "user_passwd",
    "report",
    "rerun",
    "draft_save",
)
GENESIS = "0" * 64  # the "previous hash" of the first entry
SECRET_KEY_PARTS = ("password", "passwd", "secret")
EXPORT_COLUMNS = ("seq", "at", "actor", "action", "target", "details", "hash")


def append_only(table: str, message: str) -> str:
    """Triggers that abort any UPDATE or DELETE on ``table``; ``{verb}`` in ``message`` becomes
    "changed" or "deleted"."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{event.lower()} BEFORE {event} ON {table}\n"
        f"BEGIN SELECT RAISE(ABORT, '{message.format(verb=verb)}'); END;\n"
        for event, verb in (("UPDATE", "changed"), ("DELETE", "deleted"))
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
""" + append_only("audit", "the audit trail is append-only: entries cannot be {verb}")
_COLUMNS = "seq, at, actor, action, target, details, prev_hash, hash"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str  # ISO-8601 UTC, seconds
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    hash: str = ""  # this entry's link in the hash chain

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def operator() -> str:
    """The command line's actor: the OS user who owns the local store."""
    return f"os:{getpass.getuser()}"


@contextmanager
def governance_db(home: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to ``home/governance.db``; with ``write``, inside a transaction that holds
    the write lock from the start (so reading the chain's last hash and appending are atomic)
    and commits on success."""
    home.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(home / DB_NAME, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    with closing(connection):
        connection.execute("PRAGMA journal_mode=WAL")
        if not write:
            yield connection
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def append_entry(
    connection: sqlite3.Connection,
    actor: str,
    action: str,
    target: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry through ``connection``, which must be in a write transaction
    (``governance_db(home, write=True)``), so that it commits or rolls back with the change it
    records."""
    if action not in ACTIONS:
        raise InputError(f"audit action {action!r} is unknown; use one of {', '.join(ACTIONS)}")
    if not actor.strip():
        raise InputError("audit entry: actor is empty; say who acted")
    _refuse_secrets(details or {}, "details")
    payload = json.loads(
        _canonical(dict(details or {}))
    )  # as it will read back (lists, not tuples)
    last = connection.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    body = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target}
    digest = _chain_hash(prev_hash, {**body, "details": payload})
    connection.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, target, _canonical(payload), prev_hash, digest),
    )
    return AuditEntry(**body, details=payload, hash=digest)


class AuditLog:
    """The append-only audit trail in ``home/governance.db``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with governance_db(home) as connection:
            connection.executescript(_SCHEMA)

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append that ``actor`` did ``action`` to ``target``; ``details`` must be JSON and must
        not hold a password or other secret (``InputError`` otherwise)."""
        with governance_db(self.home, write=True) as connection:
            return append_entry(connection, actor, action, target, details)

    def entries(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, newest first."""
        if action is not None and action not in ACTIONS:
            raise InputError(f"audit action {action!r} is unknown; use one of {', '.join(ACTIONS)}")
        if limit is not None and limit < 1:
            raise InputError(f"limit must be at least 1, not {limit}")
        filters = {"action": action, "actor": actor, "target": target}
        used = {column: value for column, value in filters.items() if value is not None}
        where = " AND ".join(f"{column} = ?" for column in used) or "1"
        query = f"SELECT {_COLUMNS} FROM audit WHERE {where} ORDER BY seq DESC"
        parameters: list[Any] = list(used.values())
        if limit is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        with governance_db(self.home) as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [_entry(row) for row in rows]

    def export(self, fmt: Literal["csv", "json"]) -> str:
        """Every entry, oldest first, as CSV (``details`` as a JSON cell) or a JSON list."""
        rows = [entry.to_dict() for entry in reversed(self.entries())]
        if fmt == "json":
            return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows({**row, "details": _canonical(row["details"])} for row in rows)
            return buffer.getvalue()
        raise InputError(f"export format {fmt!r} is unknown; use 'csv' or 'json'")

    def verify(self) -> list[str]:
        """Problems with the hash chain, oldest first; empty when no entry was changed, removed
        or inserted since it was recorded (removing the newest entries leaves no trace)."""
        with governance_db(self.home) as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY seq").fetchall()
        problems = []
        expected_seq, expected_prev = 1, GENESIS
        for row in rows:
            seq, prev_hash, stored_hash = row[0], row[6], row[7]
            if seq != expected_seq:
                problems.append(f"entry {seq}: expected entry {expected_seq} here (a gap)")
            if prev_hash != expected_prev:
                problems.append(
                    f"entry {seq}: does not follow the entry before it (one was removed, "
                    "inserted or changed)"
                )
            entry = _entry(row)
            body = {k: v for k, v in entry.to_dict().items() if k != "hash"}
            if _chain_hash(prev_hash, body) != stored_hash:
                problems.append(f"entry {seq}: contents changed after it was recorded")
            expected_seq, expected_prev = seq + 1, stored_hash
        return problems

    def count(self) -> int:
        with governance_db(self.home) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, actor, action, target, details, _prev_hash, digest = row
    return AuditEntry(seq, at, actor, action, target, json.loads(details), digest)


def _canonical(value: Any) -> str:
    """Stable JSON: the same content always gives the same text, hence the same hash."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InputError(f"audit details must be plain JSON values: {error}") from None


def _chain_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(body)).encode("utf-8")).hexdigest()


def _refuse_secrets(value: Any, where: str) -> None:
    """Refuse details that look like they carry a password, at any depth."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if any(part in str(key).lower() for part in SECRET_KEY_PARTS):
                raise InputError(f"audit {where}: {key!r} looks like a secret; never log one")
            _refuse_secrets(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secrets(item, where)
