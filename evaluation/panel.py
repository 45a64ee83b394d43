"""Build the analysis panel: one outcome per unit and period, with treatment timing attached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

PANEL_SCHEMA = pl.Schema(
    {
        "unit": pl.String,
        "period": pl.Date,
        "y": pl.Float64,
        "treated": pl.Boolean,
        "post": pl.Boolean,
        "cluster": pl.String,
    }
)


@dataclass(frozen=True)
class Panel:
    """Unit x period outcomes (``PANEL_SCHEMA``) for one metric.

    ``treated`` marks units in the treated arm, ``post`` periods that start on or after the
    treatment start, and ``cluster`` the level at which treatment was assigned (standard errors
    cluster there). Missing outcomes are absent rows, never zeros.
    """

    frame: pl.DataFrame
    outcome: str
    treatment_start: date
    notes: tuple[str, ...] = field(default=())


def build_panel(
    values: pl.LazyFrame,
    assignment: pl.LazyFrame,
    *,
    outcome: str,
    treatment_start: date,
    window: tuple[date, date],
) -> Panel:
    """Join metric values (``unit, period_start, period_end, value``) to the assignment.

    ``assignment`` has ``unit, treated, cluster``; units absent from it are not in the trial.
    Periods must lie inside ``window`` (first and last day, inclusive). A period that straddles
    the treatment start is dropped: it is neither cleanly before nor after.
    """
    first, last = window
    joined = (
        values.join(assignment, on="unit", how="inner")
        .filter(
            pl.col("period_start") >= first,
            pl.col("period_end") <= pl.lit(last).dt.offset_by("1d"),
            pl.col("value").is_not_null() & pl.col("value").is_finite(),
        )
        .with_columns(
            (pl.col("period_start") >= treatment_start).alias("post"),
            (
                (pl.col("period_start") < treatment_start)
                & (pl.col("period_end") > treatment_start)
            ).alias("straddles"),
        )
        .collect()
    )
    straddling = joined.filter("straddles")
    notes = ()
    if straddling.height:
        periods = straddling["period_start"].n_unique()
        notes = (
            f"{periods} period(s) straddling the treatment start {treatment_start} were left out",
        )
    frame = (
        joined.filter(~pl.col("straddles"))
        .select(
            "unit",
            pl.col("period_start").alias("period"),
            pl.col("value").alias("y"),
            "treated",
            "post",
            pl.col("cluster").cast(pl.String),
        )
        .cast(PANEL_SCHEMA)  # type: ignore[arg-type]
        .sort("unit", "period")
    )
    return Panel(frame=frame, outcome=outcome, treatment_start=treatment_start, notes=notes)
