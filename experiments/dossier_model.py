"""The evidence dossier as plain data: what it says, worded, ready to be laid out.

``experiments.dossier`` fills a ``Dossier`` from a trial's evidence; ``experiments.dossier_render``
lays it out as HTML or PDF and ``experiments.dossier_charts`` draws its charts, so both formats
say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from experiments.summary import Verdict


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
