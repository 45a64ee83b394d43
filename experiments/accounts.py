"""The local accounts store: users, their roles and salted Argon2 password hashes.

Users live in ``LIVINGLAB_HOME/governance.db`` (table ``users``) beside the audit trail; every
change is written in the same transaction as its audit entry. Passwords are hashed with
argon2-cffi (a random salt per hash, parameters inside the hash string) and are never stored,
logged or audited in plain text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from experiments.audit import AuditLog, append_entry, governance_db
from experiments.roles import ROLES
from livinglab.errors import InputError, UnknownNameError

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
DEMO_ACTOR = "demo"
DEMO_USERS = (
    ("owner", "owner-demo-pass", ("owner",)),
    ("evaluator", "evaluator-demo-pass", ("evaluator",)),
    ("committee", "committee-demo-pass", ("committee",)),
    ("admin", "admin-demo-pass", ("admin",)),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
_COLUMNS = "username, password_hash, roles, display_name, created_at"
Row = tuple[str, str, str, str, str]  # a users row, in _COLUMNS order
_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters


@dataclass(frozen=True)
class User:
    username: str
    roles: tuple[str, ...]
    display_name: str
    created_at: str


class Accounts:
    """Local users in ``home/governance.db``; each change is audited with its ``actor``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        AuditLog(home)  # the audit table must exist before the first change is recorded
        with governance_db(home) as connection:
            connection.executescript(_SCHEMA)

    def add(
        self,
        username: str,
        password: str,
        roles: Sequence[str],
        *,
        display_name: str = "",
        actor: str,
    ) -> User:
        """Create a user (display name defaults to the username); ``InputError`` on an invalid
        or taken username, a short password, or no or unknown roles."""
        _check_username(username)
        _check_password(password)
        ordered = _check_roles(roles)
        user = User(
            username=username,
            roles=ordered,
            display_name=display_name.strip() or username,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        password_hash = _HASHER.hash(password)
        with governance_db(self.home, write=True) as connection:
            if _row(connection, username) is not None:
                raise InputError(f"user {username!r} already exists; pick another username")
            connection.execute(
                f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (username, password_hash, json.dumps(ordered), user.display_name, user.created_at),
            )
            append_entry(connection, actor, "user_add", username, {"roles": list(ordered)})
        return user

    def remove(self, username: str, *, actor: str) -> None:
        """Delete a user; refuses to remove the last admin, who alone can manage users."""
        with governance_db(self.home, write=True) as connection:
            user = _existing(connection, username)
            if "admin" in user.roles:
                admins = [other for other in _all_users(connection) if "admin" in other.roles]
                if len(admins) == 1:
                    raise InputError(
                        f"{username!r} is the last admin; add another admin before removing them"
                    )
            connection.execute("DELETE FROM users WHERE username = ?", (username,))
            append_entry(connection, actor, "user_remove", username, {"roles": list(user.roles)})

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        """Replace a user's password (its hash, with a fresh salt)."""
        _check_password(password)
        password_hash = _HASHER.hash(password)
        with governance_db(self.home, write=True) as connection:
            _existing(connection, username)
            connection.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username)
            )
            append_entry(connection, actor, "user_passwd", username)

    def users(self) -> list[User]:
        """Every user, by username."""
        with governance_db(self.home) as connection:
            return _all_users(connection)

    def existing(self, username: str) -> User:
        """The user, or ``UnknownNameError`` listing the users there are."""
        with governance_db(self.home) as connection:
            return _existing(connection, username)

    def get(self, username: str) -> User | None:
        with governance_db(self.home) as connection:
            row = _row(connection, username)
        return None if row is None else _user(row)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None``; audited as ``login`` or
        ``login_failed`` with the username as actor.

        An unknown username costs as much time as a wrong password (a dummy hash is verified)
        so response times do not reveal which usernames exist. A hash made with older Argon2
        parameters is replaced on a successful login.
        """
        name = username.strip().lower()
        with governance_db(self.home) as connection:
            row = _row(connection, name)
        if row is None:
            _verify(_dummy_hash(), password)
            failure = "unknown user"
        elif _verify(row[1], password):
            return self._logged_in(row, password)
        else:
            failure = "wrong password"
        with governance_db(self.home, write=True) as connection:
            append_entry(connection, name or "anonymous", "login_failed", name, {"reason": failure})
        return None

    def is_empty(self) -> bool:
        with governance_db(self.home) as connection:
            return connection.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None

    def _logged_in(self, row: Row, password: str) -> User:
        """Audit the login, replacing a hash made with outdated parameters on the way."""
        username, password_hash = row[0], row[1]
        upgraded = _HASHER.hash(password) if _HASHER.check_needs_rehash(password_hash) else None
        with governance_db(self.home, write=True) as connection:
            if upgraded:
                connection.execute(
                    "UPDATE users SET password_hash = ? WHERE username = ?", (upgraded, username)
                )
            append_entry(connection, username, "login", username)
        return _user(row)


def seed_demo_users(home: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Add one demo user per role, with the documented demo passwords, only if the store has
    no users yet; returns ``(username, password, roles)`` of each user added."""
    accounts = Accounts(home)
    if not accounts.is_empty():
        return []
    for username, password, roles in DEMO_USERS:
        accounts.add(username, password, roles, actor=DEMO_ACTOR)
    return list(DEMO_USERS)


def _check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise InputError(
            f"username {username!r} is not valid: use 2 to 64 characters, lowercase letters, "
            "digits and . _ @ -, starting with a letter or digit"
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")


def _check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    """The roles in canonical order without repeats."""
    if isinstance(roles, str):
        roles = [roles]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InputError(
            f"unknown role(s) {', '.join(map(repr, unknown))}; use one of {', '.join(ROLES)}"
        )
    if not roles:
        raise InputError(f"a user needs at least one role: {', '.join(ROLES)}")
    return tuple(role for role in ROLES if role in roles)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _HASHER.hash("not a password anyone has")


def _existing(connection: sqlite3.Connection, username: str) -> User:
    row = _row(connection, username)
    if row is None:
        known = ", ".join(user.username for user in _all_users(connection)) or "none yet"
        raise UnknownNameError(f"no user {username!r}; users: {known}")
    return _user(row)


def _row(connection: sqlite3.Connection, username: str) -> Row | None:
    return connection.execute(
        f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,)
    ).fetchone()


def _all_users(connection: sqlite3.Connection) -> list[User]:
    rows = connection.execute(f"SELECT {_COLUMNS} FROM users ORDER BY username").fetchall()
    return [_user(row) for row in rows]


def _user(row: Row) -> User:
    username, _password_hash, roles, display_name, created_at = row
    return User(username, tuple(json.loads(roles)), display_name, created_at)
