"""Runs (``/runs?id=TRIAL_ID``): a trial's tracked runs, two of them side by side, and MLflow."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.analyse_data import (
    load_run_details,
    load_runs,
    tracking_location,
)
from app_pages.auth import page_link, require_page
from app_pages.data import home
from app_pages.trial_picker import choose_trial
from experiments.runs import (
    compare_runs,
    comparison_table,
    mlflow_run_url,
    mlflow_ui_base,
    mlflow_ui_command,
    run_label,
    runs_table,
)
from livinglab.errors import LivingLabError

SHOW = {"All runs": None, "Planned analyses": "planned", "Ad-hoc analyses": "adhoc"}

require_page("view_runs")
st.title("Runs")
st.caption(
    "Every analysis of a trial tracked in MLflow, newest first: planned analyses and the ad-hoc "
    "ones run on the Analyse page. Compare two runs to see what changed between them."
)

home_dir = home()
trial_id = choose_trial(
    home_dir,
    "runs_trial",
    "No trial is registered yet. Open the Portfolio page to set up the demo trials; their "
    "analyses then appear here.",
)

try:
    runs = load_runs(str(home_dir), trial_id)
except LivingLabError as error:
    st.error(f"The runs could not be read: {error}")
    st.stop()
if not runs:
    st.info("This trial has no tracked runs yet. Run an analysis on the Analyse page.")
    page_link(
        "app_pages/analyse.py",
        label="Analyse this trial",
        icon=":material/query_stats:",
        query_params={"id": trial_id},
    )
    st.stop()

show = st.segmented_control("Show", list(SHOW), default="All runs", key="runs_show")
kind = SHOW.get(show or "All runs")
shown = [run for run in runs if kind is None or (run.tag("kind") or "planned") == kind]
st.caption(f"{len(shown)} of {len(runs)} run(s)")
st.dataframe(
    pl.DataFrame(runs_table(shown), strict=False),
    hide_index=True,
    key="runs_table",
    column_config={
        "Effect": st.column_config.NumberColumn(format="%.4g"),
        "95% CI low": st.column_config.NumberColumn(format="%.4g"),
        "95% CI high": st.column_config.NumberColumn(format="%.4g"),
        "p-value": st.column_config.NumberColumn(format="%.4f"),
    },
)

st.subheader("Compare two runs")
pair: tuple[str, str] | None = None
if len(runs) < 2:
    st.info("Only one run so far. Run another analysis on the Analyse page to compare.")
else:
    by_id = {run.run_id: run for run in runs}
    left, right = st.columns(2)
    first = left.selectbox(
        "Run A", list(by_id), index=1, format_func=lambda r: run_label(by_id[r]), key="runs_a"
    )
    second = right.selectbox(
        "Run B", list(by_id), index=0, format_func=lambda r: run_label(by_id[r]), key="runs_b"
    )
    if first == second:
        st.info("Run A and run B are the same run; pick two different ones.")
    else:
        pair = (first, second)
        try:
            comparison = compare_runs(
                load_run_details(str(home_dir), first), load_run_details(str(home_dir), second)
            )
        except LivingLabError as error:
            st.error(f"The runs could not be compared: {error}")
        else:
            st.markdown("\n".join(f"- {line}" for line in comparison.headline()))
            table = comparison_table(comparison)
            if table:
                st.dataframe(pl.DataFrame(table), hide_index=True, key="runs_compare")
            else:
                st.success("The two runs match in every tag, setting and number.")

st.subheader("Open in the MLflow UI")
uri, experiment_id = tracking_location(home_dir, trial_id)
command = mlflow_ui_command(uri)
base = mlflow_ui_base(uri)
if command:
    st.markdown(
        "The MLflow UI shows every run with its artifacts (estimate, panel, chart). It is a "
        "separate program: start it in a terminal on this machine, from the project's folder "
        f"(`.venv/bin/mlflow` if `mlflow` is not on the path), then open the links; it serves "
        f"{base} until you stop it with Ctrl+C."
    )
    st.code(command, language="bash")
else:
    st.markdown(f"Runs are tracked on the MLflow server at {base}, which serves its own UI.")
if experiment_id is not None:
    links = [f"[All runs of `{trial_id}`]({base}/#/experiments/{experiment_id})"]
    if pair is not None:
        links += [
            f"[Run A]({mlflow_run_url(experiment_id, pair[0], base)})",
            f"[Run B]({mlflow_run_url(experiment_id, pair[1], base)})",
        ]
    else:
        links.append(f"[Newest run]({mlflow_run_url(experiment_id, runs[0].run_id, base)})")
    st.markdown(" · ".join(links))

page_link(
    "app_pages/analyse.py",
    label="Analyse this trial",
    icon=":material/query_stats:",
    query_params={"id": trial_id},
)
