"""Trial page (``/trial?id=TRIAL_ID``): design, evidence per metric, diagnostics, robustness."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.auth import page_link, require_page
from app_pages.badges import VERDICT_BADGE
from app_pages.data import home
from app_pages.decision_panel import decision_section, deviation_section
from app_pages.dossier_download import dossier_section
from app_pages.trial_charts import ChartShelf
from app_pages.trial_data import load_report
from evaluation.result import Estimate
from experiments import charts
from experiments import trial_report as report
from experiments.roles import can_view_trial
from experiments.summary import effect_sentence, verdict
from experiments.trial_design import district_rows, first_start, mapped_sites, timeline_rows
from experiments.trial_diagnostics import balance_rows, diagnostic_rows, placebo_distribution
from experiments.trial_results import (
    charts_zip,
    plain_summary,
    results_csv,
    results_table,
    robustness_rows,
)
from livinglab.errors import LivingLabError


def go_to_portfolio() -> None:
    page_link("app_pages/portfolio.py", label="Go to the portfolio", icon=":material/dashboard:")


def show_views(estimate: Estimate, label: str, unit: str, time_grain: str, key: str) -> None:
    """The estimate's charts in tabs: paths, effects, event study and donors where it has them."""
    axis = report.period_label(time_grain)
    series = estimate.details.get("series") or {}
    paths = report.effect_paths(series, start) if series else None
    events, band = report.event_time_rows(estimate, spec.alpha)
    donors = report.donor_weight_rows(estimate)
    views = {"Observed vs counterfactual": bool(series.get("period"))}
    views |= {"Pointwise effect": paths is not None, "Cumulative effect": paths is not None}
    views |= {"Event study": bool(events), "Donor weights": bool(donors)}
    shown = [view for view, available in views.items() if available]
    if not shown:
        st.caption(f"The {estimate.method} method reports no series to chart for this metric.")
        return
    for view, tab in zip(shown, st.tabs(shown), strict=True):
        with tab:
            if view == "Observed vs counterfactual":
                shelf.show(
                    charts.counterfactual_figure(
                        series,
                        title=f"{label}: treated group vs counterfactual ({estimate.method})",
                        unit=unit,
                        treatment_start=start,
                        period_label=axis,
                    ),
                    f"{key}_counterfactual",
                )
            elif view == "Pointwise effect" and paths is not None:
                shelf.show(
                    charts.effect_figure(
                        paths.period,
                        paths.pointwise,
                        paths.pointwise_low,
                        paths.pointwise_high,
                        title=f"{label}: effect in each period ({estimate.method})",
                        unit=f"Effect ({unit})",
                        treatment_start=start,
                        period_label=axis,
                    ),
                    f"{key}_pointwise",
                )
                st.caption(
                    "Observed minus counterfactual in each period. The headline estimate is "
                    "the method's own average after the start and can differ from these gaps."
                )
            elif view == "Cumulative effect" and paths is not None:
                shelf.show(
                    charts.effect_figure(
                        paths.period,
                        paths.cumulative,
                        paths.cumulative_low,
                        paths.cumulative_high,
                        title=f"{label}: effect added up since the start ({estimate.method})",
                        unit=f"Cumulative effect ({unit}, summed over periods)",
                        treatment_start=start,
                        period_label=axis,
                    ),
                    f"{key}_cumulative",
                )
            elif view == "Event study":
                shelf.show(
                    charts.event_study_figure(
                        events,
                        title=f"{label}: effect by periods since the start ({estimate.method})",
                        unit=f"Effect ({unit})",
                        band=band,
                    ),
                    f"{key}_event_study",
                )
                st.caption(
                    "Before the start (left of the dotted line) the effects should be near zero; "
                    "a hollow marker is the reference period, fixed at zero."
                )
            elif view == "Donor weights":
                shelf.show(
                    charts.donor_weights_figure(
                        donors, title=f"{label}: who makes up the synthetic control"
                    ),
                    f"{key}_donor_weights",
                )
    if paths is None and series.get("period"):
        st.caption(
            "No period has both an observed and a counterfactual value after the start (in a "
            "switchback each day is either treated or not), so there is no effect path to draw."
        )


