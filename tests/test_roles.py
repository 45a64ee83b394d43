"""The permission matrix, spelled out: which role may do what, and what refusals say."""

from __future__ import annotations

import pytest

from experiments.roles import (
    PERMISSIONS,
    ROLE_LABELS,
    ROLES,
    Forbidden,
    allowed,
    auth_mode,
    can_view_trial,
    require,
)
from livinglab.errors import InputError, LivingLabError

# Rows: action; columns: owner, evaluator, committee, admin.
MATRIX = {
    "view_portfolio": (True, True, True, True),
    "view_trial": (True, True, True, True),
    "register": (True, False, False, False),
    "analyse": (False, True, False, False),
    "view_runs": (False, True, True, False),
    "decide": (False, False, True, False),
    "manage_users": (False, False, False, True),
    "view_audit": (False, False, False, True),
}
CASES = [
    (role, action, expected)
    for action, row in MATRIX.items()
    for role, expected in zip(ROLES, row, strict=True)
]


def test_the_matrix_covers_every_action_and_role() -> None:
    assert set(MATRIX) == set(PERMISSIONS)
    assert ROLES == ("owner", "evaluator", "committee", "admin")
    assert set(ROLE_LABELS) == set(ROLES)


@pytest.mark.parametrize(("role", "action", "expected"), CASES)
def test_each_role_may_do_exactly_its_actions(role: str, action: str, expected: bool) -> None:
    assert allowed([role], action) is expected
    if expected:
        require([role], action)
    else:
        with pytest.raises(Forbidden, match=f"; you have: {role}$"):
            require([role], action)


def test_several_roles_add_up() -> None:
    assert allowed(("evaluator", "committee"), "decide")
    assert allowed(("evaluator", "committee"), "analyse")
    assert not allowed(("evaluator", "committee"), "manage_users")


@pytest.mark.parametrize("roles", [(), ("superuser",), ("Admin",)])
def test_no_role_or_an_unknown_one_grants_nothing(roles: tuple[str, ...]) -> None:
    assert not any(allowed(roles, action) for action in PERMISSIONS)


def test_refusals_name_the_role_needed() -> None:
    with pytest.raises(Forbidden) as refusal:
        require(["evaluator"], "decide")
    assert (
        str(refusal.value) == "recording a decision needs the committee role; you have: evaluator"
    )
    assert isinstance(refusal.value, LivingLabError)
    with pytest.raises(Forbidden) as refusal:
        require([], "view_runs")
    assert str(refusal.value) == (
        "viewing analysis runs needs one of the roles evaluator, committee; you have: no role"
    )


def test_an_unknown_action_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown action 'delete'; use one of view_portfolio"):
        allowed(["admin"], "delete")
    with pytest.raises(InputError, match="unknown action"):
        require(["admin"], "delete")


@pytest.mark.parametrize(
    ("roles", "username", "registered_by", "expected"),
    [
        (["owner"], "alice", "alice", True),
        (["owner"], "alice", "bob", False),
        (["owner"], "alice", "", False),
        (["evaluator"], "carol", "bob", True),
        (["committee"], "carol", "bob", True),
        (["admin"], "carol", "bob", True),
        (["owner", "committee"], "alice", "bob", True),
        ([], "alice", "alice", False),
    ],
)
def test_owners_see_only_their_own_trials(
    roles: list[str], username: str, registered_by: str, expected: bool
) -> None:
    assert can_view_trial(roles, username, registered_by) is expected


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, "accounts"),
        ("", "accounts"),
        ("accounts", "accounts"),
        ("none", "none"),
        (" OIDC ", "oidc"),
    ],
)
def test_the_login_mode_defaults_to_accounts(
    monkeypatch: pytest.MonkeyPatch, value: str | None, mode: str
) -> None:
    if value is None:
        monkeypatch.delenv("LIVINGLAB_AUTH", raising=False)
    else:
        monkeypatch.setenv("LIVINGLAB_AUTH", value)
    assert auth_mode() == mode


def test_an_unknown_login_mode_names_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVINGLAB_AUTH", "off")
    with pytest.raises(
        InputError, match=r"LIVINGLAB_AUTH: 'off' .* use one of accounts, none, oidc"
    ):
        auth_mode()
