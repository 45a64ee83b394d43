"""Trial specifications: parsed from TOML, validated field by field, identified by a content hash.

A spec is the trial's pre-registration: what is compared with what, from when, on which metrics,
with which method and error rates. Validation errors name the field and the allowed values. The
content hash is taken over the validated spec in canonical form, so reformatting the TOML or
reordering keys does not change it, while any change of substance does.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from evaluation.methods import METHODS, method_config
from evaluation.multiple_testing import CORRECTIONS, Correction
from livinglab.errors import SpecError, require_one_of
from pilots.contract import ROLES, Pilot, Role
from pilots.registry import get_pilot

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{2,63}$")
MarginType = Literal["absolute", "relative"]
TOP_LEVEL = {
    "id": "unique trial id (lowercase letters, digits, - and _)",
    "pilot": "the pilot plug-in whose data the trial uses",
    "title": "a short title",
    "owner": "who owns the trial",
    "hypothesis": "what the trial expects to show",
    "planned_method": "the registered analysis method",
    "mde": "minimum detectable effect, relative change of the primary metric",
    "alpha": "test level (default 0.05)",
    "power": "target power (default 0.8)",
    "multiple_testing": "correction across primary and secondary metrics: holm, bh or none",
    "arms": "table: assigned_by, treated, control, and cluster_by when units were assigned singly",
    "treatment": "table: start, or start_by_unit",
    "windows": "table: pre and post as [first day, last day]",
    "metrics": "array of tables: name, role, and margin for guardrails",
    "analysis": "table: options for the planned method, robustness methods, exclude_days",
    "data": "table: for the tabular pilot, where the data is and which metrics to compute",
}
SCHEDULED_BY_DAY = "day"
CALENDAR_EXCLUSIONS = ("public_holiday", "severe_weather")
ANALYSIS_FIELDS = {
    "options": "a table of options for the planned method",
    "robustness": "a list of other methods to run on the primary metric",
    "exclude_days": f"a list of calendar days to leave out: {', '.join(CALENDAR_EXCLUSIONS)}",
    "adjust_for": "calendar days the before/after regression adjusts for (prepost only)",
}


@dataclass(frozen=True)
class MetricRole:
    """A metric's role in this trial; guardrails carry a non-inferiority margin.

    ``margin`` is how much worse the guardrail may get before it fails, in the metric's own unit
    (``margin_type = "absolute"``) or as a fraction of its counterfactual mean (``"relative"``).
    """

    name: str
    role: Role
    margin: float | None = None
    margin_type: MarginType = "absolute"


@dataclass(frozen=True)
class AnalysisPlan:
    """How the planned analysis runs beyond the method's defaults; empty by default.

    ``options`` go to the planned method (``design = "cluster"`` for ``randomized``);
    ``robustness`` methods run on the primary metric beside the planned one; ``exclude_days``
    drops observations on public holidays or severe-weather days before metrics are computed;
    ``adjust_for`` adds the share of each period's days that were such days as regressors of the
    before/after regression (with a control arm the comparison itself removes them).
    """

    options: tuple[tuple[str, Any], ...] = ()
    robustness: tuple[str, ...] = ()
    exclude_days: tuple[str, ...] = ()
    adjust_for: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {
            "options": dict(self.options),
            "robustness": list(self.robustness),
            "exclude_days": list(self.exclude_days),
            "adjust_for": list(self.adjust_for),
        }
        return {key: value for key, value in data.items() if value}


@dataclass(frozen=True)
class TrialSpec:
    id: str
    pilot: str
    title: str
    owner: str
    hypothesis: str
    planned_method: str
    assigned_by: str
    treated: tuple[str, ...]
    control: tuple[str, ...]
    treatment_start: date | None
    start_by_unit: tuple[tuple[str, date], ...]
    pre: tuple[date, date]
    post: tuple[date, date]
    metrics: tuple[MetricRole, ...]
    mde: float
    alpha: float = 0.05
    power: float = 0.8
    multiple_testing: Correction = "holm"
    analysis: AnalysisPlan = AnalysisPlan()
    data: dict[str, Any] | None = None
    cluster_by: str | None = None

    @property
    def primary(self) -> MetricRole:
        return next(m for m in self.metrics if m.role == "primary")

    @property
    def window(self) -> tuple[date, date]:
        return (self.pre[0], self.post[1])

    @property
    def switchback(self) -> bool:
        """Arms are service days (a switchback schedule), not groups of units."""
        return self.assigned_by == SCHEDULED_BY_DAY

    def common_start(self) -> date | None:
        """The single treatment start, or ``None`` when treated units start on different dates."""
        if self.treatment_start is not None:
            return self.treatment_start
        starts = {start for _, start in self.start_by_unit}
        return starts.pop() if len(starts) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain data in the TOML file's shape, dates as ISO strings."""
        metrics = [
            {k: v for k, v in asdict(m).items() if v is not None and k != "margin_type"}
            | ({"margin_type": m.margin_type} if m.margin is not None else {})
            for m in self.metrics
        ]
        treatment = (
            {"start": self.treatment_start}
            if self.treatment_start
            else {"start_by_unit": dict(self.start_by_unit)}
        )
        data = {
            "id": self.id,
            "pilot": self.pilot,
            "title": self.title,
            "owner": self.owner,
            "hypothesis": self.hypothesis,
            "planned_method": self.planned_method,
            "mde": self.mde,
            "alpha": self.alpha,
            "power": self.power,
            "multiple_testing": self.multiple_testing,
            "arms": {
                "assigned_by": self.assigned_by,
                "treated": list(self.treated),
                "control": list(self.control),
            }
            | ({"cluster_by": self.cluster_by} if self.cluster_by else {}),
            "treatment": treatment,
            "windows": {"pre": list(self.pre), "post": list(self.post)},
            "metrics": metrics,
        }
        if self.analysis.to_dict():  # absent when empty, so older specs keep their hash
            data["analysis"] = self.analysis.to_dict()
        if self.data is not None:
            data["data"] = self.data
        return json.loads(json.dumps(data, default=_iso))

    def content_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_spec(path: Path) -> tuple[TrialSpec, str]:
    """Read and validate a spec file; returns the spec and the file's text."""
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse_spec(data), text
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from exc