current = require_page("view_trial")
trial_id = st.query_params.get("id")
if not trial_id:
    st.title("Trial")
    st.info("No trial chosen. Pick one on the Portfolio page.")
    go_to_portfolio()
    st.stop()

try:
    trial = load_report(str(home()), trial_id)
except LivingLabError as error:
    st.title("Trial")
    st.error(str(error))
    go_to_portfolio()
    st.stop()

evidence, spec, primary = trial.evidence, trial.spec, trial.primary
if not can_view_trial(current.roles, current.username, evidence.registration.registered_by):
    st.title("Trial")
    st.error(
        f"Not allowed: trial {spec.id!r} was registered by someone else, and a pilot owner sees "
        "only their own trials."
    )
    go_to_portfolio()
    st.stop()
start = first_start(spec)
shelf = ChartShelf(spec.id)
diagnostics = diagnostic_rows(trial.checks, evidence.data_health) if primary else []

st.title(spec.title)
st.caption(f"{evidence.pilot_name} · trial `{spec.id}` · owner: {spec.owner}")
st.markdown(f"**Hypothesis.** {' '.join(spec.hypothesis.split())}")

if primary is not None:
    st.markdown(
        f"### {VERDICT_BADGE[verdict(primary.estimate, primary.definition)]} "
        f"{primary.definition.label}"
    )
    st.markdown(effect_sentence(primary.estimate, primary.definition))
    st.info(
        f"**In plain words.** {plain_summary(evidence, diagnostics)}",
        icon=":material/summarize:",
    )

if evidence.metrics:
    decision_section(evidence, current)

st.header("Design")
mapped = mapped_sites(trial.sites)
districts = district_rows(trial.sites)
where, when = st.columns([3, 2])
with where:
    if mapped:
        shelf.show(charts.sites_map_figure(mapped, title="Treated and control sites"), "sites_map")
        st.caption("Without internet access the base map stays blank; the table lists the sites.")
        with st.expander("Sites by district"):
            st.dataframe(pl.DataFrame(districts), hide_index=True, key="district_table")
    elif districts:
        st.markdown("**Sites by district** (no coordinates recorded for this pilot)")
        st.dataframe(pl.DataFrame(districts), hide_index=True, key="district_table")
    else:
        st.caption("The sites are listed once the trial has been analysed.")
with when:
    shelf.show(
        charts.timeline_figure(timeline_rows(spec, trial.sites), title="Rollout"),
        "timeline",
    )
arms = (
    f"- **Switchback**: {len(spec.treated)} service days with the treatment and "
    f"{len(spec.control)} without, drawn at random\n"
    if spec.switchback
    else f"- **Arms** (assigned by {spec.assigned_by}): treated {', '.join(spec.treated)}; "
    f"control {', '.join(spec.control)}\n"
)
st.markdown(
    arms + f"- **Treatment starts** {spec.common_start() or 'on different dates per unit'}\n"
    f"- **Before** {spec.pre[0]} to {spec.pre[1]}; **after** {spec.post[0]} to {spec.post[1]}\n"
    f"- **Planned method** `{spec.planned_method}`; minimum detectable effect "
    f"{spec.mde:.0%}; alpha {spec.alpha}; power {spec.power:.0%}\n"
    f"- **Registered** {evidence.registration.registered_at} by "
    f"{evidence.registration.registered_by}; spec hash `{evidence.registration.spec_hash[:12]}`"
)

if not evidence.metrics:
    st.info(
        "This trial has not been analysed yet. Run `livinglab evaluate SPEC --data DIR` to "
        "analyse it; results appear here."
    )
    st.stop()

