"""Registering a trial from a form: form values -> spec data -> validation -> TOML -> locked spec.

The Register page collects a ``TrialForm``; ``check_form`` turns it into spec data (the TOML
file's shape), validates it with ``parse_spec`` and maps each ``SpecError`` to the form field it
names, so that the page can show the message beside that field; ``render_toml`` writes the data as
the TOML text that is previewed and, on submit, stored by ``TrialStore.register``. Validation has a
single source of truth, ``experiments.spec``: the form adds no rules of its own.

The power calculator is ``experiments.registration_power``; the TOML writer
``experiments.toml_writer``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from evaluation.methods import METHODS
from experiments.spec import TrialSpec, parse_spec
from experiments.store import Registration, TrialStore
from experiments.toml_writer import render_toml
from livinglab.errors import LivingLabError, SpecError
from pilots.contract import Pilot
from pilots.registry import available_pilots

FIELDS = {
    "id": "Trial id",
    "pilot": "Pilot",
    "title": "Title",
    "owner": "Owner",
    "hypothesis": "Hypothesis",
    "arms.assigned_by": "Arms assigned by",
    "arms.treated": "Treated",
    "arms.control": "Control",
    "arms.cluster_by": "Cluster standard errors on",
    "treatment.start": "Treatment start",
    "treatment.start_by_unit": "Start per treated name",
    "windows.pre": "Before window",
    "windows.post": "After window",
    "metrics": "Metrics",
    "planned_method": "Planned method",
    "analysis.options": "Method options",
    "analysis.robustness": "Robustness checks",
    "analysis.exclude_days": "Days left out",
    "analysis.adjust_for": "Days adjusted for",
    "mde": "Minimum detectable effect",
    "alpha": "Test level (alpha)",
    "power": "Target power",
    "multiple_testing": "Multiple-testing correction",
    "data": "Data table",
}
GENERAL = "form"
# Where a message names a whole table, the field the owner would change to fix it.
TABLE_FIELD = {
    "arms": "arms.control",
    "treatment": "treatment.start",
    "windows": "windows.post",
    "analysis": "analysis.adjust_for",
    "trial": "id",
}
# Stand-ins for fields validated late, so that one error does not hide the others behind it.
PROBES: dict[str, Any] = {
    "id": "draft-trial",
    "title": "-",
    "owner": "-",
    "hypothesis": "-",
    "mde": 0.1,
    "alpha": 0.05,
    "power": 0.8,
    "multiple_testing": "holm",
}


# ---------------------------------------------------------------------------------------------
# What the form offers


@dataclass(frozen=True)
class MetricOption:
    name: str
    label: str
    unit: str
    default_role: str
    time_grain: str
    direction: str


@dataclass(frozen=True)
class PilotOption:
    id: str
    name: str
    description: str
    unit_of_analysis: str
    metrics: tuple[MetricOption, ...]


def form_pilots() -> list[PilotOption]:
    """Pilots whose metrics the form can list; a configurable pilot needs its ``[data]`` table."""
    return [_pilot_option(p) for p in available_pilots().values() if p.configure is None]


def table_pilots() -> list[str]:
    """Pilots registered by a TOML spec only (their metrics come from the spec's ``[data]``)."""
    return sorted(p.id for p in available_pilots().values() if p.configure is not None)


def method_summaries() -> dict[str, str]:
    return {name: method.summary for name, method in METHODS.items()}


def method_option_defaults(method: str) -> dict[str, Any]:
    """The planned method's options and their defaults (``alpha`` and ``seed`` are not options)."""
    config = METHODS[method].config
    return {f.name: f.default for f in fields(config) if f.name not in ("alpha", "seed")}


def _pilot_option(pilot: Pilot) -> PilotOption:
    metrics = tuple(
        MetricOption(m.name, m.label, m.unit, m.default_role, m.time_grain, m.direction)
        for m in pilot.metrics
    )
    return PilotOption(pilot.id, pilot.name, pilot.description, pilot.unit_of_analysis, metrics)


# ---------------------------------------------------------------------------------------------
# Form -> spec data -> validation


@dataclass(frozen=True)
class MetricChoice:
    """A pilot metric's role in the trial; ``role = ""`` leaves it out."""

    name: str
    role: str = ""
    margin: float | None = None
    margin_type: str = "absolute"


@dataclass(frozen=True)
class TrialForm:
    """The Register page's values, as typed; nothing here is validated yet."""

    id: str = ""
    pilot: str = ""
    title: str = ""
    owner: str = ""
    hypothesis: str = ""
    assigned_by: str = ""
    treated: tuple[str, ...] = ()
    control: tuple[str, ...] = ()
    cluster_by: str = ""
    staggered: bool = False
    start: date | None = None
    start_by_unit: tuple[tuple[str, date | None], ...] = ()
    pre: tuple[date | None, date | None] = (None, None)
    post: tuple[date | None, date | None] = (None, None)
    metrics: tuple[MetricChoice, ...] = ()
    planned_method: str = ""
    options: str = ""
    robustness: tuple[str, ...] = ()
    exclude_days: tuple[str, ...] = ()
    adjust_for: tuple[str, ...] = ()
    mde: float | None = None
    alpha: float | None = 0.05
    power: float | None = 0.8
    multiple_testing: str = "holm"

    def planned_start(self) -> date | None:
        """The first treatment day typed so far (the earliest cohort's when staggered)."""
        if not self.staggered:
            return self.start
        days = [day for _, day in self.start_by_unit if day is not None]
        return min(days) if days else None

    def blank_fields(self) -> set[str]:
        """Fields the owner has not filled in yet: their errors wait for a submit attempt."""
        blank = {
            name
            for name in ("id", "title", "owner", "hypothesis", "planned_method")
            if not getattr(self, name).strip()
        }
        checks = {
            "arms.assigned_by": not self.assigned_by.strip(),
            "arms.treated": not self.treated,
            "arms.control": not self.control,
            "treatment.start": not self.staggered and self.start is None,
            "treatment.start_by_unit": self.staggered
            and all(day is None for _, day in self.start_by_unit),
            "windows.pre": self.pre == (None, None),
            "windows.post": self.post == (None, None),
            "mde": self.mde is None,
        }
        return blank | {name for name, empty in checks.items() if empty}


def split_names(text: str, *, days: bool = False) -> tuple[str, ...]:
    """Names from a text box, one per line or comma-separated (days may also be space-separated)."""
    separators = r"[,\n\s]+" if days else r"[,\n]+"
    return tuple(name.strip() for name in re.split(separators, text) if name.strip())


def parse_options(text: str) -> dict[str, Any]:
    """The method options typed as TOML ``key = value`` lines."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(
            f'analysis.options: not valid "option = value" lines ({exc}); write text in quotes, '
            'e.g. design = "cluster"'
        ) from exc


def spec_data(form: TrialForm) -> dict[str, Any]:
    """The spec as TOML-shaped data; blank optional fields are left out, invalid ones kept."""
    data: dict[str, Any] = {
        "id": form.id.strip(),
        "pilot": form.pilot,
        "title": form.title.strip(),
        "owner": form.owner.strip(),
        "hypothesis": form.hypothesis.replace("\r\n", "\n").strip(),
        "planned_method": form.planned_method,
    }
    numbers = {"mde": form.mde, "alpha": form.alpha, "power": form.power}
    data |= {name: float(value) for name, value in numbers.items() if value is not None}
    data["multiple_testing"] = form.multiple_testing
    arms: dict[str, Any] = {
        "assigned_by": form.assigned_by.strip(),
        "treated": list(form.treated),
        "control": list(form.control),
    }
    if form.cluster_by.strip():
        arms["cluster_by"] = form.cluster_by.strip()
    data["arms"] = arms
    if form.staggered:
        starts = {name: day for name, day in form.start_by_unit if day is not None}
        data["treatment"] = {"start_by_unit": starts}
    else:
        data["treatment"] = {"start": form.start} if form.start else {}
    data["windows"] = {
        "pre": [day for day in form.pre if day is not None],
        "post": [day for day in form.post if day is not None],
    }
    analysis: dict[str, Any] = {}
    try:
        options = parse_options(form.options)
    except SpecError:
        options = {}  # reported by check_form; the preview shows the rest meanwhile
    for key, value in (
        ("options", options),
        ("robustness", list(form.robustness)),
        ("exclude_days", list(form.exclude_days)),
        ("adjust_for", list(form.adjust_for)),
    ):
        if value:
            analysis[key] = value
    if analysis:
        data["analysis"] = analysis
    data["metrics"] = [_metric_entry(choice) for choice in form.metrics if choice.role]
    return data


def _metric_entry(choice: MetricChoice) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": choice.name, "role": choice.role}
    if choice.role == "guardrail" and choice.margin is not None:
        entry["margin"] = float(choice.margin)
        if choice.margin_type != "absolute":
            entry["margin_type"] = choice.margin_type
    return entry


def error_field(message: str, data: Mapping[str, Any]) -> str:
    """The form field a validation message is about (``metrics.<name>`` for a metric's row)."""
    if message.startswith("unknown pilot"):
        return "pilot"
    if message.startswith("treatment start "):
        staggered = "start_by_unit" in data.get("treatment", {})
        return "treatment.start_by_unit" if staggered else "treatment.start"
    head = message.split(":", 1)[0].split(" ", 1)[0]
    row = re.match(r"metrics\[(\d+)\]", head)
    if row:
        metrics = data.get("metrics", [])
        index = int(row.group(1))
        if index < len(metrics) and isinstance(metrics[index], dict):
            return f"metrics.{metrics[index].get('name')}"
        return "metrics"
    if head.startswith("treatment.start_by_unit"):
        return "treatment.start_by_unit"
    if head in TABLE_FIELD:
        return TABLE_FIELD[head]
    return head if head in FIELDS else GENERAL


def validation_errors(data: dict[str, Any]) -> dict[str, str]:
    """Every error ``parse_spec`` reports, by field.

    ``parse_spec`` stops at its first error; a field it checks early (the id) or that has a
    harmless stand-in (title, owner, numbers) is replaced by a valid stand-in and the data checked
    again, so that an empty title does not hide a mistake in the arms. Blank text fields get
    their stand-in up front, with ``parse_spec``'s own message for them.
    """
    errors: dict[str, str] = {}
    probe = dict(data)
    for name in ("id", "title", "owner", "hypothesis"):
        if not str(probe.get(name, "")).strip():
            errors[name] = f"{name}: required, a non-empty string"
            probe[name] = PROBES[name]
    for _ in range(len(PROBES) + 1):
        try:
            parse_spec(probe)
        except LivingLabError as exc:
            where = error_field(str(exc), probe)
            errors.setdefault(where, str(exc))
            if where in PROBES and probe.get(where) != PROBES[where]:
                probe[where] = PROBES[where]
                continue
        break
    return errors


@dataclass(frozen=True)
class FormCheck:
    """A form's spec data, its TOML text, its errors by field, and the spec when valid.

    ``registered_hash`` is set when this exact spec is already registered.
    """

    data: dict[str, Any]
    text: str
    errors: dict[str, str]
    spec: TrialSpec | None = None
    registered_hash: str | None = None

    @property
    def valid(self) -> bool:
        return not self.errors


def check_form(form: TrialForm, home: Path | None = None) -> FormCheck:
    """Validate ``form``; with ``home``, also against the trials already registered there."""
    data = spec_data(form)
    text = render_toml(data)
    errors = validation_errors(data)
    try:
        parse_options(form.options)
    except SpecError as exc:
        errors["analysis.options"] = str(exc)
    if errors:
        return FormCheck(data, text, errors)
    spec = parse_spec(tomllib.loads(text))
    registered = None
    if home is not None and spec.id in TrialStore(home).ids():
        try:
            existing = TrialStore(home).get(spec.id).spec_hash
        except LivingLabError as exc:
            return FormCheck(data, text, {"id": str(exc)}, spec)
        if existing != spec.content_hash():
            message = (
                f"id: trial {spec.id!r} is already registered with a different spec (hash "
                f"{existing[:12]}); a registered spec cannot change: choose a new id"
            )
            return FormCheck(data, text, {"id": message}, spec)
        registered = existing
    return FormCheck(data, text, {}, spec, registered)


def check_text(text: str) -> TrialSpec:
    """Validate a TOML spec typed, pasted or uploaded as text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML: {exc}") from exc
    return parse_spec(data)


def register_text(home: Path, text: str, actor: str | None = None) -> tuple[Registration, bool]:
    """Validate a TOML spec and lock it in ``home``'s store; returns it and whether it is new.

    Registering the same content again changes nothing; different content under a registered id
    raises ``SpecError``.
    """
    return TrialStore(home).register(check_text(text), text, actor)


def register_form(
    home: Path, form: TrialForm, actor: str | None = None
) -> tuple[Registration, bool]:
    """Register the form's spec, stored as its TOML preview text; ``SpecError`` if invalid."""
    check = check_form(form, home)
    if not check.valid:
        raise SpecError("; ".join(check.errors.values()))
    return register_text(home, check.text, actor)
