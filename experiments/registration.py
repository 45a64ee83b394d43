"""Registering a trial from a form: form values -> spec data -> validation -> TOML -> locked spec.

The Register page collects a ``TrialForm``; ``check_form`` turns it into spec data (the TOML
file's shape), validates it with ``parse_spec`` and maps each ``SpecError`` to the form field it
names, so that the page can show the message beside that field; ``render_toml`` writes the data as
the TOML text that is previewed and, on submit, stored by ``TrialStore.register``. Validation has a
single source of truth, ``experiments.spec``: the form adds no rules of its own.

The power calculator reads the pilot's historical data (``read_history``), summarises the primary
metric before the planned start (``baseline``) and asks ``evaluation.power.solve_design`` for the
minimum detectable effect of the chosen design and the power at the owner's MDE (``power_check``).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from evaluation.methods import METHODS
from evaluation.power import PowerDesign, solve_design
from experiments.spec import SCHEDULED_BY_DAY, TrialSpec, parse_spec
from experiments.store import Registration, TrialStore
from livinglab.errors import DataError, InputError, LivingLabError, SpecError
from pilots.aggregation import metric_values
from pilots.contract import Pilot
from pilots.registry import available_pilots, get_pilot

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
MAX_ATTRIBUTE_VALUES = 500


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


def register_text(home: Path, text: str) -> tuple[Registration, bool]:
    """Validate a TOML spec and lock it in ``home``'s store; returns it and whether it is new.

    Registering the same content again changes nothing; different content under a registered id
    raises ``SpecError``.
    """
    return TrialStore(home).register(check_text(text), text)


def register_form(home: Path, form: TrialForm) -> tuple[Registration, bool]:
    """Register the form's spec, stored as its TOML preview text; ``SpecError`` if invalid."""
    check = check_form(form, home)
    if not check.valid:
        raise SpecError("; ".join(check.errors.values()))
    return register_text(home, check.text)


# ---------------------------------------------------------------------------------------------
# TOML writer (tomllib only reads)

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WIDTH = 100


def render_toml(data: Mapping[str, Any]) -> str:
    """TOML text for ``data``: tables become sections, lists of tables ``[[arrays]]``.

    Values: strings, booleans, integers, floats, dates and datetimes, lists, and tables.
    ``tomllib.loads(render_toml(data)) == data`` (``None`` has no TOML form and is refused).
    """
    lines: list[str] = []
    _write_table(lines, (), data, header=None)
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(
    lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], header: str | None
) -> None:
    if header is not None:
        if lines:
            lines.append("")
        lines.append(header)
    sections = {k: v for k, v in table.items() if _is_section(v, path)}
    arrays = {k: v for k, v in table.items() if _is_array_of_tables(v)}
    for key, value in table.items():
        if key not in sections and key not in arrays:
            lines.append(_key_value(key, value))
    for key, value in sections.items():
        inner = (*path, key)
        _write_table(lines, inner, value, header=f"[{_dotted(inner)}]")
    for key, value in arrays.items():
        inner = (*path, key)
        for item in value:
            _write_table(lines, inner, item, header=f"[[{_dotted(inner)}]]")


def _is_section(value: Any, path: tuple[str, ...]) -> bool:
    """Top-level tables are sections; nested ones too unless small and flat enough to inline."""
    if not isinstance(value, Mapping) or not value:
        return False
    if not path:
        return True
    nested = any(isinstance(v, Mapping | list) for v in value.values())
    return nested or len(_inline(value)) > _WIDTH - 30


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key_value(key: str, value: Any) -> str:
    prefix = f"{_key(key)} = "
    text = _value(value)
    if isinstance(value, list) and len(prefix) + len(text) > _WIDTH:
        return prefix + _wrapped(value)
    return prefix + text


def _wrapped(items: list[Any]) -> str:
    """A long array across lines, packed up to the line width, as the demo specs are written."""
    rows: list[str] = []
    for text in (_value(item) + "," for item in items):
        if rows and len(rows[-1]) + 1 + len(text) <= _WIDTH:
            rows[-1] += " " + text
        else:
            rows.append("    " + text)
    return "[\n" + "\n".join(rows) + "\n]"


