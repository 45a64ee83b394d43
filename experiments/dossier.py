"""The evidence dossier's content: a trial's registration and latest evidence, worded as data.

``dossier_content`` reads what the Trial page reads (``experiments.trial_report``), applies the
registered decision rule and finds the committee's latest decision, and words it all in one of
``LANGUAGES`` with the phrases of ``experiments.dossier_text``. The result, a ``Dossier``, holds
only strings and numbers: ``experiments.dossier_render`` lays it out as HTML or PDF, so both
formats say the same thing. ``build_dossier`` does both steps for the app's download button.

Privacy: the dossier prints facts about the trial and aggregates of its data, never a data row.
The usernames of who registered the trial and who recorded the decision are printed, since they
are accountability, not data subjects. Counts of people below ``SMALL_COUNT`` are shown as
"<10" (``suppress_small_counts``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from evaluation.decision import (
    DecisionOutcome,
    GuardrailState,
    counterfactual_mean,
    guardrail_state,
)
from evaluation.result import Estimate
from experiments.decisions import DecisionLog, DecisionRecord
from experiments.dossier_text import LANGUAGES, TEXT
from experiments.portfolio import MetricEvidence, TrialEvidence
from experiments.spec import MetricRole, trial_pilot
from experiments.summary import Verdict, verdict
from experiments.tracking import Tracker
from experiments.trial_decision import trial_plan
from experiments.trial_diagnostics import diagnostic_rows
from experiments.trial_report import TrialReport, finite_number, trial_report
from livinglab.errors import InputError
from pilots.contract import MetricDefinition

FORMATS = ("pdf", "html")
SMALL_COUNT = 10
SUPPRESSED = f"<{SMALL_COUNT}"
# Words that make a unit a count of people (passengers per vehicle-hour, residents, ...).
PEOPLE = re.compile(
    r"\b(people|persons?|passengers?|riders?|residents?|pedestrians?|visitors?|users?|"
    r"patients?|participants?|customers?|households?|commuters?|students?|workers?)\b",
    re.IGNORECASE,
)
NAMED_ARM_UNITS = 12  # an arm lists its units by name up to this many, else counts them


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Check:
    """One line of the diagnostics checklist; ``status`` is pass, warn, fail, informational or
    not_applicable, ``label`` the same in words."""

    title: str
    status: str
    label: str
    null_hypothesis: str
    reading: str


@dataclass(frozen=True)
class Trajectory:
    """The primary metric's observed path against its counterfactual, per period."""

    title: str
    period_axis: str
    unit: str
    period: tuple[str, ...]
    observed: tuple[float | None, ...]
    counterfactual: tuple[float | None, ...]
    low: tuple[float | None, ...] | None
    high: tuple[float | None, ...] | None
    start: int | None  # index of the first period on or after the start


@dataclass(frozen=True)
class ForestRow:
    """A metric's relative effect and its 95% interval as fractions of the counterfactual mean."""

    label: str
    relative: float | None
    low: float | None
    high: float | None
    verdict: Verdict


@dataclass(frozen=True)
class Dossier:
    """Everything the dossier says, worded in ``lang``; ``text`` holds that language's phrases
    for the headings and labels the renderers add."""

    lang: str
    text: Mapping[str, str]
    trial_id: str
    title: str
    facts: tuple[tuple[str, str], ...]
    analysed: bool
    recommendation: str
    recommendation_kind: str  # scale, iterate, stop, or "" before an analysis
    reasons: tuple[str, ...]
    extension: str
    decision: tuple[str, ...]
    summary: str
    primary: tuple[str, ...]  # the effect, the levels, the p-value in words
    results: Table
    trajectory: Trajectory | None
    forest: tuple[ForestRow, ...]
    checks: tuple[Check, ...]
    rule: tuple[str, ...]
    methods: Table
    design: tuple[tuple[str, str], ...]
    data_health: tuple[str, ...]
    provenance: tuple[tuple[str, str], ...]
    runs: Table


def build_dossier(home: Path, trial_id: str, lang: str, fmt: str) -> bytes:
    """The dossier of ``trial_id`` in ``lang`` as a PDF or a self-contained HTML file."""
    from experiments.dossier_render import render_html, render_pdf  # they import this module

    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    dossier = dossier_content(home, trial_id, lang)
    return render_pdf(dossier) if fmt == "pdf" else render_html(dossier).encode("utf-8")


def dossier_content(home: Path, trial_id: str, lang: str) -> Dossier:
    """The dossier of ``trial_id`` in ``lang`` (``UnknownNameError`` if the trial is unknown)."""
    if lang not in LANGUAGES:
        raise InputError(f"language {lang!r} is unknown; use one of {', '.join(LANGUAGES)}")
    report = trial_report(home, trial_id)
    return dossier_from_report(
        report, lang, DecisionLog(home).latest(trial_id), _run_tags(home, report.evidence)
    )