def parse_spec(data: dict[str, Any]) -> TrialSpec:
    """Validate spec data (as read from TOML, or from ``TrialSpec.to_dict``)."""
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        allowed = ", ".join(TOP_LEVEL)
        raise SpecError(f"unknown field(s) {', '.join(unknown)}; allowed fields: {allowed}")
    trial_id = _text(data, "id")
    if not ID_PATTERN.match(trial_id):
        raise SpecError(
            f"id: {trial_id!r} is not allowed; use 3-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    pilot_id = _text(data, "pilot")
    pilot = _configured(get_pilot(pilot_id), data.get("data"))
    method = _text(data, "planned_method")
    require_one_of("planned_method", method, METHODS)
    arms = _table(data, "arms")
    unknown_arms = sorted(set(arms) - {"assigned_by", "treated", "control", "cluster_by"})
    if unknown_arms:
        raise SpecError(
            f"arms: unknown field(s) {', '.join(unknown_arms)}; allowed: assigned_by, treated, "
            "control, cluster_by"
        )
    by_day = arms.get("assigned_by") == SCHEDULED_BY_DAY
    treated = _names(arms, "arms.treated", days=by_day)
    control = _names(arms, "arms.control", days=by_day)
    overlap = sorted(set(treated) & set(control))
    if overlap:
        raise SpecError(f"arms: {', '.join(overlap)} are listed as both treated and control")
    treatment = _table(data, "treatment")
    start, by_unit = _treatment(treatment, treated)
    windows = _table(data, "windows")
    pre = _window(windows, "windows.pre")
    post = _window(windows, "windows.post")
    if not pre[1] < post[0]:
        raise SpecError(f"windows: pre ends {pre[1]}, which is not before post starts {post[0]}")
    starts = [start] if start else [d for _, d in by_unit]
    for first in starts:
        if not pre[1] < first <= post[1]:
            raise SpecError(
                f"treatment start {first} must fall after windows.pre ({pre[1]}) and by the end "
                f"of windows.post ({post[1]})"
            )
    metrics = _metrics(data.get("metrics"), [m.name for m in pilot.metrics], pilot_id)
    assigned_by = _text(arms, "arms.assigned_by", key="assigned_by")
    if assigned_by == SCHEDULED_BY_DAY:
        _check_schedule(treated, control, start, post)
    cluster_by = arms.get("cluster_by")
    if cluster_by is not None and (not isinstance(cluster_by, str) or not cluster_by.strip()):
        raise SpecError(
            'arms.cluster_by: the unit attribute treatment was assigned by, e.g. "unit" when '
            "each lamppost was assigned its phase singly"
        )
    if cluster_by is not None and assigned_by == SCHEDULED_BY_DAY:
        raise SpecError("arms.cluster_by: a switchback is analysed by service day; leave it out")
    alpha = _fraction(data, "alpha", default=0.05)
    return TrialSpec(
        id=trial_id,
        pilot=pilot_id,
        title=_text(data, "title"),
        owner=_text(data, "owner"),
        hypothesis=_text(data, "hypothesis"),
        planned_method=method,
        assigned_by=assigned_by,
        treated=treated,
        control=control,
        treatment_start=start,
        start_by_unit=by_unit,
        pre=pre,
        post=post,
        metrics=metrics,
        mde=_fraction(data, "mde", required=True, upper=10.0),
        alpha=alpha,
        power=_fraction(data, "power", default=0.8),
        multiple_testing=_correction(data.get("multiple_testing", "holm")),
        analysis=_analysis(data.get("analysis", {}), method, alpha),
        data=json.loads(json.dumps(data["data"], default=_iso)) if "data" in data else None,
        cluster_by=cluster_by.strip() if cluster_by else None,
    )


def trial_pilot(spec: TrialSpec) -> Pilot:
    """The pilot whose data a trial reads, configured by the spec's ``[data]`` if it takes one."""
    return _configured(get_pilot(spec.pilot), spec.data)


def _configured(pilot: Pilot, table: Any) -> Pilot:
    if pilot.configure is not None:
        return pilot.configure(table)
    if table is not None:
        raise SpecError(
            f"data: pilot {pilot.id!r} reads its own files; only a pilot without a plug-in "
            "('tabular') takes a [data] table"
        )
    return pilot


def _check_schedule(
    treated: tuple[str, ...],
    control: tuple[str, ...],
    start: date | None,
    post: tuple[date, date],
) -> None:
    """A switchback schedule lists service days, all from the trial start to the window's end."""
    if start is None:
        raise SpecError(
            'treatment.start: a switchback (arms.assigned_by = "day") needs the first day of '
            "the schedule as treatment.start, not start_by_unit"
        )
    for field, days in (("arms.treated", treated), ("arms.control", control)):
        for text in days:
            day = date.fromisoformat(text)
            if not start <= day <= post[1]:
                raise SpecError(
                    f"{field}: service day {day} is outside the switchback, which runs from "
                    f"treatment.start {start} to the end of windows.post {post[1]}"
                )


def _analysis(value: Any, method: str, alpha: float) -> AnalysisPlan:
    if not isinstance(value, dict):
        raise SpecError("analysis: a table with " + ", ".join(ANALYSIS_FIELDS))
    unknown = sorted(set(value) - set(ANALYSIS_FIELDS))
    if unknown:
        allowed = "; ".join(f"{key} ({what})" for key, what in ANALYSIS_FIELDS.items())
        raise SpecError(f"analysis: unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    options = value.get("options", {})
    if not isinstance(options, dict):
        raise SpecError("analysis.options: a table of option = value for the planned method")
    reserved = sorted(set(options) & {"alpha", "seed"})
    if reserved:
        raise SpecError(
            f"analysis.options: {', '.join(reserved)} cannot be set here; alpha is the spec's "
            "own field and the seed is chosen when the analysis runs"
        )
    try:
        method_config(method, alpha=alpha, **options)
    except SpecError as exc:
        raise SpecError(f"analysis.options: {exc}") from exc
    robustness = _name_list(value, "robustness")
    for name in robustness:
        require_one_of("analysis.robustness", name, METHODS)
    if method in robustness:
        raise SpecError(f"analysis.robustness: {method!r} is already the planned method")
    exclude = _name_list(value, "exclude_days")
    for name in exclude:
        require_one_of("analysis.exclude_days", name, CALENDAR_EXCLUSIONS)
    adjust = _name_list(value, "adjust_for")
    for name in adjust:
        require_one_of("analysis.adjust_for", name, CALENDAR_EXCLUSIONS)
    if adjust and method != "prepost":
        raise SpecError(
            f"analysis.adjust_for: only the before/after method (prepost) adjusts for calendar "
            f"days; {method!r} compares with controls that share them, so use exclude_days"
        )
    if set(adjust) & set(exclude):
        both = ", ".join(sorted(set(adjust) & set(exclude)))
        raise SpecError(f"analysis: {both} days cannot be both excluded and adjusted for")
    return AnalysisPlan(tuple(sorted(options.items())), robustness, exclude, adjust)


def _name_list(table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"analysis.{key}: a list of names ({ANALYSIS_FIELDS[key]})")
    if len(set(value)) != len(value):
        raise SpecError(f"analysis.{key}: lists a name more than once")
    return tuple(value)


def _text(data: dict[str, Any], field: str, *, key: str | None = None) -> str:
    value = data.get(key or field)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{field}: required, a non-empty string")
    return value.strip()


def _table(data: dict[str, Any], field: str) -> dict[str, Any]:
    value = data.get(field)
    if not isinstance(value, dict):
        raise SpecError(f"{field}: required table ({TOP_LEVEL[field]})")
    return value


def _names(table: dict[str, Any], field: str, *, days: bool = False) -> tuple[str, ...]:
    """Unit or group names; for a switchback, service days as ``YYYY-MM-DD`` (TOML dates too)."""
    value = table.get(field.split(".")[-1])
    if days and isinstance(value, list):
        value = [_iso_day(v, field) for v in value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{field}: required, a non-empty list of unit or group names")
    if len(set(value)) != len(value):
        raise SpecError(f"{field}: lists a name more than once")
    return tuple(value)


def _iso_day(value: Any, field: str) -> str:
    """A service day in one spelling only, so that a day cannot hide in both arms."""
    day = _date(value, field)
    if isinstance(value, str) and value != day.isoformat():
        raise SpecError(f"{field}: {value!r} is not written YYYY-MM-DD")
    return day.isoformat()


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SpecError(f"{field}: {value!r} is not a date; write YYYY-MM-DD")


def _window(table: dict[str, Any], field: str) -> tuple[date, date]:
    value = table.get(field.split(".")[-1])
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError(f"{field}: required, [first day, last day]")
    first, last = _date(value[0], field), _date(value[1], field)
    if first > last:
        raise SpecError(f"{field}: first day {first} is after last day {last}")
    return first, last


def _treatment(
    table: dict[str, Any], treated: tuple[str, ...]
) -> tuple[date | None, tuple[tuple[str, date], ...]]:
    has_start, has_by_unit = "start" in table, "start_by_unit" in table
    if has_start == has_by_unit:
        raise SpecError(
            "treatment: give exactly one of start (one date for all treated) or start_by_unit"
        )
    if has_start:
        return _date(table["start"], "treatment.start"), ()
    by_unit = table["start_by_unit"]
    if not isinstance(by_unit, dict):
        raise SpecError("treatment.start_by_unit: a table of treated name = date")
    missing = [name for name in treated if name not in by_unit]
    extra = [name for name in by_unit if name not in treated]
    if missing or extra:
        raise SpecError(
            "treatment.start_by_unit: must give a date for every treated name and nothing else"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; not treated {', '.join(extra)}" if extra else "")
        )
    dates = tuple(
        (name, _date(by_unit[name], f"treatment.start_by_unit.{name}")) for name in treated
    )
    return None, dates


def _metrics(value: Any, known: list[str], pilot_id: str) -> tuple[MetricRole, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError("metrics: required, at least one [[metrics]] table with name and role")
    metrics = []
    for index, entry in enumerate(value):
        field = f"metrics[{index}]"
        if not isinstance(entry, dict):
            raise SpecError(f"{field}: a table with name and role")
        name = entry.get("name")
        require_one_of(f"{field}.name (pilot {pilot_id})", name, known)
        role = entry.get("role")
        require_one_of(f"{field}.role", role, ROLES)
        margin_type = entry.get("margin_type", "absolute")
        require_one_of(f"{field}.margin_type", margin_type, ("absolute", "relative"))
        margin = entry.get("margin")
        if role == "guardrail":
            if not isinstance(margin, int | float) or isinstance(margin, bool) or margin <= 0:
                raise SpecError(
                    f"{field}.margin: a guardrail needs a positive non-inferiority margin "
                    "(how much worse it may get)"
                )
            margin = float(margin)
        elif margin is not None:
            raise SpecError(f"{field}.margin: only guardrail metrics take a margin")
        metrics.append(MetricRole(name, role, margin, margin_type))
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise SpecError("metrics: a metric is listed more than once")
    primaries = [m.name for m in metrics if m.role == "primary"]
    if len(primaries) != 1:
        raise SpecError(f"metrics: exactly one primary metric is required; found {len(primaries)}")
    return tuple(metrics)


def _fraction(
    data: dict[str, Any],
    field: str,
    *,
    default: float | None = None,
    required: bool = False,
    upper: float = 1.0,
) -> float:
    value = data.get(field, None if required else default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < upper:
        raise SpecError(f"{field}: required, a number between 0 and {upper:g} ({TOP_LEVEL[field]})")
    return float(value)


def _correction(value: Any) -> Correction:
    require_one_of("multiple_testing", value, CORRECTIONS)
    return value  # type: ignore[no-any-return]


def _iso(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
