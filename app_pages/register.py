"""Register page: a pilot owner fills in a trial's spec, checks its power, previews it, locks it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_pages.auth import require_page
from app_pages.data import load_portfolio
from app_pages.register_data import home, load_pilots
from app_pages.register_form import (
    analysis_section,
    arms_section,
    history_section,
    metrics_section,
    timing_section,
)
from app_pages.register_power import power_section
from experiments.drafts import Drafts
from experiments.registration import (
    FIELDS,
    GENERAL,
    FormCheck,
    TrialForm,
    check_form,
    check_text,
    register_form,
    register_text,
    table_pilots,
)
from livinglab.errors import LivingLabError

slots: dict[str, Any] = {}


def slot(field: str) -> None:
    """A place beside ``field`` for its error, filled once the whole form has been read."""
    slots[field] = st.empty()


def announce(trial_id: str, spec_hash: str, new: bool) -> None:
    """Say the trial is registered; the portfolio's cached list must now include it."""
    load_portfolio.clear()
    st.success(registered_message(trial_id, spec_hash, new))


def registered_message(trial_id: str, spec_hash: str, new: bool) -> str:
    state = "is now registered and locked" if new else "is already registered and locked"
    return (
        f"Trial `{trial_id}` {state}. Content hash: `{spec_hash}`. The spec can no longer "
        f"change; see it on the [Trial page](/trial?id={trial_id})."
    )


def show_errors(check: FormCheck, form: TrialForm) -> list[str]:
    """Fill each field's slot with its error; returns the errors with no slot of their own."""
    attempted = st.session_state.get("reg_attempted", False)
    waiting = set() if attempted else form.blank_fields()
    unplaced = []
    for field, message in check.errors.items():
        if field in waiting:
            continue
        if field in slots:
            slots[field].error(message, icon=":material/error:")
        else:
            unplaced.append(f"{FIELDS.get(field, 'Form')}: {message}")
    return unplaced


def form_tab() -> None:
    pilots = {p.id: p for p in load_pilots()}
    st.subheader("Trial")
    id_col, owner_col = st.columns(2)
    with id_col:
        trial_id = st.text_input(
            "Trial id",
            key="reg_id",
            placeholder="e.g. smart-bins-2027",
            help="3-64 lowercase letters, digits, - and _; it names the trial for good",
        )
        slot("id")
    with owner_col:
        owner = st.text_input("Owner", key="reg_owner", placeholder="e.g. Smart bins pilot team")
        slot("owner")
    title = st.text_input("Title", key="reg_title")
    slot("title")
    hypothesis = st.text_area(
        "Hypothesis",
        key="reg_hypothesis",
        placeholder="What the pilot changes, by how much, and what must not get worse",
    )
    slot("hypothesis")
    st.subheader("Pilot and data")
    pilot_id = st.selectbox(
        "Pilot",
        list(pilots),
        index=None,
        key="reg_pilot",
        placeholder="Choose the pilot whose data the trial uses",
        format_func=lambda p: f"{pilots[p].name} ({p})",
    )
    slot("pilot")
    others = ", ".join(table_pilots())
    if others:
        st.caption(
            f"A pilot declared by a data table ({others}) is registered from its TOML spec: "
            "use the *Upload or paste a TOML spec* tab."
        )
    if pilot_id is None:
        st.info("Choose a pilot: its metrics and units fill the rest of the form.")
        return
    pilot = pilots[pilot_id]
    st.caption(pilot.description)
    history = history_section(pilot)
    arms = arms_section(pilot, history, slot)
    timing = timing_section(pilot, arms["treated"], slot)
    metrics = metrics_section(pilot, slot)
    analysis = analysis_section(slot)
    form = TrialForm(
        id=trial_id,
        pilot=pilot_id,
        title=title,
        owner=owner,
        hypothesis=hypothesis,
        metrics=metrics,
        **arms,
        **timing,
        **analysis,
    )
    power_section(pilot, history, form)
    check = check_form(form, home())
    st.subheader("Preview")
    st.code(check.text, language="toml")
    st.download_button(
        "Download the spec (TOML)",
        check.text,
        file_name=f"{form.id or 'trial'}.toml",
        mime="application/toml",
        key="reg_download",
    )
    slot(GENERAL)
    submitted = st.button("Register and lock", type="primary", key="reg_submit")
    if submitted:
        st.session_state["reg_attempted"] = True
    unplaced = show_errors(check, form)
    if unplaced:
        slots[GENERAL].error("\n\n".join(unplaced))
    if submitted and not check.valid:
        st.error(
            f"Nothing was registered: {len(check.errors)} field(s) need attention, marked above."
        )
    elif submitted:
        try:
            registration, new = register_form(home(), form, current.username)
        except LivingLabError as error:
            st.error(f"Nothing was registered: {error}")
        else:
            announce(registration.spec.id, registration.spec_hash, new)
    elif check.registered_hash:
        st.success(registered_message(form.id.strip(), check.registered_hash, new=False))
    elif check.valid:
        st.caption("The spec is valid. Registering locks it: it cannot be changed afterwards.")