st.header("Evidence per metric")
st.caption(
    f"Latest analysis `{evidence.analysis_id}`, {evidence.analysed_at:%Y-%m-%d %H:%M} UTC"  # type: ignore[union-attr]
)
for item in evidence.metrics:
    estimate, definition = item.estimate, item.definition
    st.subheader(f"{definition.label} ({item.role.role})")
    st.markdown(
        f"{VERDICT_BADGE[verdict(estimate, definition)]} {effect_sentence(estimate, definition)}"
    )
    if item.role.margin is not None:
        st.caption(
            f"Guardrail: may worsen by at most {item.role.margin:g} "
            f"{definition.unit if item.role.margin_type == 'absolute' else '(relative)'}"
        )
    show_views(estimate, definition.label, definition.unit, definition.time_grain, definition.name)
    for warning in estimate.warnings:
        st.caption(f"⚠️ {warning}")

st.subheader("Results")
st.dataframe(
    pl.DataFrame(results_table(evidence), strict=False), hide_index=True, key="results_table"
)

if primary is not None:
    st.header("Diagnostics")
    st.caption(
        f"Checks of the assumptions behind the {primary.definition.label.lower()} estimate. "
        "A pass means the data give no reason to doubt the assumption, not that it is proven."
    )
    for row in diagnostics:
        with st.container(border=True):
            st.markdown(f"{row.marker} · **{row.title}**: {row.reading}")
            st.caption(f"Null hypothesis: {row.null_hypothesis}.")
    for check in trial.checks:
        placebo = placebo_distribution(check)
        if placebo is not None:
            with st.expander("Placebo distribution", expanded=False):
                shelf.show(
                    charts.placebo_figure(
                        placebo[0],
                        placebo[1],
                        title="Effects found for control units pretending to be treated",
                        unit=primary.definition.unit,
                    ),
                    "placebo_in_space",
                )
        balance = balance_rows(check) if check["name"] == "balance" else []
        if balance:
            with st.expander("Balance before the start"):
                st.dataframe(pl.DataFrame(balance, strict=False), hide_index=True, key="balance")

if primary is not None and evidence.robustness:
    st.header("Robustness")
    st.caption(
        f"The {primary.definition.label.lower()} estimated by the registered method and by every "
        "other applicable method. Agreement in direction and size makes the result sturdier."
    )
    robust = robustness_rows(evidence)
    st.dataframe(pl.DataFrame(robust, strict=False), hide_index=True, key="robustness_table")
    for (method, estimate, _), tab in zip(
        evidence.robustness, st.tabs([method for method, _, _ in evidence.robustness]), strict=True
    ):
        with tab:
            show_views(
                estimate,
                primary.definition.label,
                primary.definition.unit,
                primary.definition.time_grain,
                f"robustness_{method}",
            )
    shelf.show(
        charts.robustness_figure(
            robust,
            title=f"{primary.definition.label}: every method side by side",
            unit=primary.definition.unit,
        ),
        "robustness",
    )

deviation_section(spec.id)

st.header("Downloads")
csv_column, zip_column = st.columns(2)
csv_column.download_button(
    "Results (CSV)",
    results_csv(evidence),
    file_name=f"{spec.id}_results.csv",
    mime="text/csv",
    key="download_results_csv",
    on_click="ignore",
    icon=":material/table:",
)
zip_column.download_button(
    f"All {len(shelf.pages)} charts (HTML in a ZIP)",
    charts_zip(shelf.pages),
    file_name=f"{spec.id}_charts.zip",
    mime="application/zip",
    key="download_charts_zip",
    on_click="ignore",
    icon=":material/folder_zip:",
)
dossier_section(spec.id, current)

health = evidence.data_health
if health:
    with st.expander("Data health"):
        st.markdown(
            f"{health['rows_read']:,} rows read = {health['rows_accepted']:,} accepted + "
            f"{health['rows_quarantined']:,} quarantined"
        )
        for feed in health.get("coverage", []):
            mismatch = feed["sensor_ratio_mismatch"]
            flag = ":red-badge[Sensor ratio mismatch] " if mismatch["flag"] else ""
            st.markdown(
                f"**{feed['label']}**: {feed['coverage']:.1%} of expected readings. "
                f"{flag}{mismatch['message']}"
            )
        reasons = health.get("quarantine_reasons", {})
        if reasons:
            st.dataframe(
                pl.DataFrame({"Reason": list(reasons), "Rows": list(reasons.values())}),
                hide_index=True,
                key="quarantine_reasons",
            )
        st.json(health, expanded=False)
