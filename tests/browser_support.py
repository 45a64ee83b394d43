"""What the browser tests share: Debian's Chromium driven by Playwright, servers started on
127.0.0.1 and waited for, and screenshots saved as test artifacts.

Loaded as a plugin by tests/conftest.py, so that its ``browser`` and ``page`` fixtures serve
every browser test module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import PROJECT

ARTIFACTS = PROJECT / "test-artifacts"
STARTUP_SECONDS = 120


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (apt-get install)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(
    url: str,
    server: subprocess.Popen[bytes],
    path: str = "/_stcore/health",
    name: str = "the app",
) -> None:
    """Wait until ``url + path`` answers (HTTP 200), failing if ``server`` exits first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{name} exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{name} did not answer at {url} within {STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Wait until the script has finished running, then save the whole page."""
    expect(
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    ).to_have_count(1, timeout=60_000)
    page.wait_for_timeout(500)  # let charts draw
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"{name}.png"), full_page=True)


def start_app(
    home: Path, port: int, auth: str, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """The app served from store ``home`` on 127.0.0.1:``port`` with login mode ``auth``."""
    environment = os.environ | {
        "LIVINGLAB_HOME": str(home),
        "LIVINGLAB_AUTH": auth,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    environment.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(PROJECT / "app.py"),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            *extra,
        ],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
