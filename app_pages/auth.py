"""Who is using the app, and whether they may: checked on the server for every page and action.

Three login modes (``LIVINGLAB_AUTH``): ``accounts`` (the default: the local accounts store,
``livinglab user add``), ``oidc`` (OpenID Connect through ``st.login``, configured in
``.streamlit/secrets.toml``; the signed-in email must be a user in the accounts store, which
gives its roles) and ``none`` (a single-user local install: no login, every role, and a banner
saying so). The permission matrix itself is ``experiments.roles``.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

import streamlit as st

from app_pages.data import home
from experiments.accounts import Accounts
from experiments.audit import AuditLog
from experiments.roles import ROLE_LABELS, ROLES, Forbidden, allowed, auth_mode, require

SESSION_KEY = "viewer"
OIDC_LOGIN_RECORDED = "oidc_login_recorded"
PAGES = (  # (action the page needs, file, title, icon, address)
    ("view_portfolio", "app_pages/portfolio.py", "Portfolio", ":material/dashboard:", ""),
    ("view_trial", "app_pages/trial.py", "Trial", ":material/science:", "trial"),
    ("register", "app_pages/register.py", "Register", ":material/edit_note:", "register"),
    ("analyse", "app_pages/analyse.py", "Analyse", ":material/query_stats:", "analyse"),
    ("view_runs", "app_pages/runs.py", "Runs", ":material/history:", "runs"),
    ("manage_users", "app_pages/admin.py", "Administration", ":material/shield_person:", "admin"),
)


@dataclass(frozen=True)
class Viewer:
    username: str
    roles: tuple[str, ...]
    display_name: str

    def can(self, action: str) -> bool:
        return allowed(self.roles, action)

    @property
    def role_text(self) -> str:
        return ", ".join(ROLE_LABELS[role] for role in self.roles) or "no role"


def allowed_pages(current: Viewer) -> list[tuple[str, str, str, str, str]]:
    """The entries of ``PAGES`` that ``current`` may open."""
    return [entry for entry in PAGES if current.can(entry[0])]


def pages_for(current: Viewer | None) -> list[st.Page]:
    """The pages ``current`` may open: only sign-in for an anonymous visitor."""
    if current is None:  # sign-in at every address, so that a shared link opens after it
        from app_pages.login import sign_in_page

        return [
            st.Page(sign_in_page, title="Sign in", url_path=address or "login", default=not address)
            for _, _, _, _, address in PAGES
        ]
    pages = [
        st.Page(path, title=title, icon=icon, url_path=address or None, default=not address)
        for _, path, title, icon, address in allowed_pages(current)
    ]
    return pages or [st.Page("app_pages/no_role.py", title="No role", icon=":material/block:")]


def page_link(page: str, **options: Any) -> None:
    """``st.page_link`` to ``page`` when the viewer may open it; nothing otherwise."""
    current = viewer()
    if current is not None and any(path == page for _, path, *_ in allowed_pages(current)):
        st.page_link(page, **options)


def viewer() -> Viewer | None:
    """The signed-in user, or ``None`` for an anonymous visitor."""
    mode = auth_mode()
    if mode == "none":
        return Viewer(f"local:{getpass.getuser()}", ROLES, "Local operator")
    if mode == "oidc":
        if not st.user.is_logged_in:
            return None
        # Providers may assert the email in any case; the account (and so the audit trail and
        # who registered a trial) is always the lower-cased one.
        email = str(st.user.get("email") or "").strip().lower()
        user = Accounts(home()).get(email) if email else None
        name = str(st.user.get("name") or email)
        if email and not st.session_state.get(OIDC_LOGIN_RECORDED):
            AuditLog(home()).record(email, "login", email, {"via": "oidc"})
            st.session_state[OIDC_LOGIN_RECORDED] = True  # once per browser session
        return Viewer(email, user.roles if user else (), name)
    return st.session_state.get(SESSION_KEY)


def require_page(action: str) -> Viewer:
    """Stop the page unless someone is signed in with a role that may ``action``."""
    current = viewer()
    if current is None:
        st.warning("Sign in to see this page.")
        st.stop()
    try:
        require(current.roles, action)
    except Forbidden as refusal:
        st.error(f"Not allowed: {refusal}. Ask an administrator for the role.")
        st.stop()
    return current


def sign_in(username: str, password: str) -> Viewer | None:
    """Check the password against the accounts store (the attempt is audited either way)."""
    user = Accounts(home()).authenticate(username.strip().lower(), password)
    if user is None:
        return None
    signed_in = Viewer(user.username, user.roles, user.display_name or user.username)
    st.session_state[SESSION_KEY] = signed_in
    return signed_in


def sign_out() -> None:
    current = viewer()
    if current is not None and current.username:  # an OIDC identity without email has none
        AuditLog(home()).record(current.username, "logout")
    if auth_mode() == "oidc":
        st.logout()
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(OIDC_LOGIN_RECORDED, None)


def show_identity(current: Viewer) -> None:
    """The sidebar's who-am-I, with sign-out; in ``none`` mode a banner says login is off."""
    with st.sidebar:
        st.caption(f"Signed in as **{current.display_name}** ({current.role_text})")
        if auth_mode() != "none" and st.button("Sign out", key="sign_out"):
            sign_out()
            if auth_mode() == "oidc":  # st.logout queued a redirect that a rerun would drop
                st.stop()
            st.rerun()
    if auth_mode() == "none":
        st.warning(
            "Login is off (LIVINGLAB_AUTH=none): anyone who can open this address acts as the "
            "local operator with every role. Use it only on a single-user machine.",
            icon=":material/lock_open:",
        )
