"""Who sees what in the app: login, the role x page matrix with its refusals, owners' own trials,
and the committee signing off a decision, driven headlessly with Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.auth import SESSION_KEY, Viewer, allowed_pages
from experiments.accounts import Accounts
from experiments.audit import AuditLog
from experiments.decisions import DecisionLog
from experiments.spec import load_spec
from experiments.store import TrialStore
from tests.conftest import PROJECT
from tests.test_portfolio import build_store

APP = str(PROJECT / "app.py")
TIMEOUT = 120
PAGES = {
    "app_pages/portfolio.py": {"owner", "evaluator", "committee", "admin"},
    "app_pages/trial.py": {"owner", "evaluator", "committee", "admin"},
    "app_pages/register.py": {"owner"},
    "app_pages/analyse.py": {"evaluator"},
    "app_pages/runs.py": {"evaluator", "committee"},
    "app_pages/admin.py": {"admin"},
}
ROLES = ("owner", "evaluator", "committee", "admin")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Smart bins (registered by the OS user) and Kowloon East analysed, one user per role."""
    home = tmp_path_factory.mktemp("auth_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        build_store(home)
        accounts = Accounts(home)
        for role in ROLES:
            accounts.add(role, f"{role}-password", [role], actor="test")
        yield home


@pytest.fixture(autouse=True)
def login_required(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVINGLAB_AUTH", "accounts")
    monkeypatch.setenv("LIVINGLAB_HOME", str(store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def as_user(role: str, page: str | None = None, **query: str) -> AppTest:
    """The app signed in with one role, switched to ``page`` (which it must list)."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = Viewer(role, (role,), role.capitalize())
    for name, value in query.items():
        app.query_params[name] = value
    return (app.switch_page(page) if page else app).run()


def page_alone(role: str, page: str) -> AppTest:
    """``page`` run as its own script, as if its address were typed: its own check decides."""
    app = AppTest.from_file(str(PROJECT / page), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = Viewer(role, (role,), role.capitalize())
    return app.run()


def table_with(app: AppTest, column: str) -> Any:
    """The page's one table with ``column`` (tables without selection carry no key)."""
    (table,) = [t.value for t in app.dataframe if column in t.value.columns]
    return table


def texts(app: AppTest) -> str:
    return "\n".join(
        e.value for kind in ("markdown", "error", "info", "warning") for e in app.get(kind)
    )


def test_an_anonymous_visitor_sees_only_the_sign_in_form() -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Living Lab"]
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.dataframe  # no portfolio, no trial, nothing
    # a page addressed directly still checks on the server
    direct = AppTest.from_file(str(PROJECT / "app_pages/portfolio.py"), default_timeout=TIMEOUT)
    direct.run()
    assert "Sign in to see this page." in texts(direct)
    assert not direct.dataframe


def test_signing_in_checks_the_password_and_audits_the_attempt(store: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.text_input(key="login_username").input("committee")
    app.text_input(key="login_password").input("wrong-password")
    app.button[0].click().run()
    assert "Unknown username or wrong password" in app.error[0].value
    assert SESSION_KEY not in app.session_state  # nobody signed in
    app.text_input(key="login_username").input("committee")
    app.text_input(key="login_password").input("committee-password")
    app.button[0].click().run()
    assert not app.exception
    assert app.session_state[SESSION_KEY].roles == ("committee",)
    assert "Portfolio" in [t.value for t in app.title]
    actions = [(e.action, e.actor) for e in AuditLog(store).entries(limit=2)]
    assert actions == [("login", "committee"), ("login_failed", "committee")]


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_lists_only_the_pages_a_role_may_open(role: str) -> None:
    listed = {entry[1] for entry in allowed_pages(Viewer(role, (role,), role))}
    assert listed == {path for path, roles in PAGES.items() if role in roles}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_checks_the_role_on_the_server(role: str, page: str) -> None:
    if role in PAGES[page]:
        app = as_user(role, page)
        assert not app.exception
        assert not [e for e in app.error if e.value.startswith("Not allowed")]
    else:
        app = page_alone(role, page)
        assert not app.exception
        refused = [e.value for e in app.error if e.value.startswith("Not allowed")]
        assert len(refused) == 1
        assert f"you have: {role}" in refused[0]
        assert not app.dataframe


def test_a_pilot_owner_sees_only_the_trials_they_registered(store: Path) -> None:
    spec, text = load_spec(PROJECT / "experiments" / "trials" / "tabular.toml")
    TrialStore(store).register(spec, text, actor="owner")
    st.cache_data.clear()  # registered behind the app's back: drop its cached portfolio
    portfolio = as_user("owner")
    titles = [h.value for h in portfolio.subheader]
    assert spec.title in titles
    assert "Sensor-driven collection of street litter bins" not in titles
    other = as_user("owner", "app_pages/trial.py", id="smart-bins-2026")
    assert "registered by someone else" in other.error[0].value
    committee = as_user("committee")
    assert "Sensor-driven collection of street litter bins" in [
        h.value for h in committee.subheader
    ]


def test_the_committee_records_a_decision_on_the_trial_page(store: Path) -> None:
    evaluator = as_user("evaluator", "app_pages/trial.py", id="smart-bins-2026")
    assert "Record decision" not in [b.label for b in evaluator.button]
    assert "The registered rule recommends" in texts(evaluator)

    app = as_user("committee", "app_pages/trial.py", id="smart-bins-2026")
    assert not app.exception
    assert "**The registered rule recommends** :green-badge[Scale]" in texts(app)
    app.radio(key="decision_choice").set_value("iterate")
    app.button(key="FormSubmitter:decision_form-Record decision").click().run()
    assert "differs from the recommendation 'Scale'" in app.error[0].value
    assert DecisionLog(store).latest("smart-bins-2026") is None

    app.radio(key="decision_choice").set_value("scale")
    app.text_area(key="decision_reason").input("Cut collections by a third; no more overflow.")
    app.button(key="FormSubmitter:decision_form-Record decision").click().run()
    record = DecisionLog(store).latest("smart-bins-2026")
    assert record is not None
    assert (record.decision, record.decided_by, record.analysis) == ("scale", "committee", "a1")
    assert "**Committee decision:** :green-badge[Scale] by committee" in texts(app)
    assert AuditLog(store).entries(action="decide")[0].actor == "committee"
    portfolio = as_user("committee")
    assert "**Committee decision: :green-badge[Scale]** by committee" in texts(portfolio)


def test_the_administrator_manages_users_and_reads_the_audit_trail(store: Path) -> None:
    app = as_user("admin", "app_pages/admin.py")
    assert not app.exception
    users = table_with(app, "Username")
    assert set(ROLES) <= set(users["Username"])
    assert "hash chain is intact" in app.success[0].value
    app.text_input(key="new_username").input("chair")
    app.multiselect(key="new_roles").set_value(["committee"])
    app.text_input(key="new_password").input("chair-password")
    app.button(key="FormSubmitter:add_user-Add user").click().run()
    assert Accounts(store).get("chair").roles == ("committee",)
    audit = table_with(app, "Action")
    assert "user_add" in list(audit["Action"])
