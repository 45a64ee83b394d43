"""Build a ``Panel`` from any table an evaluator brings, naming every problem precisely.

Treatment is described either by ``cohort`` (each unit's first treated time; empty, 0 or
missing means never treated) or by ``treated`` (0/1) with ``post`` (0/1) or a single treatment
start. Without ``unit`` every row is its own unit (a pooled cross-section); without ``time``
there is no time dimension (a plain randomized comparison).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from evaluation.panel import PANEL_SCHEMA, Panel
from livinglab.errors import InputError


@dataclass(frozen=True)
class Columns:
    """Which columns of the table play which role."""

    outcome: str
    time: str | None = None
    unit: str | None = None
    cohort: str | None = None
    treated: str | None = None
    post: str | None = None
    treatment_start: str | None = None
    cluster: str | None = None
    covariates: tuple[str, ...] = ()
    weights: str | None = None


@dataclass(frozen=True)
class Needs:
    """What a method needs from the data beyond an outcome."""

    time: bool
    controls: bool
    pre_period: bool


NEEDS = {
    "prepost": Needs(time=True, controls=False, pre_period=True),
    "did": Needs(time=False, controls=True, pre_period=True),
    "event_study": Needs(time=True, controls=True, pre_period=True),
    "staggered": Needs(time=True, controls=True, pre_period=True),
    "synth": Needs(time=True, controls=True, pre_period=True),
    "bsts": Needs(time=True, controls=False, pre_period=True),
    "randomized": Needs(time=False, controls=True, pre_period=False),
}


def panel_from_table(table: pl.DataFrame, columns: Columns, source: str) -> Panel:
    """Validate ``table`` against ``columns`` and return the panel; ``InputError`` otherwise."""
    _require_columns(table, columns, source)
    if (columns.cohort is None) == (columns.treated is None):
        raise InputError("give exactly one of --cohort or --treated")
    if columns.cohort is not None and (columns.post or columns.treatment_start):
        raise InputError("--post and --treatment-start go with --treated, not with --cohort")
    if columns.post and columns.treatment_start:
        raise InputError("give --post or --treatment-start, not both")
    notes: list[str] = []
    frame = table.with_row_index("_row", offset=2)  # line numbers of a CSV with a header
    frame = frame.with_columns(_numeric(frame, columns.outcome, source).alias("_y"))
    missing = frame["_y"].null_count()
    if missing:
        notes.append(f"{missing} row(s) with an empty {columns.outcome!r} were left out")
        frame = frame.filter(pl.col("_y").is_not_null())
    if frame.height == 0:
        raise InputError(f"{source}: no rows with a value in {columns.outcome!r}")

    times: tuple[object, ...] = ()
    time_index = pl.lit(None, pl.Int64)
    if columns.time:
        if frame[columns.time].null_count():
            raise InputError(f"{source}: column {columns.time!r} has empty values")
        distinct = frame[columns.time].unique().sort()
        times = tuple(distinct.to_list())
        time_index = (pl.col(columns.time).rank("dense") - 1).cast(pl.Int64)
    unit = pl.col(columns.unit).cast(pl.String) if columns.unit else pl.format("row{}", "_row")
    frame = frame.with_columns(unit.alias("_unit"), time_index.alias("_time"))

    if columns.cohort:
        cohort = _cohort_index(frame, columns, times, source, notes)
        treated = cohort.is_not_null()
        post = (pl.col("_time") >= cohort).fill_null(False)
    else:
        treated = _indicator(frame, columns.treated, source)  # type: ignore[arg-type]
        if columns.post:
            post = _indicator(frame, columns.post, source)
        elif columns.treatment_start:
            start = _start_index(columns, times, source)
            post = pl.col("_time") >= start
        else:
            post = pl.lit(True)
        first_post = pl.col("_time").filter(post & treated).min().over("_unit")
        cohort = pl.when(treated).then(first_post)
    cluster = pl.col(columns.cluster).cast(pl.String) if columns.cluster else pl.col("_unit")
    weight = _numeric(frame, columns.weights, source) if columns.weights else pl.lit(1.0)
    panel_frame = frame.select(
        pl.col("_unit").alias("unit"),
        pl.col("_time").alias("time"),
        pl.col("_y").alias("y"),
        treated.alias("treated"),
        post.alias("post"),
        cohort.cast(pl.Int64).alias("cohort"),
        cluster.alias("cluster"),
        weight.cast(pl.Float64).alias("weight"),
        *[_numeric(frame, name, source).alias(name) for name in columns.covariates],
    ).cast(PANEL_SCHEMA)  # type: ignore[arg-type]
    if (panel_frame["weight"] <= 0).any():
        raise InputError(f"{source}: column {columns.weights!r} must be positive weights")
    return Panel(panel_frame, columns.outcome, times, tuple(columns.covariates), tuple(notes))


def require_design(panel: Panel, method: str, source: str) -> None:
    """Fail with one clear line when the data cannot support ``method`` at all."""
    needs = NEEDS[method]
    frame = panel.frame
    if needs.time and not panel.times:
        raise InputError(f"method {method!r} needs a time column: give --time")
    if not frame["treated"].any():
        raise InputError(f"{source}: no treated units; check --treated or --cohort")
    if needs.controls and frame["treated"].all():
        raise InputError(f"{source}: no control units; method {method!r} needs some")
    if needs.pre_period and not (frame["treated"] & ~frame["post"]).any():
        raise InputError(
            f"{source}: no pre-period: treated units have no outcomes before treatment"
        )


def _require_columns(table: pl.DataFrame, columns: Columns, source: str) -> None:
    wanted = [
        value
        for value in (
            columns.outcome,
            columns.time,
            columns.unit,
            columns.cohort,
            columns.treated,
            columns.post,
            columns.cluster,
            columns.weights,
            *columns.covariates,
        )
        if value
    ]
    absent = [name for name in wanted if name not in table.columns]
    if absent:
        raise InputError(
            f"{source}: no column {', '.join(repr(a) for a in absent)}; "
            f"the columns are {', '.join(table.columns)}"
        )


def _numeric(frame: pl.DataFrame, column: str, source: str) -> pl.Expr:
    values = frame[column]
    if values.dtype.is_numeric():
        return pl.col(column).cast(pl.Float64)
    parsed = values.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    bad = frame.filter(
        parsed.is_null() & values.is_not_null() & (values.cast(pl.String).str.strip_chars() != "")
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise InputError(
            f"{source}, line {row['_row']}: column {column!r} must be numeric; "
            f"found {row[column]!r}"
        )
    return pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _indicator(frame: pl.DataFrame, column: str, source: str) -> pl.Expr:
    values = frame.select(_numeric(frame, column, source)).to_series()
    if not values.drop_nulls().is_in([0.0, 1.0]).all() or values.null_count():
        raise InputError(f"{source}: column {column!r} must hold 0 or 1 in every row")
    return _numeric(frame, column, source) == 1.0


def _cohort_index(
    frame: pl.DataFrame,
    columns: Columns,
    times: Sequence[object],
    source: str,
    notes: list[str],
) -> pl.Expr:
    """Time index of each row's first treated period; null when never treated."""
    if not times:
        raise InputError("--cohort needs --time: a cohort is a first treated time")
    raw = frame[columns.cohort]  # type: ignore[index]
    is_number = raw.dtype.is_numeric()
    never = raw.is_null() | ((raw == 0) if is_number else (raw.cast(pl.String) == ""))
    starts = raw.filter(~never).unique().to_list()
    late = [s for s in starts if s > times[-1]]  # type: ignore[operator]
    if late:
        notes.append(f"cohort(s) {late} start after the last period: treated as never treated")
    index = {s: sum(1 for t in times if t < s) for s in starts if s not in late}  # type: ignore[operator]
    return (
        pl.when(~pl.lit(never))
        .then(pl.col(columns.cohort).replace_strict(index, default=None))  # type: ignore[arg-type]
        .cast(pl.Int64)
    )


def _start_index(columns: Columns, times: Sequence[object], source: str) -> int:
    if not times:
        raise InputError("--treatment-start needs --time")
    text = columns.treatment_start or ""
    sample = times[0]
    try:
        start: object = (
            date.fromisoformat(text)
            if isinstance(sample, date)
            else type(sample)(text)
            if isinstance(sample, int | float)
            else text
        )
    except ValueError as error:
        raise InputError(
            f"--treatment-start {text!r} is not a value of column {columns.time!r} "
            f"(like {sample!r})"
        ) from error
    return sum(1 for t in times if t < start)  # type: ignore[operator]
