"""Register page: a pilot owner fills in a trial's spec, checks its power, previews it, locks it."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from app_pages.register_data import default_data_dir, home, load_history, load_pilots
from experiments.registration import (
    FIELDS,
    GENERAL,
    FormCheck,
    History,
    MetricChoice,
    PilotOption,
    TrialForm,
    arm_sizes,
    baseline,
    check_form,
    check_text,
    count_periods,
    method_option_defaults,
    method_summaries,
    power_check,
    power_curve_figure,
    power_design,
    register_form,
    register_text,
    split_names,
    table_pilots,
)
from experiments.spec import CALENDAR_EXCLUSIONS, SCHEDULED_BY_DAY
from livinglab.errors import LivingLabError

ROLE_CHOICES = ("", "primary", "secondary", "guardrail")
CORRECTION_CHOICES = ("holm", "bh", "none")
STAGGERED = "A date per treated name (staggered rollout)"
SINGLE = "One date for every treated name"

slots: dict[str, Any] = {}


def slot(field: str) -> None:
    """A place beside ``field`` for its error, filled once the whole form has been read."""
    slots[field] = st.empty()


def registered_message(trial_id: str, spec_hash: str, new: bool) -> str:
    state = "is now registered and locked" if new else "is already registered and locked"
    return (
        f"Trial `{trial_id}` {state}. Content hash: `{spec_hash}`. The spec can no longer "
        f"change; see it on the [Trial page](/trial?id={trial_id})."
    )


def history_section(pilot: PilotOption) -> History | None:
    default = default_data_dir(pilot.id)
    folder = st.text_input(
        "Historical data folder",
        value=str(default) if default else "",
        key=f"reg_{pilot.id}_data_dir",
        help="The folder holding the pilot's raw files. It lists the units arms can be "
        "assigned by and feeds the power calculator. The demo's data is the default.",
    )
    if not folder.strip():
        st.caption(
            "No data folder: type the arms by hand, and name a folder with the pilot's raw "
            "files to get unit lists and a power calculation."
        )
        return None
    try:
        history = load_history(pilot.id, folder.strip())
    except LivingLabError as error:
        st.warning(f"{error}. You can still type the arms by hand.")
        return None
    st.caption(
        f"Read {history.units.height} {pilot.unit_of_analysis}(s) with data from "
        f"{history.first_day} to {history.last_day}."
    )
    return history


def arms_section(pilot: PilotOption, history: History | None) -> dict[str, Any]:
    st.subheader("Arms")
    attributes = history.attributes() if history else {}
    prefix = f"reg_{pilot.id}"
    if attributes:
        assigned_by = st.selectbox(
            "Arms assigned by",
            [*attributes, SCHEDULED_BY_DAY],
            index=None,
            key=f"{prefix}_assigned_by",
            placeholder="Choose what was assigned to treatment",
            format_func=lambda name: {
                SCHEDULED_BY_DAY: "day (switchback: arms are service days)",
                "unit": f"unit (each {pilot.unit_of_analysis} singly)",
            }.get(name, name),
        )
    else:
        assigned_by = st.text_input(
            "Arms assigned by",
            key=f"{prefix}_assigned_by_text",
            help='A unit attribute such as "route", "unit" for single units, or "day" for a '
            "switchback schedule.",
        )
    slot("arms.assigned_by")
    assigned_by = assigned_by or ""
    switchback = assigned_by == SCHEDULED_BY_DAY
    left, right = st.columns(2)
    arms = {}
    for column, arm in ((left, "treated"), (right, "control")):
        with column:
            label = arm.capitalize()
            if switchback:
                text = st.text_area(
                    f"{label} service days",
                    key=f"{prefix}_{arm}_days",
                    placeholder="2026-06-01, 2026-06-02, …",
                    help="YYYY-MM-DD, separated by commas, spaces or new lines",
                )
                arms[arm] = split_names(text, days=True)
            elif assigned_by in attributes:
                arms[arm] = tuple(
                    st.multiselect(
                        f"{label} ({assigned_by})",
                        attributes[assigned_by],
                        key=f"{prefix}_{arm}_{assigned_by}",
                    )
                )
            else:
                text = st.text_area(
                    f"{label} ({assigned_by or 'names'})",
                    key=f"{prefix}_{arm}_names",
                    help="One name per line, or separated by commas",
                )
                arms[arm] = split_names(text)
            slot(f"arms.{arm}")
    cluster_by = ""
    if not switchback:
        if attributes:
            cluster_by = st.selectbox(
                "Cluster standard errors on",
                ["", *attributes],
                key=f"{prefix}_cluster_by",
                format_func=lambda name: name or "what the arms are assigned by (usual)",
                help="Only when units were assigned singly although the arms are named by a "
                'group label, e.g. "unit" when each lamppost was assigned its phase.',
            )
        else:
            cluster_by = st.text_input(
                "Cluster standard errors on (optional)", key=f"{prefix}_cluster_by_text"
            )
        slot("arms.cluster_by")
    return {"assigned_by": assigned_by, "cluster_by": cluster_by or "", **arms}


def timing_section(pilot: PilotOption, treated: tuple[str, ...]) -> dict[str, Any]:
    st.subheader("Timing")
    mode = st.radio("How treatment starts", [SINGLE, STAGGERED], key="reg_start_mode")
    staggered = mode == STAGGERED
    start, by_unit = None, []
    if staggered:
        if not treated:
            st.caption("Choose the treated names above; each gets its own start date here.")
        columns = st.columns(3)
        for index, name in enumerate(treated):
            with columns[index % 3]:
                day = st.date_input(
                    f"{name} starts", value=None, key=f"reg_{pilot.id}_start_{name}"
                )
            by_unit.append((name, day))
        slot("treatment.start_by_unit")
    else:
        start = st.date_input("Treatment start (first treated day)", value=None, key="reg_start")
        slot("treatment.start")
    windows = {}
    for name, label in (("pre", "Before window"), ("post", "After window")):
        st.markdown(f"**{label}** ({'ends before' if name == 'pre' else 'starts at'} the start)")
        first_col, last_col = st.columns(2)
        first = first_col.date_input("First day", value=None, key=f"reg_{name}_first")
        last = last_col.date_input("Last day", value=None, key=f"reg_{name}_last")
        windows[name] = (first, last)
        slot(f"windows.{name}")
    return {"staggered": staggered, "start": start, "start_by_unit": tuple(by_unit), **windows}


def metrics_section(pilot: PilotOption) -> tuple[MetricChoice, ...]:
    st.subheader("Metrics")
    st.caption(
        "Exactly one primary metric. Guardrails must not get worse by more than their margin."
    )
    choices = []
    for metric in pilot.metrics:
        key = f"reg_{pilot.id}_metric_{metric.name}"
        name_col, role_col, margin_col, type_col = st.columns([3, 2, 2, 2])
        name_col.markdown(f"**{metric.label}**  \n`{metric.name}`, {metric.unit}")
        role = role_col.selectbox(
            "Role",
            ROLE_CHOICES,
            index=ROLE_CHOICES.index(metric.default_role),
            key=f"{key}_role",
            format_func=lambda r: r or "not in this trial",
        )
        margin, margin_type = None, "absolute"
        if role == "guardrail":
            margin_type = type_col.selectbox(
                "Margin is", ("absolute", "relative"), key=f"{key}_margin_type"
            )
            margin = margin_col.number_input(
                f"Margin ({metric.unit})" if margin_type == "absolute" else "Margin (fraction)",
                value=None,
                key=f"{key}_margin",
                help="How much worse the metric may get before the guardrail fails",
            )
        slot(f"metrics.{metric.name}")
        choices.append(MetricChoice(metric.name, role, margin, margin_type))
    slot("metrics")
    return tuple(choices)


def analysis_section() -> dict[str, Any]:
    st.subheader("Analysis plan")
    summaries = method_summaries()
    method = st.selectbox(
        "Planned method",
        list(summaries),
        index=None,
        key="reg_method",
        placeholder="Choose the registered analysis method",
        format_func=lambda name: f"{name}: {summaries[name]}",
    )
    slot("planned_method")
    options = ""
    if method:
        defaults = ", ".join(
            f"{name} = {value!r}" for name, value in method_option_defaults(method).items()
        )
        options = st.text_area(
            "Method options (optional)",
            key="reg_options",
            placeholder='design = "cluster"',
            help=f"One `option = value` per line. Options of {method} and defaults: {defaults}",
        )
        slot("analysis.options")
    robustness = st.multiselect(
        "Robustness checks: other methods run on the primary metric",
        [name for name in summaries if name != method],
        key="reg_robustness",
    )
    slot("analysis.robustness")
    left, right = st.columns(2)
    exclude = left.multiselect(
        "Days left out of the analysis", CALENDAR_EXCLUSIONS, key="reg_exclude_days"
    )
    with left:
        slot("analysis.exclude_days")
    adjust = right.multiselect(
        "Days adjusted for (before/after method only)", CALENDAR_EXCLUSIONS, key="reg_adjust_for"
    )
    with right:
        slot("analysis.adjust_for")
    mde_col, alpha_col, power_col, testing_col = st.columns(4)
    with mde_col:
        mde = st.number_input(
            "Minimum detectable effect",
            value=None,
            step=0.01,
            key="reg_mde",
            help="Relative change of the primary metric: 0.20 is a 20% change",
        )
        slot("mde")
    with alpha_col:
        alpha = st.number_input("Test level (alpha)", value=0.05, step=0.01, key="reg_alpha")
        slot("alpha")
    with power_col:
        power = st.number_input("Target power", value=0.8, step=0.05, key="reg_power")
        slot("power")
    with testing_col:
        testing = st.selectbox(
            "Multiple-testing correction",
            CORRECTION_CHOICES,
            key="reg_multiple_testing",
            help="Across primary and secondary metrics: Holm, Benjamini-Hochberg, or none",
        )
        slot("multiple_testing")
    return {
        "planned_method": method or "",
        "options": options,
        "robustness": tuple(robustness),
        "exclude_days": tuple(exclude),
        "adjust_for": tuple(adjust),
        "mde": mde,
        "alpha": alpha,
        "power": power,
        "multiple_testing": testing,
    }


def power_section(pilot: PilotOption, history: History | None, form: TrialForm) -> None:
    st.subheader("Power and minimum detectable effect")
    primary = next((m for m in form.metrics if m.role == "primary"), None)
    missing = [
        what
        for what, absent in (
            ("a historical data folder", history is None),
            ("a primary metric", primary is None),
            ("the planned method", not form.planned_method),
            ("what the arms are assigned by", not form.assigned_by),
        )
        if absent
    ]
    if missing or history is None or primary is None:
        st.info(f"To compute power, give {', '.join(missing)} above.")
        return
    definition = next(m for m in pilot.metrics if m.name == primary.name)
    switchback = form.assigned_by == SCHEDULED_BY_DAY
    design = power_design(form.planned_method, switchback)
    start = form.planned_start()
    level, treated_size, control_size = arm_sizes(history, form)
    try:
        base = baseline(history, primary.name, before=start, assigned_by=level)
    except LivingLabError as error:
        st.warning(str(error))
        return
    averaged = (
        f", averaged per {base.level} and {definition.time_grain}" if base.level != "unit" else ""
    )
    st.caption(
        f"History of **{definition.label}** before {start or 'the end of the data'}: "
        f"{base.n_units} {base.level}(s) × {base.n_periods} {definition.time_grain}s "
        f"({base.first_period} to {base.last_period}){averaged}."
    )
    st.dataframe(
        pl.DataFrame(
            {
                "Statistic": [
                    f"Mean ({definition.unit})",
                    f"Standard deviation ({definition.unit})",
                    "Intra-unit correlation (consecutive periods)",
                    f"Residual SD after unit and period means ({definition.unit})",
                    "Residual correlation (consecutive periods)",
                ],
                "Value": [
                    base.mean,
                    base.sd,
                    base.serial_correlation,
                    base.residual_sd,
                    base.residual_correlation,
                ],
            }
        ),
        hide_index=True,
        key="reg_baseline_table",
    )
    grain = definition.time_grain
    post_periods = pre_periods = 1
    if None not in form.post:
        post_periods = max(count_periods(form.post[0], form.post[1], grain), 1)  # type: ignore[arg-type]
    if None not in form.pre:
        pre_periods = max(count_periods(form.pre[0], form.pre[1], grain), 1)  # type: ignore[arg-type]
    noun = "service days" if switchback else f"{level}s"
    # The defaults follow the form; keying on them resets an input when the form changes.
    defaults = (treated_size or 2, control_size or 2, post_periods, pre_periods)
    columns = st.columns(4 if design == "did" else 3 if design != "switchback" else 2)
    n_treated = columns[0].number_input(
        f"Treated {noun}", min_value=1, value=defaults[0], key=f"reg_pw_treated_{defaults[0]}"
    )
    n_control = columns[1].number_input(
        f"Control {noun}", min_value=1, value=defaults[1], key=f"reg_pw_control_{defaults[1]}"
    )
    n_periods, n_pre = defaults[2], defaults[3]
    if design != "switchback":
        n_periods = columns[2].number_input(
            f"{grain.capitalize()}s after the start",
            min_value=1,
            value=defaults[2],
            key=f"reg_pw_periods_{defaults[2]}",
        )
    if design == "did":
        n_pre = columns[3].number_input(
            f"{grain.capitalize()}s before the start",
            min_value=1,
            value=defaults[3],
            key=f"reg_pw_pre_{defaults[3]}",
        )
    target = form.power if form.power and 0 < form.power < 1 else 0.8
    alpha = form.alpha if form.alpha and 0 < form.alpha < 1 else 0.05
    try:
        check = power_check(
            base,
            design,
            n_treated=int(n_treated),
            n_control=int(n_control),
            n_periods=int(n_periods),
            n_pre=int(n_pre),
            alpha=alpha,
            power=target,
            mde=form.mde,
        )
    except LivingLabError as error:
        st.warning(f"No power calculation for this design: {error}")
        return
    left, right = st.columns(2)
    left.metric(
        f"Minimum detectable effect at {target:.0%} power",
        f"{check.mde_relative:.1%}",
        help=f"Formula: {check.method}",
        border=True,
    )
    left.caption(
        f"= {check.mde_absolute:.3g} {definition.unit} on a baseline mean of "
        f"{base.mean:.3g} {definition.unit}; two-sided test at alpha {alpha:g}."
    )
    if check.power_at_mde is None:
        right.info("Type the minimum detectable effect above to see the power at it.")
    else:
        right.metric(
            f"Power at your MDE of {form.mde:.0%}", f"{check.power_at_mde:.0%}", border=True
        )
        if check.power_at_mde < target:
            right.warning(
                f"Underpowered: a true {form.mde:.0%} change would be detected with probability "
                f"{check.power_at_mde:.0%}, below the target {target:.0%}. Add {noun} or periods, "
                "or register a larger MDE."
            )
        else:
            right.success(f"At least {target:.0%} power for a true {form.mde:.0%} change.")
    st.plotly_chart(
        power_curve_figure(base, check, target_power=target, mde=form.mde),
        key="reg_power_curve",
    )
    st.caption(
        f"Design `{design}` of evaluation.power: {check.method}. Assumes the history's variance "
        "holds after the start; the registered method may be more precise (CUPED, controls)."
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
    arms = arms_section(pilot, history)
    timing = timing_section(pilot, arms["treated"])
    metrics = metrics_section(pilot)
    analysis = analysis_section()
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
            registration, new = register_form(home(), form)
        except LivingLabError as error:
            st.error(f"Nothing was registered: {error}")
        else:
            st.success(registered_message(registration.spec.id, registration.spec_hash, new))
    elif check.registered_hash:
        st.success(registered_message(form.id.strip(), check.registered_hash, new=False))
    elif check.valid:
        st.caption("The spec is valid. Registering locks it: it cannot be changed afterwards.")


def upload_tab() -> None:
    st.caption(
        "For any pilot, including one declared by a data table: paste the spec or upload its "
        "file. The README's *Trial specs* section lists every field."
    )
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
    if st.button("Register and lock this spec", type="primary", key="reg_upload_submit"):
        try:
            registration, new = register_text(home(), text)
        except LivingLabError as error:
            st.error(f"Nothing was registered: {error}")
        else:
            st.success(registered_message(registration.spec.id, registration.spec_hash, new))


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