def _value(value: Any) -> str:
    if value is None:
        raise TypeError("TOML has no null: leave the key out instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # repr spells inf, nan and exponents as TOML does
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return _inline(value)
    raise TypeError(f"cannot write a {type(value).__name__} as TOML")


def _inline(table: Mapping[str, Any]) -> str:
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in table.items()) + " }"


def _string(text: str) -> str:
    if "\n" not in text:
        return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
    escaped = "".join(_escape_multiline(char) for char in text)
    return '"""\n' + escaped + '"""'


def _escape_multiline(char: str) -> str:
    if char in ("\n", "\t"):
        return char
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04x}"
    return char


def _key(key: str) -> str:
    return (
        key
        if _BARE_KEY.fullmatch(key)
        else json.dumps(key, ensure_ascii=False).replace("\x7f", "\\u007f")
    )


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)


# ---------------------------------------------------------------------------------------------
# Power and MDE from the pilot's history


@dataclass(frozen=True)
class History:
    """A pilot's historical data: unit attributes and each metric's per-unit-period values."""

    pilot: str
    data_dir: str
    units: pl.DataFrame
    values: dict[str, pl.DataFrame]

    def attributes(self) -> dict[str, list[str]]:
        """Text attributes of the units (``unit`` itself first) with the values each takes."""
        out = {}
        for name, dtype in self.units.schema.items():
            if dtype != pl.String:
                continue
            values = self.units[name].drop_nulls().unique().sort().to_list()
            if values and len(values) <= MAX_ATTRIBUTE_VALUES:
                out[name] = values
        return dict(sorted(out.items(), key=lambda item: item[0] != "unit"))

    @property
    def first_day(self) -> date | None:
        starts = [v["period_start"].min() for v in self.values.values() if v.height]
        return min(starts) if starts else None

    @property
    def last_day(self) -> date | None:
        ends = [v["period_end"].max() for v in self.values.values() if v.height]
        return max(ends) - timedelta(days=1) if ends else None


def read_history(pilot_id: str, data_dir: Path) -> History:
    """Run the pilot's adapter on ``data_dir`` and compute every metric per unit and period."""
    pilot = get_pilot(pilot_id)
    if pilot.configure is not None:
        raise InputError(
            f"pilot {pilot_id!r} takes its metrics from a spec's [data] table; register it by "
            "uploading its TOML spec"
        )
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: no such folder; name the folder holding {pilot.name}'s raw files"
        )
    try:
        observations = pilot.adapter(data_dir)
        values = {
            m.name: metric_values(observations.table, m)
            .select("unit", "period_start", "period_end", "value")
            .collect()
            for m in pilot.metrics
        }
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        raise DataError(f"Failed while reading {pilot.name} data from {data_dir}: {exc}") from exc
    return History(pilot_id, str(data_dir), observations.units, values)


@dataclass(frozen=True)
class Baseline:
    """The primary metric's history before the planned start, at the level it is randomised.

    ``serial_correlation`` is the intra-unit correlation of consecutive periods (lag 1, pooled
    over units). ``residual_sd`` and ``residual_correlation`` are the same after removing unit and
    period means, the errors a difference-in-differences model is left with.
    """

    metric: str
    level: str
    n_units: int
    n_periods: int
    first_period: date
    last_period: date
    mean: float
    sd: float
    serial_correlation: float
    residual_sd: float
    residual_correlation: float


