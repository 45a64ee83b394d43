"""Who may do what: the roles, the permission matrix as data, and the login mode.

Pure functions with no user interface, so the app checks every page and action on the server
side against the same table the tests pin down, and the command line can reuse it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal, cast

from livinglab.errors import InputError, LivingLabError

ROLES = ("owner", "evaluator", "committee", "admin")
ROLE_LABELS = {
    "owner": "Pilot owner",
    "evaluator": "Evaluator",
    "committee": "Steering committee",
    "admin": "Administrator",
}
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_portfolio": frozenset(ROLES),
    "view_trial": frozenset(ROLES),  # owners only their own trials: see can_view_trial
    "register": frozenset({"owner"}),
    "analyse": frozenset({"evaluator"}),
    "view_runs": frozenset({"evaluator", "committee"}),
    "decide": frozenset({"committee"}),
    "manage_users": frozenset({"admin"}),
    "view_audit": frozenset({"admin"}),
}
ACTION_LABELS = {
    "view_portfolio": "viewing the portfolio",
    "view_trial": "viewing a trial",
    "register": "registering a trial",
    "analyse": "running an analysis",
    "view_runs": "viewing analysis runs",
    "decide": "recording a decision",
    "manage_users": "managing users",
    "view_audit": "viewing the audit trail",
}
SEES_EVERY_TRIAL = frozenset({"committee", "evaluator", "admin"})
AUTH_MODES = ("accounts", "none", "oidc")
AuthMode = Literal["accounts", "none", "oidc"]


class Forbidden(LivingLabError):
    """An action the signed-in user's roles do not allow; the message names the role needed."""


def allowed(roles: Iterable[str], action: str) -> bool:
    """Whether any of ``roles`` may do ``action``; an unknown action is an ``InputError``."""
    return bool(_permitted(action) & set(roles))


def can_view_trial(user_roles: Iterable[str], username: str, registered_by: str) -> bool:
    """Committee, evaluators and admins see every trial; a pilot owner only those they
    registered."""
    roles = set(user_roles)
    if roles & SEES_EVERY_TRIAL:
        return True
    return "owner" in roles and registered_by == username


def require(roles: Iterable[str], action: str) -> None:
    """Raise ``Forbidden`` naming the role ``action`` needs unless ``roles`` allow it."""
    held = tuple(roles)
    if allowed(held, action):
        return
    needed = [role for role in ROLES if role in PERMISSIONS[action]]
    role_text = (
        f"the {needed[0]} role" if len(needed) == 1 else f"one of the roles {', '.join(needed)}"
    )
    raise Forbidden(
        f"{ACTION_LABELS[action]} needs {role_text}; you have: {', '.join(held) or 'no role'}"
    )


def auth_mode() -> AuthMode:
    """``LIVINGLAB_AUTH``: ``accounts`` (the default, local users must log in), ``none`` (a
    single-user local install, no login) or ``oidc`` (OpenID Connect through Streamlit)."""
    value = os.environ.get("LIVINGLAB_AUTH", "").strip().lower() or "accounts"
    if value not in AUTH_MODES:
        raise InputError(
            f"LIVINGLAB_AUTH: {value!r} is not a login mode; use one of {', '.join(AUTH_MODES)}"
        )
    return cast(AuthMode, value)


def _permitted(action: str) -> frozenset[str]:
    if action not in PERMISSIONS:
        raise InputError(f"unknown action {action!r}; use one of {', '.join(PERMISSIONS)}")
    return PERMISSIONS[action]
