"""Coloured badges for verdicts and guardrail states, shared by the Portfolio and Trial pages."""

from __future__ import annotations

from evaluation.decision import RECOMMENDATION_LABELS
from experiments.portfolio import VERDICT_LABELS

VERDICT_BADGE = {
    verdict: f":{colour}-badge[{VERDICT_LABELS[verdict]}]"
    for verdict, colour in (
        ("better", "green"),
        ("worse", "red"),
        ("unclear", "gray"),
        ("not estimated", "orange"),
    )
}
GUARDRAIL_BADGE = {
    "held": ":green-badge[Guardrails held]",
    "breached": ":red-badge[Guardrail breached]",
    "inconclusive": ":orange-badge[Guardrail inconclusive]",
    "not estimated": ":gray-badge[Guardrail not estimated]",
}
RECOMMENDATION_BADGE = {
    recommendation: f":{colour}-badge[{RECOMMENDATION_LABELS[recommendation]}]"
    for recommendation, colour in (("scale", "green"), ("iterate", "orange"), ("stop", "red"))
}
