"""The dossier's technical appendix, worded: the registered rule, methods and their
assumptions, the design, data health (counts only), provenance and the MLflow runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from experiments.dossier_format import suppress_small_counts, timestamp
from experiments.dossier_model import Table
from experiments.dossier_text import TEXT
from experiments.portfolio import MetricEvidence
from experiments.spec import trial_pilot
from experiments.trial_decision import decision_rule_text
from experiments.trial_report import TrialReport

NAMED_ARM_UNITS = 12  # an arm lists its units by name up to this many, else counts them


class Words:
    """Words one trial's report in one language's phrases; the brief and the appendix
    each add their parts."""

    def __init__(self, lang: str, report: TrialReport) -> None:
        self.lang = lang
        self.text = TEXT[lang]
        self.report = report
        self.evidence = report.evidence
        self.spec = report.spec
        self.pilot = trial_pilot(self.spec)

    def say(self, key: str, **fields: Any) -> str:
        return self.text[key].format(**fields)


class Appendix(Words):
    def rule(self) -> tuple[str, ...]:
        """The registered rule, one sentence per outcome."""
        return decision_rule_text(self.spec, self.lang)

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
            (self.say("prov.analysed_at"), timestamp(evidence.analysed_at)),
            (self.say("prov.generated_at"), timestamp(datetime.now(UTC))),
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