def baseline(
    history: History, metric: str, *, before: date | None, assigned_by: str = "unit"
) -> Baseline:
    """Summarise ``metric``'s periods that end by ``before`` (all periods when ``None``).

    When arms are assigned by a unit attribute (routes of bins), units are averaged into that
    attribute's groups first: the groups are what is randomised and compared, so their variance,
    not the single units', sets the power.
    """
    if metric not in history.values:
        raise InputError(f"pilot {history.pilot!r} has no metric {metric!r}")
    values = history.values[metric].drop_nulls("value")
    if before is not None:
        values = values.filter(pl.col("period_end") <= before)
    level = "unit"
    if assigned_by != "unit" and assigned_by in history.units.columns:
        level = assigned_by
        groups = history.units.select("unit", pl.col(assigned_by).cast(pl.String).alias("group"))
        values = (
            values.join(groups, on="unit")
            .drop_nulls("group")
            .group_by("group", "period_start", "period_end")
            .agg(pl.col("value").mean())
            .rename({"group": "unit"})
        )
    values = values.sort("unit", "period_start")
    n_units, n_periods = values["unit"].n_unique(), values["period_start"].n_unique()
    if values.height < 4 or n_periods < 2:
        when = f" ending by {before}" if before else ""
        raise InputError(
            f"{metric}: too little history{when} for a power calculation ({values.height} "
            f"{level}-periods); name a data folder with earlier data"
        )
    residual = values.with_columns(
        (
            pl.col("value")
            - pl.col("value").mean().over("unit")
            - pl.col("value").mean().over("period_start")
            + pl.col("value").mean()
        ).alias("residual")
    )
    dof = max(values.height - n_units - n_periods + 1, 1)
    return Baseline(
        metric=metric,
        level=level,
        n_units=n_units,
        n_periods=n_periods,
        first_period=values["period_start"].min(),  # type: ignore[arg-type]
        last_period=values["period_start"].max(),  # type: ignore[arg-type]
        mean=float(values["value"].mean()),  # type: ignore[arg-type]
        sd=float(values["value"].std()),  # type: ignore[arg-type]
        serial_correlation=_lag_correlation(values, "value"),
        residual_sd=math.sqrt(float((residual["residual"] ** 2).sum()) / dof),
        residual_correlation=_lag_correlation(residual, "residual"),
    )


def _lag_correlation(frame: pl.DataFrame, column: str) -> float:
    """Correlation of each unit's value with its previous period's, pooled over units.

    Clipped to [-0.99, 0.99]: the power formulas take an AR(1) coefficient strictly inside (-1, 1).
    """
    pairs = frame.with_columns(pl.col(column).shift(1).over("unit").alias("previous")).drop_nulls(
        "previous"
    )
    if pairs.height < 3:
        return 0.0
    current, previous = pairs[column].to_numpy(), pairs["previous"].to_numpy()
    if current.std() == 0 or previous.std() == 0:
        return 0.0
    return float(np.clip(np.corrcoef(current, previous)[0, 1], -0.99, 0.99))


def arm_sizes(history: History | None, form: TrialForm) -> tuple[str, int, int]:
    """The level standard errors cluster on, and how many of its units each arm holds.

    That is ``cluster_by`` when set (lampposts assigned their phase singly), else what the arms
    are assigned by; in a switchback, the service days of each arm.
    """
    level = form.cluster_by.strip() or form.assigned_by.strip() or "unit"
    sizes = len(form.treated), len(form.control)
    units = history.units if history is not None else None
    if form.assigned_by == SCHEDULED_BY_DAY or level == form.assigned_by or units is None:
        return level, *sizes
    if {level, form.assigned_by} - set(units.columns):
        return level, *sizes
    label = pl.col(form.assigned_by).cast(pl.String)
    counts = [
        units.filter(label.is_in(list(names)))[level].n_unique()
        for names in (form.treated, form.control)
    ]
    return level, counts[0], counts[1]


def power_design(planned_method: str, switchback: bool) -> PowerDesign:
    """The formula of ``evaluation.power`` that fits the registered design.

    A switchback randomises service days; a randomized trial compares the randomised units' (or
    groups') post-period means; every other method compares changes from the before window
    against controls, which the difference-in-differences formula describes.
    """
    if switchback:
        return "switchback"
    return "individual" if planned_method == "randomized" else "did"


@dataclass(frozen=True)
class PowerCheck:
    """The design's MDE at the target power, and the power at the owner's MDE."""

    design: str
    method: str
    mde_absolute: float
    mde_relative: float
    power_at_mde: float | None
    inputs: dict[str, Any] = field(default_factory=dict)


