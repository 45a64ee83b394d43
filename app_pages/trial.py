"""Trial page (``/trial?id=TRIAL_ID``): design, evidence per metric, results table, data health."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.data import home, load_trial
from evaluation.result import Estimate
from experiments.charts import counterfactual_figure
from experiments.summary import effect_sentence, format_p, verdict
from livinglab.errors import LivingLabError

VERDICT_BADGE = {
    "better": ":green-badge[Improved]",
    "worse": ":red-badge[Worse]",
    "unclear": ":gray-badge[No clear change]",
    "not estimated": ":orange-badge[Not estimated]",
}


def result_row(metric: str, role: str, estimate: Estimate, unit: str) -> dict[str, object]:
    return {
        "Metric": metric,
        "Role": role,
        "Method": estimate.method,
        "Effect": estimate.effect,
        "95% CI low": estimate.ci_low,
        "95% CI high": estimate.ci_high,
        "Relative": estimate.relative_effect,
        "p-value": format_p(estimate.p_value),
        "Status": estimate.status,
        "Unit": unit,
    }


trial_id = st.query_params.get("id")
if not trial_id:
    st.title("Trial")
    st.info("No trial chosen. Pick one on the Portfolio page.")
    st.page_link("app_pages/portfolio.py", label="Go to the portfolio", icon=":material/dashboard:")
    st.stop()

try:
    evidence = load_trial(str(home()), trial_id)
except LivingLabError as error:
    st.title("Trial")
    st.error(str(error))
    st.page_link("app_pages/portfolio.py", label="Go to the portfolio", icon=":material/dashboard:")
    st.stop()

spec = evidence.spec
st.title(spec.title)
st.caption(f"{evidence.pilot_name} · trial `{spec.id}` · owner: {spec.owner}")
st.markdown(f"**Hypothesis.** {' '.join(spec.hypothesis.split())}")

primary = next((m for m in evidence.metrics if m.role.role == "primary"), None)
if primary is not None:
    st.markdown(
        f"### {VERDICT_BADGE[verdict(primary.estimate, primary.definition)]} "
        f"{primary.definition.label}"
    )
    st.markdown(effect_sentence(primary.estimate, primary.definition))

with st.expander("Design", expanded=primary is None):
    start = spec.common_start()
    arms = (
        f"- **Switchback**: {len(spec.treated)} service days with the treatment and "
        f"{len(spec.control)} without, drawn at random\n"
        if spec.switchback
        else f"- **Arms** (assigned by {spec.assigned_by}): treated {', '.join(spec.treated)}; "
        f"control {', '.join(spec.control)}\n"
    )
    st.markdown(
        arms + f"- **Treatment starts** {start or 'on different dates per unit'}\n"
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

st.caption(
    f"Latest analysis `{evidence.analysis_id}`, {evidence.analysed_at:%Y-%m-%d %H:%M} UTC"  # type: ignore[union-attr]
)
rows = []
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
    series = estimate.details.get("series")
    if series:
        figure = counterfactual_figure(
            series,
            title=f"{definition.label}: treated group vs counterfactual",
            unit=definition.unit,
            treatment_start=spec.common_start() or spec.post[0],
        )
        st.plotly_chart(figure, key=f"chart_{definition.name}")
    for warning in estimate.warnings:
        st.caption(f"⚠️ {warning}")
    rows.append(result_row(definition.label, item.role.role, estimate, definition.unit))

if primary is not None:
    rows += [
        result_row(
            f"{primary.definition.label} (check)", "robustness", estimate, primary.definition.unit
        )
        for _, estimate, _ in evidence.robustness
    ]

st.subheader("Results")
st.dataframe(pl.DataFrame(rows, strict=False), hide_index=True, key="results_table")

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
