"""The local accounts store: salted Argon2 hashes, role checks, the last admin, the audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.profiles import get_default_parameters

import experiments.accounts as accounts_module
from experiments.accounts import DEMO_USERS, Accounts, seed_demo_users
from experiments.audit import DB_NAME, AuditLog
from experiments.roles import ROLES
from livinglab.errors import InputError, UnknownNameError

PRODUCTION_HASHER = accounts_module._HASHER
PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    """Cheap parameters keep the tests fast; counts verifications to see the dummy hash used."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    cheap = CountingHasher()
    monkeypatch.setattr(accounts_module, "_HASHER", cheap)
    return cheap


@pytest.fixture
def accounts(home: Path) -> Accounts:
    store = Accounts(home)
    store.add("root", PASSWORD, ["admin"], actor="os:ops")
    store.add("alice", PASSWORD, ["owner"], display_name="Alice Wong", actor="root")
    return store


def stored_hash(home: Path, username: str) -> str:
    with sqlite3.connect(home / DB_NAME) as connection:
        row = connection.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
    return str(row[0])


def test_passwords_are_stored_as_salted_argon2_hashes(accounts: Accounts, home: Path) -> None:
    root, alice = stored_hash(home, "root"), stored_hash(home, "alice")
    assert root.startswith("$argon2id$")
    assert PASSWORD not in root
    assert root != alice  # same password, different salt
    on_disk = b"".join(path.read_bytes() for path in home.iterdir() if path.is_file())
    assert PASSWORD.encode() not in on_disk


def test_the_production_hasher_uses_the_library_defaults() -> None:
    assert extract_parameters(PRODUCTION_HASHER.hash(PASSWORD)) == get_default_parameters()


def test_users_are_listed_with_roles_and_names(accounts: Accounts) -> None:
    users = accounts.users()
    assert [user.username for user in users] == ["alice", "root"]
    alice = accounts.get("alice")
    assert alice is not None
    assert (alice.roles, alice.display_name) == (("owner",), "Alice Wong")
    assert accounts.get("root").display_name == "root"  # type: ignore[union-attr]
    assert accounts.get("nobody") is None
    assert not accounts.is_empty()


def test_a_new_store_is_empty(home: Path) -> None:
    assert Accounts(home).is_empty()
    assert Accounts(home).users() == []


def test_roles_are_kept_in_canonical_order_without_repeats(accounts: Accounts) -> None:
    user = accounts.add("dual", PASSWORD, ["committee", "owner", "committee"], actor="root")
    assert user.roles == ("owner", "committee")
    assert accounts.existing("dual").roles == ("owner", "committee")


@pytest.mark.parametrize(
    ("username", "password", "roles", "message"),
    [
        ("alice", PASSWORD, ["owner"], "user 'alice' already exists"),
        ("bob", PASSWORD, ["boss"], f"unknown role\\(s\\) 'boss'; use one of {', '.join(ROLES)}"),
        ("bob", PASSWORD, [], "a user needs at least one role"),
        ("Bob", PASSWORD, ["owner"], "username 'Bob' is not valid"),
        ("b", PASSWORD, ["owner"], "username 'b' is not valid"),
        ("-bob", PASSWORD, ["owner"], "username '-bob' is not valid"),
        ("bob smith", PASSWORD, ["owner"], "is not valid"),
        ("b" * 65, PASSWORD, ["owner"], "is not valid"),
        ("bob", "short-pw1", ["owner"], "password too short: use at least 10 characters"),
    ],
)
def test_invalid_users_are_refused(
    accounts: Accounts, username: str, password: str, roles: list[str], message: str
) -> None:
    before = accounts.users()
    with pytest.raises(InputError, match=message):
        accounts.add(username, password, roles, actor="root")
    assert accounts.users() == before
    assert len(AuditLog(accounts.home).entries(action="user_add")) == 2


def test_unusual_but_valid_usernames_are_accepted(accounts: Accounts) -> None:
    for username in ("ab", "chan.tai-man_2@pilot.hk", "x" * 64):
        assert accounts.add(username, PASSWORD, ["evaluator"], actor="root").username == username


def test_a_role_given_as_one_string_is_one_role(accounts: Accounts) -> None:
    assert accounts.add("eve", PASSWORD, "evaluator", actor="root").roles == ("evaluator",)


def test_the_right_password_authenticates(accounts: Accounts) -> None:
    user = accounts.authenticate("alice", PASSWORD)
    assert user is not None
    assert (user.username, user.roles) == ("alice", ("owner",))
    assert accounts.authenticate(" Alice ", PASSWORD) == user  # as typed in a login form
    login = AuditLog(accounts.home).entries(action="login")[0]
    assert (login.actor, login.target, login.details) == ("alice", "alice", {})


