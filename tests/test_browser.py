"""The app in a real browser: Playwright drives Debian's Chromium against a served demo portfolio.

The server is started on 127.0.0.1 for this module and stopped after it. Screenshots and the
measured load times go to ``test-artifacts/`` (kept by CI as artifacts); the times are reported,
never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from experiments.demo import seed_demo
from tests.conftest import PROJECT

ARTIFACTS = PROJECT / "test-artifacts"
STARTUP_SECONDS = 120
DEMO_TITLES = (
    "Sensor-driven collection of street litter bins",
    "Phased conversion to multi-functional smart LED lampposts",
    "Autonomous shuttle on the HKIA Car Park 4 - Chek Lap Kok South Road route",
)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (apt-get install)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served from a seeded demo store on 127.0.0.1, stopped after the module."""
    home = tmp_path_factory.mktemp("browser_home")
    environment = os.environ | {"LIVINGLAB_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    environment.pop("MLFLOW_TRACKING_URI", None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVINGLAB_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        seed_demo(home)
    port = free_port()
    server = subprocess.Popen(
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
        ],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the app server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the app did not answer at {url} within {STARTUP_SECONDS} s")


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


def portfolio_seconds(page: Page, url: str) -> float:
    """Seconds from navigation until every demo trial's title is on the portfolio."""
    started = time.perf_counter()
    page.goto(url)
    for title in DEMO_TITLES:  # each trial's card is headed by its title
        expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=60_000)
    return time.perf_counter() - started


def test_the_portfolio_shows_every_demo_trial_and_loads_warm(app_url: str, page: Page) -> None:
    cold = portfolio_seconds(page, app_url)
    warm = portfolio_seconds(page, app_url)
    screenshot(page, "portfolio")
    expect(page.get_by_text("Traceback")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    timings = {"portfolio_cold_seconds": round(cold, 2), "portfolio_warm_seconds": round(warm, 2)}
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"\nportfolio in the browser: cold {cold:.2f} s, warm {warm:.2f} s")


def test_a_trial_page_is_shareable_by_its_address(app_url: str, page: Page) -> None:
    page.goto(f"{app_url}/trial?id=smart-bins-2026")
    expect(
        page.get_by_role("heading", name="Sensor-driven collection of street litter bins")
    ).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Collections per bin-week (primary)")).to_be_visible()
    screenshot(page, "trial_smart_bins")
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_an_unknown_trial_address_explains_instead_of_failing(app_url: str, page: Page) -> None:
    page.goto(f"{app_url}/trial?id=no-such-trial")
    expect(page.get_by_text("unknown trial 'no-such-trial'")).to_be_visible(timeout=60_000)
    screenshot(page, "trial_unknown")


JOURNEY_ID = "bins-browser-journey"
JOURNEY_TITLE = "Browser journey: sensor-driven bins"


def test_register_analyse_then_find_the_trial_on_the_portfolio_and_its_page(
    app_url: str, page: Page
) -> None:
    spec = (
        (PROJECT / "experiments" / "trials" / "smart_bins.toml")
        .read_text()
        .replace('id = "smart-bins-2026"', f'id = "{JOURNEY_ID}"')
        .replace(
            'title = "Sensor-driven collection of street litter bins"',
            f'title = "{JOURNEY_TITLE}"',
        )
    )
    page.goto(f"{app_url}/register")
    page.get_by_role("tab", name="Upload or paste a TOML spec").click()
    page.get_by_label("Or paste the spec").fill(spec)
    page.get_by_label("Or paste the spec").press("Control+Enter")
    expect(page.get_by_text("Valid spec").first).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Register and lock this spec").click()
    expect(page.get_by_text("is now registered and locked").first).to_be_visible(timeout=60_000)
    screenshot(page, "register_pasted_spec")

    page.goto(f"{app_url}/analyse?id={JOURNEY_ID}")
    page.get_by_role("button", name="Run the registered analysis").click()
    # The success message, not the page's caption ("Every result is tracked ..."): the analysis
    # must have finished before we leave the page.
    done = page.locator('[data-testid="stAlert"]').filter(has_text="is tracked")
    expect(done).to_be_visible(timeout=240_000)
    screenshot(page, "analyse_registered")

    page.goto(app_url)
    expect(page.get_by_role("heading", name=JOURNEY_TITLE)).to_be_visible(timeout=60_000)
    screenshot(page, "portfolio_after_journey")
    page.goto(f"{app_url}/trial?id={JOURNEY_ID}")
    expect(page.get_by_role("heading", name=JOURNEY_TITLE)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Collections per bin-week (primary)")).to_be_visible()
    screenshot(page, "trial_after_journey")
    expect(page.get_by_text("Traceback")).to_have_count(0)
