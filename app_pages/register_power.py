"""The Register page's power panel: the primary metric's history, the MDE and the power curve.

``power_section`` reads the form so far and the pilot's history, and shows the minimum detectable
effect of the planned design and the power at the owner's MDE. Only a function here: the page
(``app_pages/register.py``) calls it.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from experiments.registration import PilotOption, TrialForm
from experiments.registration_power import (
    History,
    arm_sizes,
    baseline,
    count_periods,
    power_check,
    power_curve_figure,
    power_design,
)
from experiments.spec import SCHEDULED_BY_DAY
from livinglab.errors import LivingLabError


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
