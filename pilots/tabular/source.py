"""Where a pilot without a plug-in keeps its data, and what the columns mean: the spec's ``[data]``.

A pilot owner describes one table (a CSV or Parquet file, or a SQLite database table) and the
metrics to compute from it, in the trial spec, without writing Python::

    [data]
    file = "meters.csv"              # in the data directory: .csv, .parquet, .db / .sqlite
    table = "occupancy"              # only for a database
    unit = "meter_id"                # the unit of analysis
    time = "recorded_at"             # ISO-8601; times without an offset are in `timezone`
    timezone = "Asia/Hong_Kong"      # default
    time_format = "%d/%m/%Y %H:%M"   # optional, when times are not ISO-8601
    attributes = ["street", "district"]          # unit attributes arms can be assigned by
    expected_per_day = { occupied_minutes = 24 } # optional: regular feeds, for coverage

    [[data.metrics]]
    name = "occupied_minutes"
    label = "Occupied minutes per meter-hour"
    field = "occupied_minutes"      # the column the metric aggregates
    aggregation = "mean"            # count, sum, mean, rate_per_1000, ratio
    time_grain = "week"             # day, week, month
    direction = "higher_is_better"
    unit = "minutes per hour"
    # exposure_field = "km", scale = 1000 for a ratio

Only the columns named here are ever read: anything else in the table (plates, names, phone
numbers) never enters the platform, not even the quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from livinglab.errors import SpecError
from pilots.contract import HONG_KONG, MetricDefinition

FILE_KINDS = {".csv": "csv", ".parquet": "parquet", ".db": "sqlite", ".sqlite": "sqlite"}
SOURCE_FIELDS = {
    "file": "the file in the data directory (.csv, .parquet, .db or .sqlite)",
    "table": "the table, for a database file",
    "unit": "the column naming the unit of analysis",
    "time": "the column with each row's time",
    "timezone": "the time zone of times without an offset (default Asia/Hong_Kong)",
    "time_format": "a strftime format, when times are not ISO-8601",
    "attributes": "unit attribute columns that arms can be assigned by",
    "expected_per_day": "a table: column = rows expected per unit and day",
    "metrics": "array of tables: name, label, field, aggregation, time_grain, direction, unit",
}
METRIC_FIELDS = (
    "name",
    "label",
    "field",
    "aggregation",
    "time_grain",
    "direction",
    "unit",
    "description",
    "exposure_field",
    "scale",
)


@dataclass(frozen=True)
class TabularSource:
    file: str
    kind: str
    table: str | None
    unit: str
    time: str
    timezone: str
    time_format: str | None
    attributes: tuple[str, ...]
    expected_per_day: tuple[tuple[str, float], ...]
    metrics: tuple[MetricDefinition, ...]

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Every numeric column a metric reads, in first-use order."""
        columns = [m.source_field for m in self.metrics] + [
            m.exposure_field for m in self.metrics if m.exposure_field
        ]
        columns += [name for name, _ in self.expected_per_day]
        return tuple(dict.fromkeys(columns))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.unit, self.time, *self.attributes, *self.value_columns)))


def parse_source(data: Any) -> TabularSource:
    """Validate a spec's ``[data]`` table; errors name the field and what would be valid."""
    if not isinstance(data, Mapping):
        raise SpecError("data: required table for a tabular pilot (file, unit, time, metrics)")
    unknown = sorted(set(data) - set(SOURCE_FIELDS))
    if unknown:
        allowed = "; ".join(f"{key} ({what})" for key, what in SOURCE_FIELDS.items())
        raise SpecError(f"data: unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    file = _text(data, "file")
    suffix = "." + file.rsplit(".", 1)[-1].lower() if "." in file else ""
    if suffix not in FILE_KINDS:
        raise SpecError(f"data.file: {file!r} is not a .csv, .parquet, .db or .sqlite file")
    kind = FILE_KINDS[suffix]
    table = data.get("table")
    if kind == "sqlite" and not (isinstance(table, str) and table.strip()):
        raise SpecError("data.table: required for a database file (the table to read)")
    if kind != "sqlite" and table is not None:
        raise SpecError("data.table: only a database file has tables")
    timezone = data.get("timezone", HONG_KONG)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, TypeError, ValueError) as exc:
        raise SpecError(f"data.timezone: {timezone!r} is not an IANA time zone") from exc
    time_format = data.get("time_format")
    if time_format is not None and not (isinstance(time_format, str) and "%" in time_format):
        raise SpecError("data.time_format: a strftime format such as '%d/%m/%Y %H:%M'")
    attributes = data.get("attributes", [])
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise SpecError("data.attributes: a list of column names")
    expected = data.get("expected_per_day", {})
    if not isinstance(expected, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in expected.values()
    ):
        raise SpecError("data.expected_per_day: a table of column = positive rows per unit-day")
    return TabularSource(
        file=file,
        kind=kind,
        table=table,
        unit=_text(data, "unit"),
        time=_text(data, "time"),
        timezone=timezone,
        time_format=time_format,
        attributes=tuple(attributes),
        expected_per_day=tuple((str(k), float(v)) for k, v in expected.items()),
        metrics=_metrics(data.get("metrics")),
    )


def _metrics(value: Any) -> tuple[MetricDefinition, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError("data.metrics: required, at least one [[data.metrics]] table")
    metrics = []
    for index, entry in enumerate(value):
        where = f"data.metrics[{index}]"
        if not isinstance(entry, Mapping):
            raise SpecError(f"{where}: a table with {', '.join(METRIC_FIELDS[:7])}")
        unknown = sorted(set(entry) - set(METRIC_FIELDS))
        if unknown:
            raise SpecError(
                f"{where}: unknown field(s) {', '.join(unknown)}; allowed: "
                + ", ".join(METRIC_FIELDS)
            )
        try:
            metrics.append(
                MetricDefinition(
                    name=_text(entry, "name", where),
                    label=_text(entry, "label", where),
                    source_field=_text(entry, "field", where),
                    aggregation=entry.get("aggregation"),
                    time_grain=entry.get("time_grain"),
                    direction=entry.get("direction"),
                    unit=_text(entry, "unit", where),
                    default_role="secondary",
                    description=str(entry.get("description", "")),
                    exposure_field=entry.get("exposure_field"),
                    scale=float(entry.get("scale", 1.0)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{where}: {exc}") from exc
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from exc
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise SpecError("data.metrics: a metric name is used more than once")
    return tuple(metrics)


def _text(data: Mapping[str, Any], field: str, where: str = "data") -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}.{field}: required, a non-empty string")
    return value.strip()
