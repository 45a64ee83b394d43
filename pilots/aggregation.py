"""Turn observations into one value per unit and period, as a metric definition declares."""

from __future__ import annotations

import polars as pl

from pilots.contract import MetricDefinition

_GRAIN = {"day": "1d", "week": "1w", "month": "1mo"}


def metric_values(observations: pl.LazyFrame, metric: MetricDefinition) -> pl.LazyFrame:
    """``unit, period_start, period_end, value`` for ``metric``; periods in Hong Kong time.

    ``count`` and ``sum`` are zero for periods in which the unit reported anything at all (any
    field) but had no rows of the metric's field; a period without any report stays missing, so
    a sensor outage is never mistaken for a quiet week. ``ratio`` metrics also carry ``events``
    (the sum of the metric's field, zero when none) and ``exposure`` (the sum of the exposure
    field); a period without exposure stays missing.
    """
    every = _GRAIN[metric.time_grain]
    period = pl.col("timestamp").dt.truncate(every).dt.date().alias("period_start")
    if metric.aggregation == "ratio":
        return _ratio_values(observations, metric, period, every)
    rows = observations.filter(pl.col("field") == metric.source_field)
    value = {
        "count": pl.len().cast(pl.Float64),
        "sum": _in_order(pl.col("value")).list.sum(),
        "mean": _in_order(pl.col("value")).list.mean(),
        "rate_per_1000": 1000 * _in_order(pl.col("value")).list.mean(),
    }[metric.aggregation]
    values = rows.group_by("unit", period).agg(value.alias("value"))
    if metric.aggregation in ("count", "sum"):
        reported = observations.select("unit", period).unique()
        values = reported.join(values, on=["unit", "period_start"], how="left").with_columns(
            pl.col("value").fill_null(0.0)
        )
    return (
        values.with_columns(pl.col("period_start").dt.offset_by(every).alias("period_end"))
        .select("unit", "period_start", "period_end", "value")
        .sort("unit", "period_start")
    )


def _ratio_values(
    observations: pl.LazyFrame, metric: MetricDefinition, period: pl.Expr, every: str
) -> pl.LazyFrame:
    totals = (
        observations.filter(pl.col("field").is_in([metric.source_field, metric.exposure_field]))
        .group_by("unit", period)
        .agg(
            _in_order(pl.when(pl.col("field") == metric.source_field).then("value"))
            .list.sum()
            .alias("events"),
            _in_order(pl.when(pl.col("field") == metric.exposure_field).then("value"))
            .list.sum()
            .alias("exposure"),
        )
        .filter(pl.col("exposure") > 0)
    )
    return (
        totals.with_columns(
            (metric.scale * pl.col("events") / pl.col("exposure")).alias("value"),
            pl.col("period_start").dt.offset_by(every).alias("period_end"),
        )
        .select("unit", "period_start", "period_end", "value", "events", "exposure")
        .sort("unit", "period_start")
    )


def _in_order(values: pl.Expr) -> pl.Expr:
    """A group's values sorted into a list, to be summed in the same order every time.

    A float sum depends on the order of its terms; neither an adapter's table nor a group-by
    has a fixed row order, and the query optimiser drops a plain sort before an aggregation.
    Summing the sorted list gives the same data the same values to the last digit, which is
    what ``livinglab rerun`` checks.
    """
    return values.sort().implode()
