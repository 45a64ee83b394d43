"""Sign-in through OpenID Connect, end to end: a real OpenID provider and the app, in Chromium.

A mock OpenID provider (``oidc-provider-mock``: discovery, authorize form, signed ID tokens,
end-session) and the app with ``LIVINGLAB_AUTH=oidc`` are started on 127.0.0.1 for this module
and stopped after it. The app's ``[auth]`` secrets live in a temporary file passed with
``--secrets.files``, so nothing is written into the repository.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from experiments.accounts import Accounts
from experiments.audit import AuditLog
from experiments.spec import load_spec
from experiments.store import TrialStore
from tests.browser_support import free_port, screenshot, start_app, wait_until_healthy
from tests.conftest import SMART_BINS_SPEC

TRIAL_TITLE = "Sensor-driven collection of street litter bins"
# The provider asserts the committee member's email in mixed case, as some directories do;
# the accounts store holds it lower-cased.
CHAIR = {"sub": "chair-001", "email": "Chair@Example.org", "name": "Chair Person"}
CHAIR_USERNAME = "chair@example.org"
STRANGER = "stranger@example.org"  # signs in at the provider but has no account
NO_EMAIL = {"sub": "kiosk-7", "name": "Kiosk 7"}  # the provider releases no email for it


@dataclass(frozen=True)
class Servers:
    app: str
    provider: str
    home: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The provider and the app (one registered trial, one committee account), then stopped."""
    home = tmp_path_factory.mktemp("oidc_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVINGLAB_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        spec, text = load_spec(SMART_BINS_SPEC)
        TrialStore(home).register(spec, text, actor="owner")
        Accounts(home).add(CHAIR_USERNAME, secrets.token_urlsafe(16), ["committee"], actor="admin")
    provider_port, app_port = free_port(), free_port()
    provider_url, app_url = f"http://127.0.0.1:{provider_port}", f"http://127.0.0.1:{app_port}"
    secrets_file = tmp_path_factory.mktemp("oidc_secrets") / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{app_url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "livinglab"\n'
        f'client_secret = "{secrets.token_urlsafe(16)}"\n'
        f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n'
    )
    provider = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(provider_port),
            "--user-claims",
            json.dumps(CHAIR),
            "--user-claims",
            json.dumps(NO_EMAIL),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = start_app(home, app_port, "oidc", ["--secrets.files", str(secrets_file)])
    try:
        wait_until_healthy(
            provider_url, provider, "/.well-known/openid-configuration", "the OpenID provider"
        )
        wait_until_healthy(app_url, app)
        yield Servers(app_url, provider_url, home)
    finally:
        for server in (app, provider):
            server.terminate()
        for server in (app, provider):
            server.wait(timeout=30)


def sign_in_at_provider(page: Page, servers: Servers, subject: str) -> None:
    """From the app's sign-in page, authorise ``subject`` on the provider's form."""
    page.goto(servers.app)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{servers.provider}/oauth2/authorize*", timeout=60_000)
    page.get_by_placeholder("sub").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{servers.app}/**", timeout=60_000)


def test_an_anonymous_visitor_sees_only_the_sign_in_button(servers: Servers, page: Page) -> None:
    page.goto(f"{servers.app}/trial?id=smart-bins-2026")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    expect(page.get_by_text(TRIAL_TITLE)).to_have_count(0)
    screenshot(page, "oidc_sign_in")


def test_a_committee_member_signs_in_at_the_provider_and_out_again(
    servers: Servers, page: Page
) -> None:
    sign_in_at_provider(page, servers, CHAIR["sub"])
    expect(page.get_by_text("Signed in as Chair Person (Steering committee)")).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_role("heading", name=TRIAL_TITLE)).to_be_visible(timeout=60_000)
    screenshot(page, "oidc_portfolio")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{servers.provider}/oauth2/end_session*", timeout=60_000)
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.reload()  # the identity cookie is gone, not just this session's copy
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
    logouts = AuditLog(servers.home).entries(action="logout", actor=CHAIR_USERNAME)
    assert len(logouts) == 1
    logins = AuditLog(servers.home).entries(action="login", actor=CHAIR_USERNAME)
    assert [entry.details for entry in logins] == [{"via": "oidc"}]  # once, not per page


def test_an_email_without_an_account_signs_in_but_gets_no_role(
    servers: Servers, page: Page
) -> None:
    sign_in_at_provider(page, servers, STRANGER)
    expect(page.get_by_role("heading", name="No role yet")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"Signed in as {STRANGER} (no role)")).to_be_visible()
    expect(page.get_by_text(TRIAL_TITLE)).to_have_count(0)
    expect(page.get_by_role("link", name="Portfolio")).to_have_count(0)
    screenshot(page, "oidc_no_role")


def test_an_identity_without_an_email_gets_no_role_and_can_sign_out(
    servers: Servers, page: Page
) -> None:
    sign_in_at_provider(page, servers, NO_EMAIL["sub"])
    expect(page.get_by_role("heading", name="No role yet")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Signed in as Kiosk 7 (no role)")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{servers.provider}/oauth2/end_session*", timeout=60_000)
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
