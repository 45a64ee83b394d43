"""The app in a real browser: Playwright drives Debian's Chromium against a served demo portfolio.

The server is started on 127.0.0.1 for this module and stopped after it. Screenshots and the
measured load times go to ``test-artifacts/`` (kept by CI as artifacts); the times are reported,
never asserted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from experiments.demo import seed_demo
from tests.browser_support import (
    ARTIFACTS,
    free_port,
    screenshot,
    start_app,
    wait_until_healthy,
)
from tests.conftest import PROJECT

DEMO_TITLES = (
    "Sensor-driven collection of street litter bins",
    "Phased conversion to multi-functional smart LED lampposts",
    "Autonomous shuttle on the HKIA Car Park 4 - Chek Lap Kok South Road route",
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served from a seeded demo store on 127.0.0.1, stopped after the module."""
    home = tmp_path_factory.mktemp("browser_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVINGLAB_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        seed_demo(home)
    port = free_port()
    server = start_app(home, port, "accounts")  # login required, as deployed
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def open_as(page: Page, url: str, username: str) -> None:
    """Open ``url`` and sign in there as a demo user (a new page load is a new session)."""
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(f"{username}-demo-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=60_000)


def every_demo_trial_shows(page: Page) -> None:
    for title in DEMO_TITLES:  # each trial's card is headed by its title
        expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=60_000)


def test_an_anonymous_visitor_sees_only_the_sign_in_form(app_url: str, page: Page) -> None:
    page.goto(f"{app_url}/trial?id=smart-bins-2026")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
    screenshot(page, "sign_in")
    expect(page.get_by_role("heading", name=DEMO_TITLES[0])).to_have_count(0)
    expect(page.get_by_role("link", name="Portfolio")).to_have_count(0)
    page.get_by_label("Username", exact=True).fill("committee")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Unknown username or wrong password")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name=DEMO_TITLES[0])).to_have_count(0)


def test_the_portfolio_shows_every_demo_trial_and_loads_warm(app_url: str, page: Page) -> None:
    started = time.perf_counter()
    open_as(page, app_url, "committee")
    every_demo_trial_shows(page)
    cold = time.perf_counter() - started
    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible(timeout=60_000)
    started = time.perf_counter()
    page.get_by_role("link", name="Portfolio").click()
    every_demo_trial_shows(page)
    warm = time.perf_counter() - started
    screenshot(page, "portfolio")
    expect(page.get_by_text("Traceback")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    timings = {"portfolio_cold_seconds": round(cold, 2), "portfolio_warm_seconds": round(warm, 2)}
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"\nportfolio in the browser: cold {cold:.2f} s, warm {warm:.2f} s")


def test_a_trial_page_is_shareable_by_its_address(app_url: str, page: Page) -> None:
    open_as(page, f"{app_url}/trial?id=smart-bins-2026", "committee")
    expect(
        page.get_by_role("heading", name="Sensor-driven collection of street litter bins")
    ).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Collections per bin-week (primary)")).to_be_visible()
    screenshot(page, "trial_smart_bins")
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_an_unknown_trial_address_explains_instead_of_failing(app_url: str, page: Page) -> None:
    open_as(page, f"{app_url}/trial?id=no-such-trial", "evaluator")
    expect(page.get_by_text("unknown trial 'no-such-trial'")).to_be_visible(timeout=60_000)
    screenshot(page, "trial_unknown")


FORM_ID = "bins-form-journey"
FORM_TITLE = "Form journey: sensor-driven bins"
PASTED_ID = "bins-pasted-journey"


def settled(page: Page) -> None:
    """Wait until Streamlit has rerun the script after the last input."""
    page.wait_for_timeout(300)  # the rerun starts a moment after the input
    expect(
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    ).to_have_count(1, timeout=120_000)


def type_into(page: Page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Control+Enter" if field.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    settled(page)


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in a select box or multiselect: type to filter, then click it.

    Streamlit's boxes are ARIA comboboxes; a click does not always open the list, typing does.
    A multiselect's list stays open after a pick and hides the rest of the page from the
    accessibility tree, so it is closed; a select box closes itself (Escape there would undo).
    """
    box = page.get_by_label(label, exact=True)
    expect(box).to_be_visible(timeout=60_000)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    if box.get_attribute("aria-expanded") == "true":
        box.press("Escape")
    settled(page)


def choose_date(page: Page, label: str, day: str, nth: int = 0) -> None:
    """Type ``day`` (YYYY-MM-DD) into the nth date field with this label.

    The field is a row of year, month and day segments that move on as digits arrive; the
    widget mirrors the date into a hidden native date input, which tells us it was taken.
    """
    widget = page.locator('[data-testid="stDateInput"]').filter(has_text=label).nth(nth)
    widget.get_by_role("spinbutton").first.click()
    page.keyboard.type(day.replace("-", ""))
    page.keyboard.press("Enter")
    settled(page)
    expect(widget.locator('input[type="date"]')).to_have_value(day)


def register_through_the_form(page: Page) -> None:
    type_into(page, "Trial id", FORM_ID)
    type_into(page, "Owner", "Smart bins pilot team")
    type_into(page, "Title", FORM_TITLE)
    type_into(page, "Hypothesis", "Sensor-driven collection cuts collections per bin-week.")
    choose(page, "Pilot", "Smart bins (smart_bins)")
    expect(page.get_by_text("Read 120 bin(s)")).to_be_visible(timeout=120_000)
    choose(page, "Arms assigned by", "route")
    for route in ("R02", "R03", "R05", "R08", "R10", "R11"):
        choose(page, "Treated (route)", route)
    for route in ("R01", "R04", "R06", "R07", "R09", "R12"):
        choose(page, "Control (route)", route)
    choose_date(page, "Treatment start (first treated day)", "2026-03-30")
    choose_date(page, "First day", "2026-01-05", nth=0)
    choose_date(page, "Last day", "2026-03-29", nth=0)
    choose_date(page, "First day", "2026-03-30", nth=1)
    choose_date(page, "Last day", "2026-07-05", nth=1)
    type_into(page, "Margin (overflow bin-days per 1,000 bin-days)", "15")
    method = page.get_by_label("Planned method", exact=True)
    method.click()
    method.fill("did")
    page.get_by_role("option").filter(has_text="did:").first.click()
    settled(page)
    type_into(page, "Minimum detectable effect", "0.2")
    screenshot(page, "register_form_filled")
    page.get_by_role("button", name="Register and lock", exact=True).click()
    registered = page.locator('[data-testid="stAlert"]').filter(
        has_text="is now registered and locked"
    )
    expect(registered).to_be_visible(timeout=60_000)
    expect(registered).to_contain_text(FORM_ID)
    screenshot(page, "register_form_locked")


def test_register_through_the_form_analyse_then_find_the_trial_everywhere(
    app_url: str, page: Page
) -> None:
    open_as(page, f"{app_url}/register", "owner")
    register_through_the_form(page)

    open_as(page, f"{app_url}/analyse?id={FORM_ID}", "evaluator")
    page.get_by_role("button", name="Run the registered analysis").click()
    # The success message, not the page's caption ("Every result is tracked ..."): the analysis
    # must have finished before we leave the page.
    done = page.locator('[data-testid="stAlert"]').filter(has_text="is tracked")
    expect(done).to_be_visible(timeout=240_000)
    screenshot(page, "analyse_registered")

    open_as(page, app_url, "committee")
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible(timeout=60_000)
    screenshot(page, "portfolio_after_journey")
    open_as(page, f"{app_url}/trial?id={FORM_ID}", "committee")
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Collections per bin-week (primary)")).to_be_visible()
    screenshot(page, "trial_after_journey")

    # The committee signs off: the registered rule's recommendation, with a reason.
    recommended = page.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text="The registered rule recommends"
    )
    expect(recommended).to_be_visible()
    page.get_by_label("Reason", exact=True).fill(
        "Accept the recommendation of the registered rule."
    )
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Committee decision:")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("by committee")).to_be_visible()
    screenshot(page, "trial_decided")
    page.get_by_role("link", name="Portfolio").click()
    stage = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=FORM_ID)
    expect(stage).to_contain_text("decided", timeout=60_000)
    screenshot(page, "portfolio_decided")
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_a_pasted_spec_registers_and_locks(app_url: str, page: Page) -> None:
    spec = (
        (PROJECT / "experiments" / "trials" / "smart_bins.toml")
        .read_text()
        .replace('id = "smart-bins-2026"', f'id = "{PASTED_ID}"')
    )
    open_as(page, f"{app_url}/register", "owner")
    page.get_by_role("tab", name="Upload or paste a TOML spec").click()
    page.get_by_label("Or paste the spec").fill(spec)
    page.get_by_label("Or paste the spec").press("Control+Enter")
    expect(page.get_by_text("Valid spec").first).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Register and lock this spec").click()
    registered = page.locator('[data-testid="stAlert"]').filter(
        has_text="is now registered and locked"
    )
    expect(registered).to_contain_text(PASTED_ID, timeout=60_000)
    screenshot(page, "register_pasted_spec")
