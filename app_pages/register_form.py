"""The Register page's form sections: historical data, arms, timing, metrics, analysis plan.

Each section draws its widgets and returns what was typed, as ``TrialForm`` fields. ``slot`` is
the page's ``slot``: it keeps a place beside a field for that field's error, which the page fills
once the whole form has been read. Only functions here: the page (``app_pages/register.py``)
calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app_pages.register_data import default_data_dir, load_history
from experiments.registration import (
    MetricChoice,
    PilotOption,
    method_option_defaults,
    method_summaries,
    split_names,
)
from experiments.registration_power import History
from experiments.spec import CALENDAR_EXCLUSIONS, SCHEDULED_BY_DAY
from livinglab.errors import LivingLabError

ROLE_CHOICES = ("", "primary", "secondary", "guardrail")
CORRECTION_CHOICES = ("holm", "bh", "none")
STAGGERED = "A date per treated name (staggered rollout)"
SINGLE = "One date for every treated name"


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


def arms_section(
    pilot: PilotOption, history: History | None, slot: Callable[[str], None]
) -> dict[str, Any]:
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


def timing_section(
    pilot: PilotOption, treated: tuple[str, ...], slot: Callable[[str], None]
) -> dict[str, Any]:
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


def metrics_section(pilot: PilotOption, slot: Callable[[str], None]) -> tuple[MetricChoice, ...]:
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


def analysis_section(slot: Callable[[str], None]) -> dict[str, Any]:
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