def dossier_from_report(
    report: TrialReport,
    lang: str,
    decision: DecisionRecord | None = None,
    tags: Mapping[str, str] | None = None,
) -> Dossier:
    """The dossier of a trial's report in ``lang``, with the committee's latest ``decision``
    and the ``tags`` its runs share (data hash, code version, seed)."""
    return _Words(lang, report).dossier(decision, tags or {})


def suppress_small_counts(value: float | None, unit: str, shown: str) -> str:
    """``shown`` (``value`` as formatted), or "<10" when ``unit`` counts people and ``value``
    is below ``SMALL_COUNT``: small counts of people are suppressed in committee views."""
    if value is not None and PEOPLE.search(unit) and abs(value) < SMALL_COUNT:
        return SUPPRESSED
    return shown


def _run_tags(home: Path, evidence: TrialEvidence) -> Mapping[str, str]:
    """The tags every run of the latest analysis shares: data hash, code version, seed."""
    if not evidence.metrics:
        return {}
    return Tracker(home).run(evidence.metrics[0].run_id).tags


# --- numbers as the dossier prints them --------------------------------------------------------


def signed(value: float | None) -> str:
    """An effect: three significant digits with its sign (``-1.58``); "–" when missing."""
    return "–" if value is None else f"{value:+.3g}"


def level(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.0%}"


def p_text(value: float | None) -> str:
    """A p-value in a table: three significant digits, or "<0.001"."""
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def p_relation(value: float) -> str:
    """A p-value in a sentence, after "p": "= 0.0433" or "< 0.001"."""
    return "< 0.001" if value < 0.001 else f"= {value:.3g}"


