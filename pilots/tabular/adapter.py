"""Read a pilot's own table, as its trial spec's ``[data]`` describes it, into observations.

The table is read as text whatever its format (CSV, Parquet, a SQLite table), so one set of
checks applies to all: the unit must be present, the time must parse (ISO-8601 with or without an
offset, or the declared ``time_format``; times without an offset are in the declared zone), and
every metric column must be a number or empty (an empty cell is a missing value, not a zero and
not a bad row). A row failing a check is quarantined with the column and what would be valid;
its ``raw`` text holds only the declared columns, so undeclared ones never leave the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from livinglab.errors import DataError
from pilots.contract import (
    HONG_KONG,
    OBSERVATION_SCHEMA,
    QUARANTINE_SCHEMA,
    ExpectedReadings,
    FileHealth,
    Observations,
)
from pilots.csv_reading import read_csv_strings, split_valid
from pilots.fields import iso_timestamp_utc, missing_problem
from pilots.tabular.source import TabularSource


def load_table(source: TabularSource, data_dir: Path) -> Observations:
    path = data_dir / source.file
    if not path.is_file():
        raise DataError(f"{path}: file not found (data.file in the trial spec)")
    rows, unreadable = _read_strings(source, path)
    time = _parse_time(source)
    accepted, rejected = split_valid(
        rows,
        [
            missing_problem(source.unit),
            pl.when(time.is_null()).then(pl.lit(_time_reason(source))),
            *[_number_problem(column) for column in source.value_columns],
        ],
        path.name,
    )
    parsed = accepted.select(
        pl.col(source.unit).str.strip_chars().alias("unit"),
        time.alias("timestamp"),
        *[
            pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
            for column in source.value_columns
        ],
    )
    table = (
        parsed.lazy()
        .unpivot(index=["unit", "timestamp"], on=list(source.value_columns), variable_name="field")
        .drop_nulls("value")
        .select(OBSERVATION_SCHEMA.names())
        .cast(OBSERVATION_SCHEMA)  # type: ignore[arg-type]
    )
    units, conflicts = _units(source, accepted)
    return Observations(
        table=table,
        units=units,
        quarantine=pl.concat([unreadable, rejected]),
        files=(FileHealth(path.name, rows.height + unreadable.height, accepted.height),),
        checks={"units_with_conflicting_attributes": conflicts} if conflicts else {},
        expected=tuple(
            ExpectedReadings(column, per_day, column) for column, per_day in source.expected_per_day
        ),
    )


def _read_strings(source: TabularSource, path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Declared columns as text with ``_line`` and ``_raw``; and the unreadable lines."""
    if source.kind == "csv":
        raw = read_csv_strings(path, source.columns)
        return _with_declared_raw(raw.rows, source), _declared_quarantine(raw.quarantine)
    frame = _read_parquet(path) if source.kind == "parquet" else _read_sqlite(path, source)
    missing = [column for column in source.columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}"
        )
    text = frame.select(pl.col(column).cast(pl.String) for column in source.columns)
    # A Parquet file or a table has no lines: ``line`` is the row number, from 1.
    numbered = text.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    return _with_declared_raw(numbered, source), pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc


def _read_sqlite(path: Path, source: TabularSource) -> pl.DataFrame:
    query = f'SELECT * FROM "{source.table}"'  # the table name is quoted, never interpolated raw
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            cursor = connection.execute(query)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot read table {source.table!r} ({exc})") from exc
    return pl.DataFrame(
        [[None if v is None else str(v) for v in row] for row in rows],
        schema=dict.fromkeys(names, pl.String),
        orient="row",
    )


def _with_declared_raw(rows: pl.DataFrame, source: TabularSource) -> pl.DataFrame:
    raw = pl.concat_str([pl.col(c).fill_null("") for c in source.columns], separator=",").alias(
        "_raw"
    )
    return rows.with_columns(raw)


def _declared_quarantine(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Unreadable CSV lines cannot be split into columns, so their text is withheld."""
    return quarantine.with_columns(
        pl.lit("(line withheld: its columns could not be told apart)").alias("raw")
    )


def _parse_time(source: TabularSource) -> pl.Expr:
    text = pl.col(source.time).str.strip_chars()
    if source.time_format:
        naive = text.str.to_datetime(source.time_format, strict=False)
        return naive.dt.replace_time_zone(
            source.timezone, ambiguous="earliest"
        ).dt.convert_time_zone(HONG_KONG)
    aware = iso_timestamp_utc(source.time).dt.convert_time_zone(HONG_KONG)
    naive = pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M", strict=False),
        text.str.to_datetime("%Y-%m-%d", strict=False),
    )
    local = naive.dt.replace_time_zone(source.timezone, ambiguous="earliest", non_existent="null")
    return pl.coalesce(aware, local.dt.convert_time_zone(HONG_KONG))


def _time_reason(source: TabularSource) -> str:
    expected = source.time_format or "ISO-8601, e.g. 2026-01-05 08:00:00 or 2026-01-05T08:00+08:00"
    return f"{source.time} is not a time ({expected})"


def _number_problem(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    unreadable = (text != "") & text.cast(pl.Float64, strict=False).is_null()
    return pl.when(unreadable).then(pl.lit(f"{column} is not a number"))


def _units(source: TabularSource, accepted: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """One row per unit with its attributes (the last value in the table where they change)."""
    unit = pl.col(source.unit).str.strip_chars().alias("unit")
    frame = accepted.select(unit, *source.attributes)
    conflicts = (
        frame.group_by("unit")
        .agg(pl.col(a).n_unique().alias(a) for a in source.attributes)
        .filter(pl.any_horizontal(pl.col(a) > 1 for a in source.attributes))["unit"]
        .sort()
        .to_list()
        if source.attributes
        else []
    )
    units = frame.group_by("unit").agg(pl.col(a).last() for a in source.attributes).sort("unit")
    return units, conflicts
