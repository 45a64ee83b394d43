"""The Register page, driven headlessly: fill in the form, preview, check power, lock the trial."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from experiments.drafts import Drafts
from experiments.registration import register_text
from experiments.store import TrialStore
from tests.conftest import PROJECT, SMART_BINS_SPEC

PAGE = str(PROJECT / "app_pages" / "register.py")
TIMEOUT = 300
TREATED = ["R02", "R03", "R05", "R08", "R10", "R11"]
CONTROL = ["R01", "R04", "R06", "R07", "R09", "R12"]
MARGIN_KEY = "reg_smart_bins_metric_overflow_per_1000_bin_days_margin"


@pytest.fixture
def store_with_data(home: Path, smart_bins_data: Path) -> Path:
    """An empty store whose demo-data folder holds simulated smart-bins files."""
    (home / "demo-data").mkdir(parents=True)
    (home / "demo-data" / "smart_bins").symlink_to(smart_bins_data)
    return home


def errors(app: AppTest) -> list[str]:
    return [str(e.value) for e in app.error]


def fill_smart_bins_form(app: AppTest, *, trial_id: str, margin: float | None) -> AppTest:
    app.selectbox(key="reg_pilot").select("smart_bins").run()
    app.text_input(key="reg_id").input(trial_id)
    app.text_input(key="reg_owner").input("Smart bins pilot team")
    app.text_input(key="reg_title").input("Sensor-driven collection, second wave")
    app.text_area(key="reg_hypothesis").input("Collections per bin-week fall by at least 20%.")
    app.selectbox(key="reg_smart_bins_assigned_by").select("route").run()
    app.multiselect(key="reg_smart_bins_treated_route").set_value(TREATED)
    app.multiselect(key="reg_smart_bins_control_route").set_value(CONTROL)
    app.date_input(key="reg_start").set_value(date(2026, 3, 30))
    app.date_input(key="reg_pre_first").set_value(date(2026, 1, 5))
    app.date_input(key="reg_pre_last").set_value(date(2026, 3, 29))
    app.date_input(key="reg_post_first").set_value(date(2026, 3, 30))
    app.date_input(key="reg_post_last").set_value(date(2026, 7, 5))
    app.selectbox(key="reg_method").select("randomized").run()
    if margin is not None:
        app.number_input(key=MARGIN_KEY).set_value(margin)
    app.text_area(key="reg_options").input('design = "cluster"')
    return app.number_input(key="reg_mde").set_value(0.2).run()


def test_an_owner_fills_the_form_previews_it_and_registers(store_with_data: Path) -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not app.exception
    assert "Choose a pilot" in app.info[0].value
    fill_smart_bins_form(app, trial_id="smart-bins-2027", margin=15.0)
    assert not app.exception
    assert errors(app) == []
    preview = app.code[0].value
    assert 'id = "smart-bins-2027"' in preview
    assert 'treated = ["R02", "R03", "R05", "R08", "R10", "R11"]' in preview
    assert "margin = 15.0" in preview
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {
        "Minimum detectable effect at 80% power",
        "Power at your MDE of 20%",
    }
    assert all(value.endswith("%") for value in metrics.values())
    assert any("12 route(s) × 12 weeks" in c.value for c in app.caption)
    assert TrialStore(store_with_data).ids() == []

    app.button(key="reg_submit").click().run()
    assert not app.exception
    registered = TrialStore(store_with_data).get("smart-bins-2027")
    message = app.success[0].value
    assert "is now registered and locked" in message
    assert registered.spec_hash in message
    assert registered.spec.primary.name == "collections_per_bin_week"


def test_an_invalid_field_shows_inline_and_nothing_is_registered(store_with_data: Path) -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    app.selectbox(key="reg_pilot").select("smart_bins").run()
    assert errors(app) == []  # blank fields wait for a submit attempt
    app.button(key="reg_submit").click().run()
    assert any(message.startswith("id: required") for message in errors(app))
    assert any("Nothing was registered" in message for message in errors(app))

    fill_smart_bins_form(app, trial_id="smart-bins-2027", margin=None)
    assert not app.exception
    assert [m for m in errors(app) if "margin" in m] == [
        "metrics[2].margin: a guardrail needs a positive non-inferiority margin (how much "
        "worse it may get)"
    ]
    app.button(key="reg_submit").click().run()
    assert "Nothing was registered: 1 field(s) need attention, marked above." in errors(app)
    assert not any("registered and locked" in s.value for s in app.success)
    assert TrialStore(store_with_data).ids() == []


def test_a_registered_id_with_different_content_is_refused(store_with_data: Path) -> None:
    demo, _ = register_text(store_with_data, SMART_BINS_SPEC.read_text())
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    fill_smart_bins_form(app, trial_id="smart-bins-2026", margin=15.0)
    assert any(
        "trial 'smart-bins-2026' is already registered with a different spec" in message
        for message in errors(app)
    )
    app.button(key="reg_submit").click().run()
    assert any("Nothing was registered" in message for message in errors(app))
    assert TrialStore(store_with_data).get("smart-bins-2026").spec_hash == demo.spec_hash


def test_a_pasted_spec_is_checked_then_registered(home: Path) -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    app.text_area(key="reg_paste").input('id = "x"\npilot = ').run()
    assert any("not valid TOML" in message for message in errors(app))
    text = (PROJECT / "experiments" / "trials" / "tabular.toml").read_text()
    app.text_area(key="reg_paste").input(text).run()
    assert not app.exception
    assert "Valid spec `parking-meters-2026` for pilot `tabular`" in app.success[0].value
    app.button(key="reg_upload_submit").click().run()
    registered = TrialStore(home).get("parking-meters-2026")
    assert any(
        "is now registered and locked" in s.value and registered.spec_hash in s.value
        for s in app.success
    )


def test_an_owner_saves_a_draft_loads_it_back_and_registering_ends_it(home: Path) -> None:
    text = (PROJECT / "experiments" / "trials" / "tabular.toml").read_text()
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    app.text_area(key="reg_paste").input(text).run()
    app.button(key="reg_draft_save").click().run()
    assert any("Draft `parking-meters-2026` saved" in s.value for s in app.success)
    fresh = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()  # a later visit
    assert fresh.selectbox(key="reg_draft_choice").value == "parking-meters-2026"
    fresh.button(key="reg_draft_load").click().run()
    assert fresh.text_area(key="reg_paste").value == text
    fresh.button(key="reg_upload_submit").click().run()
    assert TrialStore(home).ids() == ["parking-meters-2026"]
    assert Drafts(home).get("parking-meters-2026") is None