def _when(moment: datetime | str | None) -> str:
    """An ISO-8601 UTC timestamp to the second."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# --- wording -----------------------------------------------------------------------------------


class _Words:
    """Words one trial's report in one language's phrases."""

    def __init__(self, lang: str, report: TrialReport) -> None:
        self.lang = lang
        self.text = TEXT[lang]
        self.report = report
        self.evidence = report.evidence
        self.spec = report.spec
        self.pilot = trial_pilot(self.spec)

    def say(self, key: str, **fields: Any) -> str:
        return self.text[key].format(**fields)

    def dossier(self, decision: DecisionRecord | None, tags: Mapping[str, str]) -> Dossier:
        evidence, primary = self.evidence, self.report.primary
        outcome = evidence.recommendation()
        return Dossier(
            lang=self.lang,
            text=dict(self.text),
            trial_id=self.spec.id,
            title=self.spec.title,
            facts=self.facts(),
            analysed=bool(evidence.metrics),
            recommendation=self.say(f"rec.{outcome.recommendation}" if outcome else "rec.awaiting"),
            recommendation_kind=outcome.recommendation if outcome else "",
            reasons=self.reasons() if outcome else (),
            extension=self.extension(outcome, primary),
            decision=self.decision(decision),
            summary=self.summary(),
            primary=self.primary_lines(primary),
            results=self.results(),
            trajectory=self.trajectory(primary),
            forest=tuple(self.forest_row(m) for m in evidence.metrics),
            checks=self.checks(),
            rule=self.rule(),
            methods=self.methods(),
            design=self.design(primary),
            data_health=self.data_health(),
            provenance=self.provenance(tags),
            runs=self.runs(),
        )

    # The committee brief.

    def facts(self) -> tuple[tuple[str, str], ...]:
        registration, evidence = self.evidence.registration, self.evidence
        analysis = (
            self.say(
                "analysis_value", analysis=evidence.analysis_id, at=_when(evidence.analysed_at)
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
                    at=_when(registration.registered_at),
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
                state = _primary_state(item, self.spec.alpha)
                lines.append(
                    self.say(
                        f"primary.{state}",
                        metric=label,
                        p=self.p_phrase(item),
                        alpha=f"{self.spec.alpha:g}",
                    )
                )
            elif item.role.role == "guardrail":
                state, allowed, worst = _guardrail(item)
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
                at=_when(record.decided_at),
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
            state, allowed, _ = _guardrail(item)
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
        after = [i for i, label in enumerate(period) if _on_or_after(label, start)]
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
                reading = self.say("summary.join").join(self.data_health()[:1] + self.coverage())
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

    # The technical appendix.

    def rule(self) -> tuple[str, ...]:
        """The registered rule, one sentence per outcome (the English words are
        ``experiments.trial_decision.decision_rule_text``'s)."""
        spec = self.spec
        primary = self.pilot.metric(spec.primary.name)
        guardrails = [
            self.say(
                "rule.guardrail",
                metric=definition.label,
                margin=self.margin(m, definition),
            )
            for m in spec.metrics
            if m.role == "guardrail" and (definition := self.pilot.metric(m.name))
        ]
        within = (
            self.say("rule.within", guardrails="; ".join(guardrails))
            if guardrails
            else self.say("rule.no_guardrails")
        )
        better = "higher" if primary.direction == "higher_is_better" else "lower"
        return (
            self.say(
                "rule.scale",
                metric=primary.label,
                better=self.say(f"rule.{better}"),
                correction=self.say(f"correction_rule.{spec.multiple_testing}"),
                alpha=f"{spec.alpha:g}",
                within=within,
            ),
            self.say("rule.stop", metric=primary.label),
            self.say("rule.iterate", power=f"{spec.power:.0%}", mde=f"{spec.mde:.0%}"),
        )

    def margin(self, role: MetricRole, definition: MetricDefinition) -> str:
        if role.margin is None:
            return self.say("rule.no_margin")
        if role.margin_type == "relative":
            return f"{role.margin:.0%}"
        return f"{role.margin:g} {definition.unit}"

    def methods(self) -> Table:
        """The registered method and every robustness method, with their assumptions."""
        used = [(self.spec.planned_method, "registered")]
        used += [(name, "robustness") for name in self.spec.analysis.robustness]
        return Table(
            (self.say("col.method"), self.say("col.what"), self.say("col.assumptions")),
            tuple(
                (
                    self.say("method_role", name=name, role=self.say(f"role.{role}")),
                    self.text.get(f"method.{name}", name),
                    self.text.get(f"assumptions.{name}", "–"),
                )
                for name, role in used
            ),
        )

    def design(self, primary: MetricEvidence | None) -> tuple[tuple[str, str], ...]:
        spec = self.spec
        window = "design.window"
        rows = [
            (self.say("design.assigned_by"), spec.assigned_by),
            (self.say("design.treated"), self.arm(spec.treated)),
            (self.say("design.control"), self.arm(spec.control)),
        ]
        if spec.treatment_start is not None:
            rows.append((self.say("design.start"), spec.treatment_start.isoformat()))
        else:
            starts = ", ".join(
                f"{group}: {start.isoformat()}" for group, start in spec.start_by_unit
            )
            rows.append((self.say("design.start_by_unit"), starts))
        rows += [
            (
                self.say("design.pre"),
                self.say(window, first=spec.pre[0].isoformat(), last=spec.pre[1].isoformat()),
            ),
            (
                self.say("design.post"),
                self.say(window, first=spec.post[0].isoformat(), last=spec.post[1].isoformat()),
            ),
            (self.say("design.method"), spec.planned_method),
        ]
        if spec.analysis.robustness:
            rows.append((self.say("design.robustness"), ", ".join(spec.analysis.robustness)))
        if spec.analysis.options:
            options = ", ".join(f"{key} = {value}" for key, value in spec.analysis.options)
            rows.append((self.say("design.options"), options))
        if spec.analysis.exclude_days:
            excluded = ", ".join(self.say(f"exclude.{day}") for day in spec.analysis.exclude_days)
            rows.append((self.say("design.excluded"), excluded))
        rows += [
            (self.say("design.alpha"), f"{spec.alpha:g}"),
            (self.say("design.power"), f"{spec.power:.0%}"),
            (self.say("design.mde"), f"{spec.mde:.0%}"),
            (self.say("design.correction"), self.say(f"correction.{spec.multiple_testing}")),
        ]
        if primary is not None:
            estimate, unit = primary.estimate, spec.assigned_by
            rows.append(
                (
                    self.say("design.units"),
                    self.say(
                        "design.units_value",
                        n=suppress_small_counts(estimate.n_units, unit, f"{estimate.n_units:,}"),
                        treated=suppress_small_counts(
                            estimate.n_treated, unit, f"{estimate.n_treated:,}"
                        ),
                    ),
                )
            )
        return tuple(rows)

    def arm(self, names: Sequence[str]) -> str:
        unit = self.spec.assigned_by
        if len(names) > NAMED_ARM_UNITS:
            return self.say("design.arm_count", n=len(names), unit=unit)
        return self.say("design.arm", n=len(names), unit=unit, names=", ".join(names))

    def data_health(self) -> tuple[str, ...]:
        """Counts only: rows read, accepted and quarantined, in all and per source; coverage of
        each feed and whether it differs between the arms; calendar days left out."""
        health = self.evidence.data_health
        if not health.get("rows_read"):
            return (self.say("health.none"),)
        lines = [
            self.say(
                "health.rows",
                read=f"{health['rows_read']:,}",
                accepted=f"{health.get('rows_accepted', 0):,}",
                quarantined=f"{health.get('rows_quarantined', 0):,}",
            )
        ]
        lines += self.sources(health.get("files") or {})
        lines += self.coverage()
        calendar = health.get("calendar") or {}
        if calendar:
            lines.append(
                self.say(
                    "health.calendar",
                    holidays=calendar.get("public_holidays", 0),
                    severe=calendar.get("severe_weather_days", 0),
                    excluded=calendar.get("days_excluded", 0),
                )
            )
        return tuple(lines)

    def sources(self, files: Mapping[str, Mapping[str, int]]) -> list[str]:
        """Rows read and quarantined per file, or per folder when a feed comes as one file a
        day (hundreds of files)."""
        groups: dict[str, list[tuple[str, Mapping[str, int]]]] = {}
        for name, counts in files.items():
            folder, _, rest = name.partition("/")
            groups.setdefault(f"{folder}/" if rest else name, []).append((name, counts))
        lines = []
        for group, named in groups.items():
            members = [counts for _, counts in named]
            name = (
                self.say("health.folder", folder=group, n=len(named))
                if len(named) > 1
                else named[0][0]
            )
            lines.append(
                self.say(
                    "health.file",
                    file=name,
                    read=f"{sum(c.get('rows_read', 0) for c in members):,}",
                    quarantined=f"{sum(c.get('rows_quarantined', 0) for c in members):,}",
                )
            )
        return lines

    def coverage(self) -> tuple[str, ...]:
        lines = []
        for feed in self.evidence.data_health.get("coverage", []):
            label = feed.get("label", feed.get("feed", ""))
            lines.append(
                self.say("health.coverage", feed=label, coverage=f"{feed['coverage']:.1%}")
            )
            mismatch = feed.get("sensor_ratio_mismatch") or {}
            lines.append(
                self.say(
                    "health.mismatch",
                    feed=label,
                    points=f"{mismatch.get('difference_points', 0):+.1f}",
                )
                if mismatch.get("flag")
                else self.say("health.alike", feed=label)
            )
        return tuple(lines)

    def provenance(self, tags: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        evidence = self.evidence
        return (
            (self.say("prov.spec_hash"), evidence.registration.spec_hash),
            (self.say("prov.data_hash"), tags.get("data_hash", "–")),
            (self.say("prov.code_version"), tags.get("code_version", "–")),
            (self.say("prov.seed"), tags.get("seed", "–")),
            (self.say("prov.analysis"), evidence.analysis_id or "–"),
            (self.say("prov.analysed_at"), _when(evidence.analysed_at)),
            (self.say("prov.generated_at"), _when(datetime.now(UTC))),
        )

    def runs(self) -> Table:
        """The MLflow run of every registered metric and of every robustness method."""
        rows = [
            (
                m.definition.label,
                self.say(f"role.{m.role.role}"),
                m.estimate.method,
                m.run_id,
            )
            for m in self.evidence.metrics
        ]
        primary = self.report.primary
        if primary is not None:
            rows += [
                (primary.definition.label, self.say("role.robustness"), method, run_id)
                for method, _, run_id in self.evidence.robustness
            ]
        columns = ("metric_name", "role", "method", "run")
        return Table(tuple(self.say(f"col.{name}") for name in columns), tuple(rows))


def _primary_state(item: MetricEvidence, alpha: float) -> str:
    """The primary metric as the rule judges it (``evaluation.decision``): significant at
    ``alpha`` by its corrected p-value, better or worse by the direction of its effect."""
    estimate: Estimate = item.estimate
    p_value = item.p_adjusted if item.p_adjusted is not None else estimate.p_value
    if not estimate.ok or estimate.effect is None or p_value is None:
        return "not_estimated"
    if p_value >= alpha or estimate.effect == 0:
        return "unclear"
    went_up = estimate.effect > 0
    return "better" if went_up == (item.definition.direction == "higher_is_better") else "worse"


def _guardrail(item: MetricEvidence) -> tuple[GuardrailState, float | None, float | None]:
    estimate = item.estimate
    return guardrail_state(
        direction=item.definition.direction,
        margin=item.role.margin or 0.0,
        margin_type=item.role.margin_type,
        ci_low=estimate.ci_low if estimate.ok else None,
        ci_high=estimate.ci_high if estimate.ok else None,
        counterfactual=counterfactual_mean(estimate.effect, estimate.relative_effect),
    )


def _on_or_after(label: str, start: date) -> bool:
    try:
        return date.fromisoformat(label[:10]) >= start
    except ValueError:
        return False


def _numbers(values: Sequence[Any]) -> tuple[float | None, ...]:
    return tuple(finite_number(v) for v in values)