def load_draft(drafts: Drafts, trial_id: str) -> None:
    draft = drafts.get(trial_id)
    if draft is not None:
        st.session_state["reg_paste"] = draft.text


def drafts_section(drafts: Drafts) -> None:
    """The signed-in owner's drafts: load one into the editor to change it."""
    mine = drafts.of(current.username)
    if not mine:
        return
    chosen = st.selectbox(
        f"Your drafts ({len(mine)})",
        [d.trial_id for d in mine],
        format_func=lambda trial_id: f"{trial_id} (saved {drafts.get(trial_id).saved_at})",  # type: ignore[union-attr]
        key="reg_draft_choice",
    )
    st.button(
        "Load the draft into the editor",
        key="reg_draft_load",
        on_click=load_draft,
        args=(drafts, chosen),
    )


def upload_tab() -> None:
    st.caption(
        "For any pilot, including one declared by a data table: paste the spec or upload its "
        "file. The README's *Trial specs* section lists every field. Save it as a draft to come "
        "back to it; only you can edit your drafts, until you register and lock them."
    )
    drafts = Drafts(home())
    drafts_section(drafts)
    uploaded = st.file_uploader("Spec file", type=["toml"], key="reg_upload")
    pasted = st.text_area("Or paste the spec", height=240, key="reg_paste")
    text = uploaded.getvalue().decode("utf-8") if uploaded is not None else pasted
    if not text.strip():
        return
    try:
        spec = check_text(text)
    except LivingLabError as error:
        st.error(f"{error}. Fix the spec and check again; nothing was registered.")
        return
    st.success(
        f"Valid spec `{spec.id}` for pilot `{spec.pilot}`: {spec.title}. Content hash "
        f"`{spec.content_hash()}`."
    )
    draft_column, register_column = st.columns(2)
    if draft_column.button("Save as draft", key="reg_draft_save"):
        try:
            drafts.save(text, current.username)
        except LivingLabError as error:
            st.error(f"Not saved: {error}")
        else:
            st.success(f"Draft `{spec.id}` saved; only you can see and edit it.")
    if register_column.button(
        "Register and lock this spec", type="primary", key="reg_upload_submit"
    ):
        try:
            registration, new = register_text(home(), text, current.username)
        except LivingLabError as error:
            st.error(f"Nothing was registered: {error}")
        else:
            draft = drafts.get(spec.id)
            if draft is not None and draft.owner == current.username:
                drafts.discard(spec.id, current.username)  # locked now: no longer a draft
            announce(registration.spec.id, registration.spec_hash, new)


current = require_page("register")
st.title("Register a trial")
st.caption(
    "Pre-register the trial before any results exist. Registration locks the spec under its "
    "content hash: it can never change afterwards, and a new design needs a new id."
)
fill, upload = st.tabs(["Fill in the form", "Upload or paste a TOML spec"])
with upload:
    upload_tab()
with fill:
    form_tab()
