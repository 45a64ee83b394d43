"""The dossier's committee brief, worded: the facts, the rule's outcome and the committee's
decision, a plain summary, the primary metric in words, the results table, the charts' data and
the diagnostics checklist."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from evaluation.decision import (
    DecisionOutcome,
    MetricOutcome,
    counterfactual_mean,
    judge_guardrail,
    judge_primary,
)
from experiments.decisions import DecisionRecord
from experiments.dossier_appendix import Appendix, Words
from experiments.dossier_format import (
    level,
    p_relation,
    p_text,
    percent,
    signed,
    suppress_small_counts,
    timestamp,
)
from experiments.dossier_model import Check, ForestRow, Table, Trajectory
from experiments.portfolio import MetricEvidence
from experiments.summary import verdict
from experiments.trial_decision import metric_outcome, trial_plan
from experiments.trial_diagnostics import diagnostic_rows
from experiments.trial_report import TrialReport, finite_number, on_or_after
from pilots.contract import MetricDefinition


class Brief(Words):
    def __init__(self, lang: str, report: TrialReport, appendix: Appendix) -> None:
        super().__init__(lang, report)
        self.appendix = appendix  # data health, worded once for the appendix and the checklist

    def facts(self) -> tuple[tuple[str, str], ...]:
        registration, evidence = self.evidence.registration, self.evidence
        analysis = (
            self.say(
                "analysis_value", analysis=evidence.analysis_id, at=timestamp(evidence.analysed_at)
            )
            if evidence.analysis_id
            else self.say("not_analysed")
        )
        return (
            (self.say("fact.trial"), self.spec.id),
            (self.say("fact.pilot"), self.evidence.pilot_name),
            (self.say("fact.owner"), self.spec.owner),
            (
                self.say("fact.registered"),
                self.say(
                    "registered_value",
                    at=timestamp(registration.registered_at),
                    by=registration.registered_by,
                ),
            ),
            (self.say("fact.analysis"), analysis),
            (self.say("fact.hypothesis"), " ".join(self.spec.hypothesis.split())),
        )

    def reasons(self) -> tuple[str, ...]:
        """What the rule weighed: the primary metric's significance and every guardrail's state
        against its margin."""
        lines = []
        for item in self.evidence.metrics:
            label = item.definition.label
            if item.role.role == "primary":
                state = judge_primary(_outcome(item), self.spec.alpha).replace(" ", "_")
                lines.append(
                    self.say(
                        f"primary.{state}",
                        metric=label,
                        p=self.p_phrase(item),
                        alpha=f"{self.spec.alpha:g}",
                    )
                )
            elif item.role.role == "guardrail":
                state, allowed, worst = judge_guardrail(_outcome(item))
                lines.append(
                    self.say(
                        f"guardrail.{state.replace(' ', '_')}",
                        metric=label,
                        worst=signed(worst),
                        allowed=self.limit(allowed, item.definition),
                    )
                )
        return tuple(lines)

    def limit(self, allowed: float | None, definition: MetricDefinition) -> str:
        """How far a guardrail may worsen, signed the worse way (``+15`` for lower-is-better)."""
        if allowed is None:
            return "–"
        return signed(allowed if definition.direction == "lower_is_better" else -allowed)

    def p_phrase(self, item: MetricEvidence) -> str:
        if item.p_adjusted is not None:
            return self.say("p.corrected", p=p_relation(item.p_adjusted))
        if item.estimate.p_value is not None:
            return self.say("p.plain", p=p_relation(item.estimate.p_value))
        return self.say("p.missing")

    def extension(self, outcome: DecisionOutcome | None, primary: MetricEvidence | None) -> str:
        """How much more data would reach the registered power (empty unless the rule says so),
        in the periods and units of the rule's own plan (``trial_plan``)."""
        extension = outcome.extension if outcome else None
        if extension is None:
            return ""
        if extension.variance_ratio <= 1:
            return self.say("extension", message=self.say("ext.powered"))
        period = self.say(f"grain.{extension.period}")
        options = []
        if extension.more_periods is not None:
            options.append(self.say("ext.periods", n=extension.more_periods, period=period))
        if extension.more_units is not None and primary is not None:
            plan = trial_plan(self.spec, primary.definition, primary.estimate)
            options.append(
                self.say("ext.units", n=extension.more_units, unit=plan.unit, total=plan.n_units)
            )
        message = self.say("ext.or").join(options) if options else self.say("ext.more_data")
        if extension.more_periods is None:
            message += self.say("ext.time_alone", period=period)
        return self.say("extension", message=message)

    def decision(self, record: DecisionRecord | None) -> tuple[str, ...]:
        """The committee's latest decision: what, by whom, when, why, and on which analysis."""
        if record is None:
            return (self.say("decision.none"),)
        lines = [
            self.say(
                "decision_value",
                decision=self.say(f"rec.{record.decision}"),
                by=record.decided_by,
                at=timestamp(record.decided_at),
            ),
            self.say("decision.follows")
            if record.follows_recommendation
            else self.say(
                "decision.departs", recommendation=self.say(f"rec.{record.recommendation}")
            ),
        ]
        if record.reason:
            lines.append(self.say("decision.reason", reason=record.reason))
        if record.analysis != self.evidence.analysis_id:
            lines.append(
                self.say(
                    "decision.earlier",
                    analysis=record.analysis,
                    latest=self.evidence.analysis_id or "–",
                )
            )
        return tuple(lines)

    def change(self, item: MetricEvidence) -> str:
        """E.g. "-1.58 collections per bin-week (-30%)"."""
        estimate = item.estimate
        text = f"{signed(estimate.effect)} {item.definition.unit}"
        if estimate.relative_effect is not None:
            text += f" ({percent(estimate.relative_effect)})"
        return text

    def headline(self, item: MetricEvidence) -> str:
        estimate, label = item.estimate, item.definition.label
        if estimate.effect is None:
            return self.say("headline.not_estimated", metric=label)
        says = self.say(f"says.{verdict(estimate, item.definition)}")
        if estimate.ci_low is None or estimate.ci_high is None:
            return self.say(
                "headline.no_interval", metric=label, says=says, change=self.change(item)
            )
        return self.say(
            "headline",
            metric=label,
            says=says,
            change=self.change(item),
            low=signed(estimate.ci_low),
            high=signed(estimate.ci_high),
        )

    def summary(self) -> str:
        """A few sentences a committee member reads in a minute: what changed, how far the
        checks support it and whether the other methods agree."""
        if not self.evidence.metrics:
            return self.say("not_analysed")
        primary = self.report.primary
        parts = [self.headline(primary)] if primary else []
        others = [m for m in self.evidence.metrics if m is not primary]
        if others:
            items = self.say("summary.join").join(
                self.say(
                    "summary.other",
                    metric=m.definition.label,
                    says=self.say(f"says.{verdict(m.estimate, m.definition)}"),
                    change=self.change(m),
                    role=self.say(f"role.{m.role.role}"),
                )
                for m in others
            )
            parts.append(self.say("summary.others", items=items))
        judged = [c for c in self.checks() if c.status in ("pass", "warn", "fail")]
        if judged:
            counts = Counter(c.status for c in judged)
            flagged = [c.title for c in judged if c.status in ("warn", "fail")]
            told = self.say(
                "summary.checks",
                n=len(judged),
                passed=counts["pass"],
                warned=counts["warn"],
                failed=counts["fail"],
            )
            if flagged:
                told += self.say("summary.flagged", checks=self.say("summary.list").join(flagged))
            parts.append(told)
        if primary is not None and primary.estimate.effect is not None and self.evidence.robustness:
            same = sum(
                1
                for _, estimate, _ in self.evidence.robustness
                if estimate.effect is not None
                and (estimate.effect > 0) == (primary.estimate.effect > 0)
            )
            parts.append(
                self.say("summary.robustness", same=same, total=len(self.evidence.robustness))
            )
        return self.say("summary.sentences").join(parts)

    def primary_lines(self, primary: MetricEvidence | None) -> tuple[str, ...]:
        """The primary metric's effect, its levels with and without the pilot, and its p-value
        in words and numbers."""
        if primary is None:
            return ()
        estimate, definition = primary.estimate, primary.definition
        lines = [self.headline(primary)]
        if estimate.effect is None:
            return tuple(lines)
        without = counterfactual_mean(estimate.effect, estimate.relative_effect)
        if without is not None:
            lines.append(
                self.say(
                    "levels",
                    without=self.people(without, definition),
                    with_pilot=self.people(without + estimate.effect, definition),
                    unit=definition.unit,
                )
            )
        if estimate.p_value is None:
            lines.append(self.say("p_words.none"))
            return tuple(lines)
        chance = (
            self.say("p_words.small") if estimate.p_value < 0.001 else f"{estimate.p_value:.1%}"
        )
        lines.append(self.say("p_words", chance=chance, p=p_relation(estimate.p_value)))
        if primary.p_adjusted is not None and self.spec.multiple_testing != "none":
            lines.append(
                self.say(
                    "p_words.corrected",
                    n=sum(1 for m in self.spec.metrics if m.role != "guardrail"),
                    correction=self.say(f"correction.{self.spec.multiple_testing}"),
                    p=p_relation(primary.p_adjusted),
                )
            )
        return tuple(lines)

    def people(self, value: float, definition: MetricDefinition) -> str:
        return suppress_small_counts(value, definition.unit, level(value))

    def results(self) -> Table:
        columns = tuple(
            self.say(f"col.{name}")
            for name in (
                "metric",
                "role",
                "levels",
                "effect",
                "ci",
                "relative",
                "p",
                "p_adjusted",
                "guardrail",
            )
        )
        return Table(columns, tuple(self.result_row(m) for m in self.evidence.metrics))

    def result_row(self, item: MetricEvidence) -> tuple[str, ...]:
        estimate, definition = item.estimate, item.definition
        without = counterfactual_mean(estimate.effect, estimate.relative_effect)
        levels = (
            f"{self.people(without, definition)} → "
            f"{self.people(without + estimate.effect, definition)}"  # type: ignore[operator]
            if without is not None
            else "–"
        )
        interval = (
            self.say("ci", low=signed(estimate.ci_low), high=signed(estimate.ci_high))
            if estimate.ci_low is not None and estimate.ci_high is not None
            else "–"
        )
        guardrail = "–"
        if item.role.role == "guardrail":
            state, allowed, _ = judge_guardrail(_outcome(item))
            guardrail = (
                self.say(
                    "guardrail_cell",
                    state=self.say(f"state.{state}"),
                    allowed=self.limit(allowed, definition),
                )
                if allowed is not None
                else self.say(f"state.{state}")
            )
        return (
            f"{definition.label} ({definition.unit})",
            self.say(f"role.{item.role.role}"),
            levels,
            signed(estimate.effect) if estimate.effect is not None else self.say("not_estimated"),
            interval,
            percent(estimate.relative_effect),
            p_text(estimate.p_value),
            p_text(item.p_adjusted),
            guardrail,
        )

    def trajectory(self, primary: MetricEvidence | None) -> Trajectory | None:
        if primary is None:
            return None
        series = primary.estimate.details.get("series") or {}
        period = tuple(str(p) for p in series.get("period", []))
        if not period or "observed" not in series or "counterfactual" not in series:
            return None
        start = self.spec.common_start() or self.spec.post[0]
        after = [i for i, label in enumerate(period) if on_or_after(label, start)]
        definition = primary.definition
        return Trajectory(
            title=self.say("chart.trajectory", metric=definition.label),
            period_axis=self.say(f"period.{definition.time_grain}"),
            unit=definition.unit,
            period=period,
            observed=_numbers(series["observed"]),
            counterfactual=_numbers(series["counterfactual"]),
            low=_numbers(series["counterfactual_low"]) if "counterfactual_low" in series else None,
            high=_numbers(series["counterfactual_high"])
            if "counterfactual_high" in series
            else None,
            start=after[0] if after else None,
        )

    def forest_row(self, item: MetricEvidence) -> ForestRow:
        estimate = item.estimate
        mean = counterfactual_mean(estimate.effect, estimate.relative_effect)
        low = high = None
        if mean and estimate.ci_low is not None and estimate.ci_high is not None:
            low, high = sorted((estimate.ci_low / mean, estimate.ci_high / mean))
        return ForestRow(
            item.definition.label,
            estimate.relative_effect,
            low,
            high,
            verdict(estimate, item.definition),
        )

    def checks(self) -> tuple[Check, ...]:
        """The primary metric's diagnostics, then data health. The checks word their readings
        in English; in another language the reading is the check's p-value (and data health's
        counts, worded here)."""
        if not self.evidence.metrics:
            return ()
        rows = []
        for row in diagnostic_rows(self.report.checks, self.evidence.data_health):
            if self.lang == "en":
                reading = row.reading
            elif row.name == "data_health":
                reading = self.say("summary.join").join(
                    self.appendix.data_health()[:1] + self.appendix.coverage()
                )
            else:
                reading = (
                    self.say("reading.p", p=p_relation(row.p_value))
                    if row.p_value is not None
                    else "–"
                )
            rows.append(
                Check(
                    title=self.text.get(f"check.{row.name}", row.title),
                    status=row.status,
                    label=self.text.get(f"status.{row.status}", row.status),
                    null_hypothesis=self.text.get(f"null.{row.name}", row.null_hypothesis),
                    reading=reading,
                )
            )
        return tuple(rows)


def _numbers(values: Sequence[Any]) -> tuple[float | None, ...]:
    return tuple(finite_number(v) for v in values)


def _outcome(item: MetricEvidence) -> MetricOutcome:
    """The metric as the decision rule judges it."""
    return metric_outcome(item.role, item.definition, item.estimate, item.p_adjusted)