def test_a_wrong_password_or_unknown_user_fails(accounts: Accounts, hasher: CountingHasher) -> None:
    assert accounts.authenticate("alice", PASSWORD + "!") is None
    assert accounts.authenticate("alice", "") is None
    verified = hasher.verified
    assert accounts.authenticate("mallory", PASSWORD) is None
    assert hasher.verified == verified + 1  # a dummy hash, so unknown names cost the same
    failures = AuditLog(accounts.home).entries(action="login_failed")
    assert [(entry.actor, entry.details["reason"]) for entry in failures] == [
        ("mallory", "unknown user"),
        ("alice", "wrong password"),
        ("alice", "wrong password"),
    ]
    assert AuditLog(accounts.home).entries(action="login") == []


def test_a_blank_username_fails_and_is_audited_as_anonymous(accounts: Accounts) -> None:
    assert accounts.authenticate("  ", PASSWORD) is None
    assert AuditLog(accounts.home).entries(action="login_failed")[0].actor == "anonymous"


def test_a_login_upgrades_an_outdated_hash(
    accounts: Accounts, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = stored_hash(home, "alice")
    stronger = CountingHasher(time_cost=2)
    monkeypatch.setattr(accounts_module, "_HASHER", stronger)
    assert accounts.authenticate("alice", PASSWORD) is not None
    new = stored_hash(home, "alice")
    assert extract_parameters(old).time_cost == 1
    assert extract_parameters(new).time_cost == 2
    assert accounts.authenticate("alice", PASSWORD) is not None
    assert stored_hash(home, "alice") == new  # up to date now: left alone


def test_a_password_change_replaces_the_old_one(accounts: Accounts) -> None:
    accounts.set_password("alice", "a brand new passphrase", actor="alice")
    assert accounts.authenticate("alice", PASSWORD) is None
    assert accounts.authenticate("alice", "a brand new passphrase") is not None
    change = AuditLog(accounts.home).entries(action="user_passwd")[0]
    assert (change.actor, change.target, change.details) == ("alice", "alice", {})
    with pytest.raises(InputError, match="password too short"):
        accounts.set_password("alice", "short", actor="alice")
    with pytest.raises(UnknownNameError, match="no user 'bob'; users: alice, root"):
        accounts.set_password("bob", PASSWORD, actor="root")


def test_removing_a_user_is_audited(accounts: Accounts) -> None:
    accounts.remove("alice", actor="root")
    assert accounts.get("alice") is None
    assert accounts.authenticate("alice", PASSWORD) is None
    removal = AuditLog(accounts.home).entries(action="user_remove")[0]
    assert (removal.actor, removal.target, removal.details) == (
        "root",
        "alice",
        {"roles": ["owner"]},
    )
    with pytest.raises(UnknownNameError, match="no user 'alice'; users: root"):
        accounts.remove("alice", actor="root")


def test_the_last_admin_cannot_be_removed(accounts: Accounts) -> None:
    with pytest.raises(InputError, match="'root' is the last admin; add another admin"):
        accounts.remove("root", actor="root")
    assert accounts.get("root") is not None
    accounts.add("deputy", PASSWORD, ["admin", "committee"], actor="root")
    accounts.remove("root", actor="deputy")
    with pytest.raises(InputError, match="'deputy' is the last admin"):
        accounts.remove("deputy", actor="deputy")
    assert [user.username for user in accounts.users()] == ["alice", "deputy"]


def test_every_user_change_is_audited_without_the_password(accounts: Accounts) -> None:
    accounts.set_password("alice", "another passphrase", actor="root")
    accounts.authenticate("alice", "another passphrase")
    accounts.remove("alice", actor="root")
    log = AuditLog(accounts.home)
    trail = [(entry.actor, entry.action, entry.target) for entry in reversed(log.entries())]
    assert trail == [
        ("os:ops", "user_add", "root"),
        ("root", "user_add", "alice"),
        ("root", "user_passwd", "alice"),
        ("alice", "login", "alice"),
        ("root", "user_remove", "alice"),
    ]
    exported = log.export("json")
    assert PASSWORD not in exported
    assert "another passphrase" not in exported
    assert log.verify() == []


def test_demo_users_are_seeded_once_into_an_empty_store(home: Path) -> None:
    added = seed_demo_users(home)
    assert added == list(DEMO_USERS)
    accounts = Accounts(home)
    for username, password, roles in added:
        user = accounts.authenticate(username, password)
        assert user is not None
        assert user.roles == roles
    assert {roles for _, _, roles in added} == {(role,) for role in ROLES}
    assert seed_demo_users(home) == []
    assert len(accounts.users()) == 4
    assert {entry.actor for entry in AuditLog(home).entries(action="user_add")} == {"demo"}


def test_demo_users_are_not_added_beside_real_ones(accounts: Accounts) -> None:
    assert seed_demo_users(accounts.home) == []
    assert [user.username for user in accounts.users()] == ["alice", "root"]
