"""The Trial page's decision section and deviation log: what the registered rule recommends,
what the committee decided, the form to record a decision, and the departures from the plan."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.auth import Viewer
from app_pages.badges import RECOMMENDATION_BADGE
from app_pages.data import home, load_portfolio
from evaluation.decision import RECOMMENDATION_LABELS, RECOMMENDATIONS
from experiments.decisions import DecisionLog
from experiments.portfolio import TrialEvidence
from experiments.runs import deviation_log
from experiments.tracking import Tracker
from experiments.trial_decision import decision_rule_text
from livinglab.errors import LivingLabError


def decision_section(evidence: TrialEvidence, current: Viewer) -> None:
    spec = evidence.spec
    st.header("Decision")
    outcome = evidence.recommendation()
    if outcome is None:
        st.info("The registered rule recommends once the primary metric has been analysed.")
    else:
        st.markdown(
            f"**The registered rule recommends** {RECOMMENDATION_BADGE[outcome.recommendation]}"
        )
        st.markdown("\n".join(f"- {reason}" for reason in outcome.reasons))
        if outcome.extension is not None:
            st.markdown(f"**To reach the registered power:** {outcome.extension.message}.")
    with st.expander("The decision rule, as registered"):
        st.markdown("\n".join(f"- {sentence}" for sentence in decision_rule_text(spec)))
        st.caption(
            "Fixed at registration: alpha, correction, power, minimum detectable effect, the "
            "primary metric and the guardrail margins are part of the locked spec."
        )
    log = DecisionLog(home())
    history = log.history(spec.id)
    if history:
        latest = history[-1]
        st.markdown(
            f"**Committee decision:** {RECOMMENDATION_BADGE[latest.decision]} by "
            f"{latest.decided_by}, {latest.decided_at} UTC, on analysis `{latest.analysis}`"
            + (f". Reason: {latest.reason}" if latest.reason else "")
        )
        if len(history) > 1:
            with st.expander(f"Earlier decisions ({len(history) - 1})"):
                st.dataframe(
                    pl.DataFrame([r.to_dict() for r in history[:-1]]),
                    hide_index=True,
                    key="earlier_decisions",
                )
    if current.can("decide") and outcome is not None:
        _decision_form(evidence, current, outcome.recommendation)


def _decision_form(evidence: TrialEvidence, current: Viewer, recommendation: str) -> None:
    spec = evidence.spec
    with st.form("decision_form", clear_on_submit=True):
        st.subheader("Record the committee's decision")
        decision = st.radio(
            "Decision",
            RECOMMENDATIONS,
            index=RECOMMENDATIONS.index(recommendation),  # type: ignore[arg-type]
            format_func=RECOMMENDATION_LABELS.get,
            horizontal=True,
            key="decision_choice",
        )
        reason = st.text_area(
            "Reason",
            key="decision_reason",
            help="Required when the decision differs from the rule's recommendation.",
        )
        if st.form_submit_button("Record decision", type="primary"):
            try:
                DecisionLog(home()).record(
                    spec.id,
                    decision,
                    recommendation=recommendation,  # type: ignore[arg-type]
                    reason=reason,
                    analysis=evidence.analysis_id or "",
                    spec_hash=evidence.registration.spec_hash,
                    actor=current.username,
                )
            except LivingLabError as error:
                st.error(f"Not recorded: {error}")
            else:
                load_portfolio.clear()  # the portfolio shows the new stage and decision
                st.success(f"Decision recorded: {RECOMMENDATION_LABELS[decision]}.")  # type: ignore[index]
                st.rerun()


def deviation_section(trial_id: str) -> None:
    rows = deviation_log(Tracker(home()), trial_id)
    st.header("Deviations from the registered plan")
    if not rows:
        st.caption(
            "None: every analysis so far ran as registered. Analyses that depart from the plan "
            "(metric, window, method, options) are exploratory and listed here."
        )
        return
    st.caption(
        f"{len(rows)} exploratory run(s) departed from the plan. They never feed the "
        "recommendation, which reads the registered analysis only."
    )
    st.dataframe(pl.DataFrame(rows), hide_index=True, key="deviation_log")
