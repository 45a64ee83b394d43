"""The contract every pilot plug-in fulfils, built-in or installed through an entry point.

Data flows one way: an adapter turns the raw files a pilot really produces into a validated long
observation table (``unit, timestamp, field, value``) plus a data-health report; declarative metric
definitions then say how those observations become one value per unit and period.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import polars as pl

from livinglab.errors import SpecError, UnknownNameError, require_one_of

HONG_KONG = "Asia/Hong_Kong"

Aggregation = Literal["count", "sum", "mean", "rate_per_1000", "ratio"]
TimeGrain = Literal["day", "week", "month"]
Direction = Literal["higher_is_better", "lower_is_better"]
Role = Literal["primary", "secondary", "guardrail"]

AGGREGATIONS: tuple[Aggregation, ...] = ("count", "sum", "mean", "rate_per_1000", "ratio")
TIME_GRAINS: tuple[TimeGrain, ...] = ("day", "week", "month")
DIRECTIONS: tuple[Direction, ...] = ("higher_is_better", "lower_is_better")
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")

OBSERVATION_SCHEMA = pl.Schema(
    {
        "unit": pl.String,
        "timestamp": pl.Datetime("us", HONG_KONG),
        "field": pl.String,
        "value": pl.Float64,
    }
)
QUARANTINE_SCHEMA = pl.Schema(
    {"file": pl.String, "line": pl.Int64, "reason": pl.String, "raw": pl.String}
)


@dataclass(frozen=True)
class MetricDefinition:
    """How one metric is computed from observations: declarative, so it can be compiled elsewhere.

    ``aggregation`` over the rows of ``source_field`` within a unit and period:

    - ``count``: number of rows (events); zero where the unit reported anything that period;
    - ``sum``: sum of values; zero where the unit reported anything that period;
    - ``mean``: mean of values; missing where the unit has no such rows;
    - ``rate_per_1000``: 1,000 x the mean of a 0/1 indicator (e.g. overflow bin-days per 1,000);
    - ``ratio``: ``scale`` x the sum of values over the sum of ``exposure_field``'s values, a rate
      with exposure (disengagements per 1,000 km: ``scale = 1000``, exposure ``km``); the period's
      event and exposure totals are kept beside it, for analyses that model counts.
    """

    name: str
    label: str
    source_field: str
    aggregation: Aggregation
    time_grain: TimeGrain
    direction: Direction
    unit: str
    default_role: Role
    description: str = ""
    exposure_field: str | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        require_one_of(f"metric {self.name!r} aggregation", self.aggregation, AGGREGATIONS)
        if (self.aggregation == "ratio") != (self.exposure_field is not None):
            raise SpecError(
                f"metric {self.name!r}: exposure_field is required with aggregation 'ratio' "
                "and not allowed with any other"
            )
        if not self.scale > 0:
            raise SpecError(f"metric {self.name!r}: scale {self.scale} must be positive")
        require_one_of(f"metric {self.name!r} time_grain", self.time_grain, TIME_GRAINS)
        require_one_of(f"metric {self.name!r} direction", self.direction, DIRECTIONS)
        require_one_of(f"metric {self.name!r} default_role", self.default_role, ROLES)


@dataclass(frozen=True)
class FileHealth:
    """What happened to one raw file: read = accepted + quarantined, always."""

    file: str
    rows_read: int
    rows_accepted: int

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_accepted


@dataclass(frozen=True)
class ExpectedReadings:
    """A regular feed: every unit should produce ``per_day`` rows of ``field`` each day.

    Data health compares what arrived with this expectation (coverage, outages, and whether
    availability differs between the arms). ``units_with`` names a unit attribute when only some
    units carry the device: only units where it is set are expected to report.
    """

    field: str
    per_day: float
    label: str
    units_with: str | None = None

    def __post_init__(self) -> None:
        if not self.per_day > 0:
            raise SpecError(f"expected readings of {self.field!r}: per_day must be positive")


@dataclass(frozen=True)
class Observations:
    """An adapter's output: the observation table, unit attributes, quarantine and data health.

    ``table`` follows ``OBSERVATION_SCHEMA`` (timestamps in Hong Kong time). ``units`` has one row
    per unit with a ``unit`` column and the attributes arms can be assigned by (route, district...).
    ``quarantine`` keeps every unreadable row with its file, line and reason. ``checks`` holds
    pilot-specific data-health figures (for example how many collections the log confirmed).
    ``expected`` names the regular feeds whose coverage data health should measure.
    """

    table: pl.LazyFrame
    units: pl.DataFrame
    quarantine: pl.DataFrame
    files: tuple[FileHealth, ...]
    checks: Mapping[str, Any] = field(default_factory=dict)
    expected: tuple[ExpectedReadings, ...] = ()

    def health(self) -> dict[str, Any]:
        """Data-health summary with counts that add up: read = accepted + quarantined."""
        read = sum(f.rows_read for f in self.files)
        accepted = sum(f.rows_accepted for f in self.files)
        reasons = (
            self.quarantine.group_by("reason").len().sort("len", descending=True).rows()
            if self.quarantine.height
            else []
        )
        return {
            "rows_read": read,
            "rows_accepted": accepted,
            "rows_quarantined": read - accepted,
            "files": {
                f.file: {
                    "rows_read": f.rows_read,
                    "rows_accepted": f.rows_accepted,
                    "rows_quarantined": f.rows_quarantined,
                }
                for f in self.files
            },
            "quarantine_reasons": dict(reasons),
            **self.checks,
        }


class Adapter(Protocol):
    """Reads a directory of raw files in the pilot's real published formats."""

    def __call__(self, data_dir: Path) -> Observations: ...


class Simulator(Protocol):
    """Writes realistic raw files plus ``truth.json`` into ``out_dir``; returns the truth."""

    def __call__(self, out_dir: Path, *, seed: int, effect: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Pilot:
    """A pilot plug-in: what it is, how its data is read, what it measures, how it is simulated.

    A configurable pilot (``configure`` set) takes its data layout and metrics from the trial
    spec's ``[data]`` table: ``configure(table)`` returns the pilot configured for that trial.
    """

    id: str
    name: str
    description: str
    unit_of_analysis: str
    adapter: Adapter
    metrics: tuple[MetricDefinition, ...]
    simulator: Simulator
    demo_spec: Path
    default_effect: float
    configure: Callable[[Any], Pilot] | None = None

    def metric(self, name: str) -> MetricDefinition:
        for definition in self.metrics:
            if definition.name == name:
                return definition
        known = ", ".join(m.name for m in self.metrics)
        raise UnknownNameError(f"pilot {self.id!r} has no metric {name!r}; it has: {known}")