def power_inputs(
    base: Baseline,
    design: PowerDesign,
    *,
    n_treated: int,
    n_control: int,
    n_periods: int,
    n_pre: int,
    alpha: float,
) -> dict[str, Any]:
    """``solve_design``'s keyword arguments, except ``mde`` and ``power``.

    In a switchback ``n_treated`` and ``n_control`` count service days, the blocks that are
    randomised; each of the data's units (routes) runs that schedule.
    """
    if n_treated < 1 or n_control < 1:
        raise InputError("the calculator needs at least one treated and one control unit")
    total = n_treated + n_control
    if design == "switchback":
        return {
            "design": design,
            "n_units": base.n_units,
            "n_periods": total,
            "alpha": alpha,
            "sd": base.sd,
            "treated_share": n_treated / total,
        }
    common = {
        "design": design,
        "n_units": total,
        "n_periods": n_periods,
        "alpha": alpha,
        "treated_share": n_treated / total,
    }
    if design == "did":
        return common | {
            "sd": base.residual_sd,
            "ar1": base.residual_correlation,
            "n_pre": n_pre,
        }
    return common | {"sd": base.sd, "ar1": base.serial_correlation}


def power_check(
    base: Baseline,
    design: PowerDesign,
    *,
    n_treated: int,
    n_control: int,
    n_periods: int,
    n_pre: int,
    alpha: float,
    power: float,
    mde: float | None,
) -> PowerCheck:
    """MDE (absolute and relative to the baseline mean) at ``power``; power at relative ``mde``."""
    if base.mean == 0:
        raise InputError(f"{base.metric}: the baseline mean is 0, so a relative MDE is undefined")
    inputs = power_inputs(
        base,
        design,
        n_treated=n_treated,
        n_control=n_control,
        n_periods=n_periods,
        n_pre=n_pre,
        alpha=alpha,
    )
    try:
        solved = solve_design(**inputs, mde=None, power=power)
        at_mde = None
        if mde is not None and mde > 0:
            at_mde = solve_design(**inputs, mde=mde * abs(base.mean), power=None).power
    except ValueError as exc:
        # With very few degrees of freedom the noncentral t's power is NaN for large effects.
        raise InputError(
            f"the {design} power formula has no answer for {n_treated} treated and {n_control} "
            f"control ({exc}); with so few units power is very low: add units"
        ) from exc
    return PowerCheck(
        design=design,
        method=solved.method,
        mde_absolute=solved.mde,
        mde_relative=solved.mde / abs(base.mean),
        power_at_mde=at_mde,
        inputs=inputs,
    )


def count_periods(first: date, last: date, grain: str) -> int:
    """Periods of ``grain`` (day, week from Monday, month) that ``[first, last]`` touches."""
    if last < first:
        return 0
    if grain == "day":
        return (last - first).days + 1
    if grain == "week":
        monday = first - timedelta(days=first.weekday())
        return (last - monday).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def power_curve(base: Baseline, inputs: Mapping[str, Any], effects: list[float]) -> list[float]:
    """Power of the design at each relative effect (a fraction of the baseline mean)."""
    return [
        solve_design(**inputs, mde=effect * abs(base.mean), power=None).power for effect in effects
    ]


def power_curve_figure(
    base: Baseline, check: PowerCheck, *, target_power: float, mde: float | None
) -> go.Figure:
    """Power against the relative effect, with the target power and the registered MDE marked."""
    top = max(2.5 * check.mde_relative, 1.5 * (mde or 0.0), 0.01)
    effects = [top * step / 60 for step in range(1, 61)]
    figure = go.Figure()
    figure.add_scatter(
        x=[100 * e for e in effects],
        y=[100 * p for p in power_curve(base, check.inputs, effects)],
        mode="lines",
        name="Power of this design",
        line={"color": "#0072B2", "width": 2},
    )
    figure.add_hline(
        y=100 * target_power,
        line={"color": "#E69F00", "dash": "dash"},
        annotation_text=f"target {target_power:.0%}",
    )
    figure.add_vline(
        x=100 * check.mde_relative,
        line={"color": "#009E73", "dash": "dot"},
        annotation_text=f"MDE {check.mde_relative:.1%}",
    )
    if mde is not None and mde > 0:
        figure.add_vline(
            x=100 * mde,
            line={"color": "#D55E00"},
            annotation_text=f"your MDE {mde:.0%}",
            annotation_position="bottom right",
        )
    figure.update_layout(
        xaxis_title="True effect (% change of the baseline mean)",
        yaxis_title="Power (%)",
        yaxis_range=[0, 100],
        height=320,
        margin={"t": 30, "b": 40},
        showlegend=False,
    )
    return figure
