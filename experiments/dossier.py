"""The evidence dossier of a trial: its registration and latest evidence, worded, as PDF or HTML.

``dossier_content`` reads what the Trial page reads (``experiments.trial_report``), applies the
registered decision rule and finds the committee's latest decision, and words it all in one of
``LANGUAGES``: ``experiments.dossier_brief`` words the committee brief and
``experiments.dossier_appendix`` the technical appendix, with the phrases of
``experiments.dossier_text``. The result, a ``Dossier`` (``experiments.dossier_model``), holds
only strings and numbers: ``experiments.dossier_render`` lays it out as HTML or PDF, so both
formats say the same thing. ``build_dossier`` does both steps for the app's download button.

Privacy: the dossier prints facts about the trial and aggregates of its data, never a data row.
The usernames of who registered the trial and who recorded the decision are printed, since they
are accountability, not data subjects. Counts of people below ten are shown as "<10"
(``experiments.dossier_format.suppress_small_counts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from experiments.decisions import DecisionLog, DecisionRecord
from experiments.dossier_appendix import Appendix
from experiments.dossier_brief import Brief
from experiments.dossier_model import Dossier
from experiments.dossier_render import render_html, render_pdf
from experiments.dossier_text import LANGUAGES
from experiments.portfolio import TrialEvidence
from experiments.tracking import Tracker
from experiments.trial_report import TrialReport, trial_report
from livinglab.errors import InputError

FORMATS = ("pdf", "html")


def build_dossier(home: Path, trial_id: str, lang: str, fmt: str) -> bytes:
    """The dossier of ``trial_id`` in ``lang`` as a PDF or a self-contained HTML file."""
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
    appendix = Appendix(lang, report)
    brief = Brief(lang, report, appendix)
    evidence, primary = report.evidence, report.primary
    outcome = evidence.recommendation()
    return Dossier(
        lang=lang,
        text=dict(brief.text),
        trial_id=report.spec.id,
        title=report.spec.title,
        facts=brief.facts(),
        analysed=bool(evidence.metrics),
        recommendation=brief.say(f"rec.{outcome.recommendation}" if outcome else "rec.awaiting"),
        recommendation_kind=outcome.recommendation if outcome else "",
        reasons=brief.reasons() if outcome else (),
        extension=brief.extension(outcome, primary),
        decision=brief.decision(decision),
        summary=brief.summary(),
        primary=brief.primary_lines(primary),
        results=brief.results(),
        trajectory=brief.trajectory(primary),
        forest=tuple(brief.forest_row(m) for m in evidence.metrics),
        checks=brief.checks(),
        rule=appendix.rule(),
        methods=appendix.methods(),
        design=appendix.design(primary),
        data_health=appendix.data_health(),
        provenance=appendix.provenance(tags or {}),
        runs=appendix.runs(),
    )


def _run_tags(home: Path, evidence: TrialEvidence) -> Mapping[str, str]:
    """The tags every run of the latest analysis shares: data hash, code version, seed."""
    if not evidence.metrics:
        return {}
    return Tracker(home).run(evidence.metrics[0].run_id).tags
