"""Portfolio: every registered trial, its stage, and what its latest analysis found."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.auth import page_link, require_page
from app_pages.badges import GUARDRAIL_BADGE, RECOMMENDATION_BADGE, VERDICT_BADGE
from app_pages.data import home, load_portfolio, store_is_empty
from experiments.demo import seed_demo
from experiments.portfolio import (
    STAGES,
    TrialSummary,
    filter_portfolio,
    forest_figure,
    portfolio_table,
)
from experiments.roles import can_view_trial
from experiments.summary import format_p
from livinglab.errors import LivingLabError

current = require_page("view_portfolio")
st.title("Portfolio")
st.caption(
    "Smart-city pilots under trial and what the latest analysis says about each one's primary "
    "metric and guardrails. Open a trial for its design, charts and all metrics."
)


def seed_with_progress() -> None:
    bar = st.progress(0.0, text="Preparing the demo portfolio…")
    seed_demo(home(), lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
    load_portfolio.clear()
    bar.empty()


def effect_line(trial: TrialSummary) -> str:
    if trial.effect is None:
        return f"**{trial.primary_metric}**: not estimated."
    relative = f" ({trial.relative_effect:+.0%})" if trial.relative_effect is not None else ""
    uncertainty = (
        f"95% CI {trial.ci_low:+.3g} to {trial.ci_high:+.3g} {trial.primary_unit}, "
        f"{format_p(trial.p_value)}"
        if trial.ci_low is not None and trial.ci_high is not None
        else "no interval: the design cannot measure its uncertainty"
    )
    return (
        f"**{trial.primary_metric}**: {trial.effect:+.3g} {trial.primary_unit}{relative}; "
        + uncertainty
    )


def trial_card(trial: TrialSummary) -> None:
    with st.container(border=True):
        st.subheader(trial.title)
        where = f" · {', '.join(trial.districts)}" if trial.districts else ""
        st.caption(f"{trial.pilot} · trial `{trial.trial_id}` · {trial.stage}{where}")
        if trial.decision is not None:
            record = trial.decision
            st.markdown(
                f"**Committee decision: {RECOMMENDATION_BADGE[record.decision]}** by "
                f"{record.decided_by} on {record.decided_at[:10]}"
                + (f": {record.reason}" if record.reason else "")
            )
        if trial.verdict is None:
            if trial.stage == "collecting":
                st.write(f"Collecting data until {trial.post_end}; no analysis yet.")
            else:
                st.write(f"Data collection ended {trial.post_end}; not analysed yet.")
        else:
            st.markdown(f"{VERDICT_BADGE[trial.verdict]} " + effect_line(trial))
            if trial.outcome is not None:
                st.markdown(
                    f"Recommendation {RECOMMENDATION_BADGE[trial.outcome.recommendation]} "
                    + "; ".join(trial.outcome.reasons)
                )
            status = trial.guardrail_status
            if status is not None:
                st.markdown(
                    f"{GUARDRAIL_BADGE[status]} "
                    + "; ".join(check.describe() for check in trial.guardrails)
                )
            if trial.data_flags:
                st.markdown(":orange-badge[Data health] " + "; ".join(trial.data_flags))
            if trial.last_analysed:
                st.caption(f"Last analysed {trial.last_analysed:%Y-%m-%d %H:%M} UTC")
        page_link(
            "app_pages/trial.py",
            label="Open trial",
            icon=":material/arrow_forward:",
            query_params={"id": trial.trial_id},
        )


try:
    empty = store_is_empty()
    if not empty:
        trials = [
            trial
            for trial in load_portfolio(str(home()))
            if can_view_trial(current.roles, current.username, trial.registered_by)
        ]
except LivingLabError as error:
    st.error(f"The portfolio could not be read: {error}. Check LIVINGLAB_HOME ({home()}).")
    st.stop()

if empty:
    st.info(
        "No trial is registered yet. Register one (Register page, or `livinglab register SPEC` "
        "in a terminal), or load the demo portfolio: five simulated pilots, registered and "
        "analysed, which takes about a minute."
    )
    if st.button("Load the demo portfolio", key="load_demo", icon=":material/play_arrow:"):
        try:
            seed_with_progress()
        except LivingLabError as error:
            st.error(f"The demo portfolio could not be set up: {error}")
            st.stop()
        st.rerun()
    st.stop()

pilot_column, district_column, stage_column = st.columns(3)
chosen_pilots = pilot_column.multiselect(
    "Pilot", sorted({t.pilot for t in trials}), key="filter_pilot", placeholder="All pilots"
)
chosen_districts = district_column.multiselect(
    "District",
    sorted({d for t in trials for d in t.districts}),
    key="filter_district",
    placeholder="All districts",
    help="Districts where the pilot runs (its treated sites), as read by the latest analysis.",
)
chosen_stages = stage_column.multiselect(
    "Stage", STAGES, key="filter_stage", placeholder="All stages"
)
shown = filter_portfolio(
    trials, pilots=chosen_pilots, districts=chosen_districts, stages=chosen_stages
)
if not shown:
    st.info(
        "No trial matches these filters. Remove a pilot, district or stage to see more; trials "
        "not yet analysed have no districts recorded, so a district filter hides them."
    )
    st.stop()

analysed = [t for t in shown if t.analysed]
counts = st.columns(5)
counts[0].metric("Trials shown", f"{len(shown)} of {len(trials)}")
counts[1].metric("Analysed", len(analysed))
counts[2].metric("Decided", sum(t.decision is not None for t in shown))
counts[3].metric("Guardrail breached", sum(t.guardrail_status == "breached" for t in shown))
counts[4].metric("Data health flagged", sum(bool(t.data_flags) for t in shown))

st.subheader("Primary effects across trials")
if analysed:
    st.plotly_chart(forest_figure(shown), key="forest_plot")
    st.caption(
        "Each diamond is the change in a trial's primary metric relative to what it would have "
        "been without the pilot; the bar is its 95% interval. The colour is the verdict, which "
        "accounts for whether higher or lower is better; hover for the effect in the metric's unit."
    )
else:
    st.info(
        "None of the trials shown has been analysed yet: run `livinglab evaluate SPEC --data DIR` "
        "to analyse one, and its effect appears here."
    )

st.dataframe(
    pl.DataFrame(portfolio_table(shown), strict=False),
    hide_index=True,
    key="portfolio_table",
    column_config={
        "Relative effect (%)": st.column_config.NumberColumn(format="%+.1f%%"),
        "p-value": st.column_config.NumberColumn(format="%.4f"),
    },
)

for trial in shown:
    trial_card(trial)
