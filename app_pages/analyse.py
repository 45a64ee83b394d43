"""Analyse (``/analyse?id=TRIAL_ID``): run ad-hoc analyses of a trial and re-run past ones.

Every (metric, method) becomes a tracked MLflow run tagged ``kind = adhoc``; the committee's
pages keep showing the planned analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import streamlit as st

from app_pages.analyse_data import (
    clear_runs,
    load_run_details,
    load_runs,
    load_suggestion,
    registration,
)
from app_pages.auth import page_link, require_page
from app_pages.data import home, load_portfolio
from app_pages.trial_data import load_report
from app_pages.trial_picker import choose_trial
from experiments.adhoc import (
    AdhocAnalysis,
    Progress,
    default_data_dir,
    default_options,
    format_options,
    method_option_names,
    method_summaries,
    parse_options,
    rerun,
    rerun_request,
    run_analysis,
)
from experiments.analysis import evaluate_trial
from experiments.charts import counterfactual_figure
from experiments.runs import run_label
from experiments.store import Registration
from experiments.summary import effect_sentence, format_p
from experiments.tracking import Tracker
from livinglab.errors import LivingLabError

LAST = "analyse_last_analysis"

current = require_page("analyse")
st.title("Analyse")
st.caption(
    "Run analyses beyond the registered plan: other metrics, methods, a narrower window or other "
    "options. Every result is tracked as an MLflow run marked *ad hoc*; the Portfolio and Trial "
    "pages keep showing the planned analysis."
)


def with_progress(work: str, run: Callable[[Progress], AdhocAnalysis]) -> None:
    """Call ``run(progress)`` with a progress bar; show a user error instead of failing."""
    bar = st.progress(0.0, text=work)
    try:
        analysis = run(lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
    except LivingLabError as error:
        bar.empty()
        st.error(f"The analysis could not run: {error}")
        return
    bar.empty()
    clear_runs()
    st.session_state[LAST] = analysis


def show_analysis(analysis: AdhocAnalysis, chosen: Registration) -> None:
    spec = chosen.spec
    st.subheader("Results")
    st.caption(
        f"Ad-hoc analysis `{analysis.analysis_id}` · window {analysis.window[0]} to "
        f"{analysis.window[1]} · {len(analysis.results)} tracked run(s)"
    )
    for deviation in analysis.deviations:
        st.warning(f"Deviates from the registration: {deviation}.")
    rows = []
    for result in analysis.results:
        definition, estimate = result.definition, result.estimate
        heading = f"**{definition.label}** ({result.role}) · `{result.method}`"
        if estimate is None:
            st.markdown(f"{heading}: failed: {result.error}")
        else:
            st.markdown(f"{heading}: {effect_sentence(estimate, definition)}")
            for warning in estimate.warnings:
                st.caption(f"⚠️ {warning}")
        rows.append(
            {
                "Metric": definition.label,
                "Role": result.role,
                "Method": result.method,
                "Effect": estimate.effect if estimate else None,
                "95% CI low": estimate.ci_low if estimate else None,
                "95% CI high": estimate.ci_high if estimate else None,
                "p-value": format_p(estimate.p_value) if estimate else "",
                "Status": estimate.status if estimate else "failed",
                "Unit": definition.unit,
                "Run id": result.run_id,
            }
        )
    st.dataframe(pl.DataFrame(rows, strict=False), hide_index=True, key="analyse_results")
    charts = [r for r in analysis.results if r.estimate and r.estimate.details.get("series")]
    if charts:
        with st.expander("Observed against counterfactual"):
            for result in charts:
                figure = counterfactual_figure(
                    result.estimate.details["series"],  # type: ignore[union-attr]
                    title=f"{result.definition.label} · {result.method}",
                    unit=result.definition.unit,
                    treatment_start=spec.common_start() or spec.post[0],
                )
                st.plotly_chart(figure, key=f"analyse_chart_{result.run_id}")
    page_link(
        "app_pages/runs.py",
        label="Compare with earlier runs",
        icon=":material/history:",
        query_params={"id": spec.id},
    )


home_dir = home()
trial_id = choose_trial(
    home_dir,
    "analyse_trial",
    "No trial is registered yet. Open the Portfolio page to set up the demo trials, or "
    "register a trial with `livinglab register SPEC`; then come back here to analyse it.",
)
try:
    chosen = registration(home_dir, trial_id)
except LivingLabError as error:
    st.error(str(error))
    st.stop()
spec = chosen.spec
st.caption(f"{spec.title} · planned method `{spec.planned_method}`")

data_dir = st.text_input(
    "Data directory",
    value=str(default_data_dir(home_dir, spec)),
    key=f"analyse_data_dir_{trial_id}",
    help="The folder holding the trial's raw files. By default, the demo data of its pilot.",
).strip()
if not Path(data_dir).is_dir():
    st.warning(
        f"`{data_dir}` is not a folder on this machine. Type the folder holding the trial's raw "
        "files, or run `livinglab demo` to write the demo data to the default one."
    )
    st.stop()

try:
    suggestion: dict[str, object] | None = load_suggestion(str(home_dir), trial_id, data_dir)
except LivingLabError as error:
    suggestion = None
    st.warning(f"No method can be suggested for this data: {error}")

methods = method_summaries()
tab_planned, tab_new, tab_rerun = st.tabs(
    ["Registered analysis", "New analysis", "Re-run a past run"]
)

with tab_planned:
    st.markdown(
        f"Runs the registration as locked: `{spec.planned_method}` on every registered metric, "
        f"{', '.join(f'`{m}`' for m in spec.analysis.robustness) or 'no'} robustness "
        "check(s) on the primary metric, diagnostics and the multiple-testing correction. "
        "Its results become what the Portfolio and Trial pages show."
    )
    if st.button("Run the registered analysis", type="primary", key="analyse_planned"):
        with st.spinner("Running the registered analysis: reading the data, estimating, tracking…"):
            try:
                planned = evaluate_trial(
                    chosen, Path(data_dir), Tracker(home_dir), actor=current.username
                )
            except LivingLabError as error:
                st.error(f"The analysis could not run: {error}")
                st.stop()
        clear_runs()
        load_portfolio.clear()
        load_report.clear()
        st.success(f"Analysis `{planned.analysis_id}` is tracked.")
        for result in planned.results:
            st.markdown(
                f"- **{result.definition.label}** ({result.role}): "
                f"{effect_sentence(result.estimate, result.definition)}"
            )
        page_link(
            "app_pages/trial.py",
            label="Open the trial page",
            icon=":material/arrow_forward:",
            query_params={"id": trial_id},
        )

with tab_new:
    metrics = st.multiselect(
        "Metrics",
        [m.name for m in spec.metrics],
        default=[spec.primary.name],
        format_func=lambda name: f"{name} ({next(m.role for m in spec.metrics if m.name == name)})",
        key=f"analyse_metrics_{trial_id}",
    )
    suggested = str(suggestion["primary"]) if suggestion else spec.planned_method
    if suggestion:
        robustness = ", ".join(f"`{m}`" for m in suggestion["robustness"]) or "none"  # type: ignore[attr-defined]
        reasons = "\n".join(f"- {reason}" for reason in suggestion["reasons"])  # type: ignore[attr-defined]
        st.info(
            f"**Suggested method: `{suggested}`** (robustness checks: {robustness}), "
            f"preselected below. Why:\n{reasons}"
        )
    chosen_methods = st.multiselect(
        "Methods",
        list(methods),
        default=[suggested],
        format_func=lambda name: f"{name}: {methods[name]}",
        key=f"analyse_methods_{trial_id}",
    )
    window = st.date_input(
        "Window (first and last day)",
        value=spec.window,
        min_value=spec.pre[0],
        max_value=spec.post[1],
        key=f"analyse_window_{trial_id}",
        help=(
            f"Registered: before {spec.pre[0]} to {spec.pre[1]}, after {spec.post[0]} to "
            f"{spec.post[1]}. A narrower window is recorded as a deviation."
        ),
    )
    option_texts = {
        method: st.text_input(
            f"Options for `{method}`",
            value=format_options(default_options(spec, method), sep=", "),
            key=f"analyse_options_{trial_id}_{method}",
            help="name = value, separated by commas. Available: "
            + (", ".join(method_option_names(method)) or "none"),
        )
        for method in chosen_methods
    }
    seed = st.number_input("Seed", min_value=0, value=0, step=1, key=f"analyse_seed_{trial_id}")
    if st.button("Run analysis", type="primary", key="analyse_run"):
        if not metrics or not chosen_methods:
            st.error("Choose at least one metric and one method.")
        elif not isinstance(window, tuple) or len(window) != 2:
            st.error("Pick both the first and the last day of the window.")
        else:
            try:
                options = {
                    method: parse_options(text, method, alpha=spec.alpha)
                    for method, text in option_texts.items()
                }
            except LivingLabError as error:
                st.error(str(error))
            else:
                first, last = window
                with_progress(
                    "Starting the analysis…",
                    lambda progress: run_analysis(
                        chosen,
                        Path(data_dir),
                        Tracker(home_dir),
                        metrics,
                        chosen_methods,
                        window=(first, last),
                        options=options,
                        seed=int(seed),
                        progress=progress,
                        actor=current.username,
                    ),
                )

with tab_rerun:
    past = [run for run in load_runs(str(home_dir), trial_id) if run.tag("metric")]
    if not past:
        st.info("This trial has no tracked runs yet. Run an analysis first.")
    else:
        by_id = {run.run_id: run for run in past}
        picked = st.selectbox(
            "Past run",
            list(by_id),
            format_func=lambda run_id: run_label(by_id[run_id]),
            key=f"analyse_rerun_{trial_id}",
        )
        same_data = st.checkbox(
            "On the data directory the run used",
            value=True,
            key=f"analyse_rerun_same_data_{trial_id}",
            help=f"Otherwise on the one above: {data_dir}",
        )
        st.caption(
            "Runs the same metric, method, window, options and seed again as a new ad-hoc run "
            "marked as a re-run of the chosen one."
        )
        if st.button("Re-run", key="analyse_rerun_button"):
            try:
                details = load_run_details(str(home_dir), picked)
                request = rerun_request(picked, details.tags, details.params)
            except LivingLabError as error:
                st.error(str(error))
            else:
                with_progress(
                    "Starting the re-run…",
                    lambda progress: rerun(
                        chosen,
                        request,
                        Tracker(home_dir),
                        progress,
                        data_dir=None if same_data else Path(data_dir),
                        actor=current.username,
                    ),
                )

last = st.session_state.get(LAST)
if isinstance(last, AdhocAnalysis) and last.trial_id == trial_id:
    show_analysis(last, chosen)
