"""Portfolio: every registered trial and what its latest analysis found for the primary metric."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.data import home, load_portfolio, store_is_empty
from experiments.demo import seed_demo
from experiments.summary import format_p
from livinglab.errors import LivingLabError

st.title("Portfolio")
st.caption(
    "Smart-city pilots under trial, and what the latest analysis says about each one's primary "
    "metric. Open a trial for its design, charts and all metrics."
)


def seed_with_progress() -> None:
    bar = st.progress(0.0, text="Preparing the demo portfolio…")
    seed_demo(home(), lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
    load_portfolio.clear()
    bar.empty()


try:
    if store_is_empty():
        st.info("The store is empty, so the demo portfolio is being set up. This runs once.")
        seed_with_progress()
    trials = load_portfolio(str(home()))
except LivingLabError as error:
    st.error(f"The portfolio could not be read: {error}")
    st.stop()

analysed = [t for t in trials if t.stage == "analysed"]
left, right = st.columns(2)
left.metric("Trials registered", len(trials))
right.metric("Trials analysed", len(analysed))

for trial in trials:
    with st.container(border=True):
        st.subheader(trial.title)
        st.caption(f"{trial.pilot} · trial `{trial.trial_id}` · {trial.stage}")
        if trial.effect is None:
            st.write("Registered; no analysis yet.")
        else:
            relative = (
                f" ({trial.relative_effect:+.0%})" if trial.relative_effect is not None else ""
            )
            uncertainty = (
                f"95% CI {trial.ci_low:+.3g} to {trial.ci_high:+.3g}, {format_p(trial.p_value)}"
                if trial.ci_low is not None and trial.ci_high is not None
                else "no interval: the design cannot measure its uncertainty"
            )
            st.markdown(
                f"**{trial.primary_metric}**: {trial.effect:+.3g} {trial.primary_unit}{relative}; "
                + uncertainty
            )
            if trial.last_analysed:
                st.caption(f"Last analysed {trial.last_analysed:%Y-%m-%d %H:%M} UTC")
        st.page_link(
            "app_pages/trial.py",
            label="Open trial",
            icon=":material/arrow_forward:",
            query_params={"id": trial.trial_id},
        )

if trials:
    table = pl.DataFrame(
        {
            "Trial": [t.trial_id for t in trials],
            "Pilot": [t.pilot for t in trials],
            "Stage": [t.stage for t in trials],
            "Primary metric": [t.primary_metric for t in trials],
            "Effect": [t.effect for t in trials],
            "95% CI low": [t.ci_low for t in trials],
            "95% CI high": [t.ci_high for t in trials],
            "p-value": [t.p_value for t in trials],
            "Last analysed (UTC)": [
                f"{t.last_analysed:%Y-%m-%d %H:%M}" if t.last_analysed else "" for t in trials
            ],
        },
        strict=False,
    )
    st.dataframe(table, hide_index=True, key="portfolio_table")
