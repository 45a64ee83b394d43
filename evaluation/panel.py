"""The analysis panel every method reads: outcomes with treatment timing, clusters and weights.

A ``Panel`` is long: one row per observation. For a panel proper that is a unit and a time; for
a pooled cross-section each row is its own unit. Time is an integer index ``0..T-1`` over the
sorted distinct time values, whose labels (dates or numbers) are kept in ``Panel.times``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

PANEL_SCHEMA = pl.Schema(
    {
        "unit": pl.String,
        "time": pl.Int64,
        "y": pl.Float64,
        "treated": pl.Boolean,
        "post": pl.Boolean,
        "cohort": pl.Int64,
        "cluster": pl.String,
        "weight": pl.Float64,
    }
)


@dataclass(frozen=True)
class Panel:
    """Outcomes ``y`` per ``unit`` and ``time`` (``PANEL_SCHEMA`` plus covariate columns).

    - ``treated``: the unit is in the treated arm (ever treated);
    - ``cohort``: time index of the unit's first treated period, null for never-treated units;
    - ``post``: the row is after treatment began: ``time >= cohort`` for treated units, and for
      control units ``time >=`` the common start when there is one (2x2 designs);
    - ``cluster``: the level at which treatment was assigned, where standard errors cluster;
    - ``weight``: observation weight (1 unless given).

    ``time`` is null for a cross-section without time. Missing outcomes are absent rows, never
    zeros.
    """

    frame: pl.DataFrame
    outcome: str
    times: tuple[Any, ...] = ()
    covariates: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def time_label(self, index: int) -> str:
        label = self.times[index]
        return label.isoformat() if isinstance(label, date) else str(label)

    def time_labels(self, indices: Sequence[int]) -> list[str]:
        return [self.time_label(int(i)) for i in indices]

    def with_frame(self, frame: pl.DataFrame) -> Panel:
        return Panel(frame, self.outcome, self.times, self.covariates, self.notes)


def build_panel(
    values: pl.LazyFrame,
    assignment: pl.LazyFrame,
    *,
    outcome: str,
    treatment_start: date,
    window: tuple[date, date],
) -> Panel:
    """Join metric values (``unit, period_start, period_end, value``) to the arms.

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
            (
                (pl.col("period_start") < treatment_start)
                & (pl.col("period_end") > treatment_start)
            ).alias("straddles"),
        )
        .collect()
    )
    notes: tuple[str, ...] = ()
    straddling = joined.filter("straddles")
    if straddling.height:
        periods = straddling["period_start"].n_unique()
        notes = (
            f"{periods} period(s) straddling the treatment start {treatment_start} were left out",
        )
    kept = joined.filter(~pl.col("straddles"))
    times = kept["period_start"].unique().sort()
    first_post = int((times < treatment_start).sum())
    frame = (
        kept.select(
            "unit",
            (pl.col("period_start").rank("dense") - 1).alias("time"),
            pl.col("value").alias("y"),
            "treated",
            (pl.col("period_start") >= treatment_start).alias("post"),
            pl.when("treated").then(pl.lit(first_post)).alias("cohort"),
            pl.col("cluster").cast(pl.String),
            pl.lit(1.0).alias("weight"),
        )
        .cast(PANEL_SCHEMA)  # type: ignore[arg-type]
        .sort("unit", "time")
    )
    return Panel(frame=frame, outcome=outcome, times=tuple(times.to_list()), notes=notes)
