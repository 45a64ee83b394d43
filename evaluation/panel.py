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
    window: tuple[date, date],
    covariates: Sequence[str] = (),
) -> Panel:
    """Join metric values (``unit, period_start, period_end, value``) to the arms.

    ``assignment`` has ``unit, treated, cluster, start``: ``start`` is the day the unit's
    treatment began (null for control units), one date for all or staggered by unit. Units absent
    from it are not in the trial. Periods must lie inside ``window`` (first and last day,
    inclusive). A period that straddles a treatment start is dropped for every unit: it is
    neither cleanly before nor after, and keeping the time grid common keeps the panel balanced.
    A unit's cohort is its first period on or after its start; control units count as ``post``
    from the earliest start. ``covariates`` are further columns of ``values`` to carry along.
    """
    first, last = window
    starts = assignment.select(pl.col("start").drop_nulls().unique().sort()).collect()["start"]
    straddles = pl.lit(False)
    for start in starts:
        straddles = straddles | ((pl.col("period_start") < start) & (pl.col("period_end") > start))
    joined = (
        _in_window(values.join(assignment, on="unit", how="inner"), first, last)
        .with_columns(straddles.alias("straddles"))
        .collect()
    )
    notes: tuple[str, ...] = ()
    straddling = joined.filter("straddles")
    if straddling.height:
        periods = straddling["period_start"].n_unique()
        days = ", ".join(str(start) for start in starts)
        notes = (f"{periods} period(s) straddling a treatment start ({days}) were left out",)
    kept = joined.filter(~pl.col("straddles"))
    times = kept["period_start"].unique().sort()
    earliest = starts.min() if starts.len() else None
    # A unit's cohort is the index of its first period starting on or after its start day.
    cohorts = kept.select("unit", "start").unique().drop_nulls("start")
    cohorts = cohorts.with_columns(
        pl.Series("cohort", times.search_sorted(cohorts["start"], side="left"), pl.Int64)
    ).drop("start")
    return _panel(
        kept.join(cohorts, on="unit", how="left"),
        times,
        treated=pl.col("treated"),
        post=pl.col("period_start") >= pl.coalesce("start", pl.lit(earliest)),
        cohort=pl.when("treated").then("cohort"),
        outcome=outcome,
        covariates=covariates,
        notes=notes,
    )


def build_switchback_panel(
    values: pl.LazyFrame,
    schedule: pl.LazyFrame,
    units: pl.LazyFrame,
    *,
    outcome: str,
    window: tuple[date, date],
    trial_start: date,
    covariates: Sequence[str] = (),
) -> Panel:
    """A switchback panel: the arm belongs to the period, not the unit.

    ``schedule`` has ``period_start, treated`` for every period randomised to an arm from
    ``trial_start`` on; ``units`` has ``unit, cluster`` for the units in the trial. Periods
    before ``trial_start`` are the pre-period (``treated`` false, ``post`` false); periods from
    it that the schedule does not list were not randomised and are left out, with a note.
    """
    first, last = window
    joined = (
        _in_window(values.join(units, on="unit", how="inner"), first, last)
        .join(schedule, on="period_start", how="left")
        .collect()
    )
    unscheduled = joined.filter(
        (pl.col("period_start") >= trial_start) & pl.col("treated").is_null()
    )
    notes: tuple[str, ...] = ()
    if unscheduled.height:
        notes = (
            f"{unscheduled['period_start'].n_unique()} period(s) from {trial_start} on are not "
            "in the switchback schedule and were left out",
        )
    kept = joined.filter((pl.col("period_start") < trial_start) | pl.col("treated").is_not_null())
    times = kept["period_start"].unique().sort()
    return _panel(
        kept,
        times,
        treated=pl.col("treated").fill_null(False),
        post=pl.col("period_start") >= trial_start,
        cohort=pl.lit(None, pl.Int64),
        outcome=outcome,
        covariates=covariates,
        notes=notes,
    )


def _panel(
    kept: pl.DataFrame,
    times: pl.Series,
    *,
    treated: pl.Expr,
    post: pl.Expr,
    cohort: pl.Expr,
    outcome: str,
    covariates: Sequence[str],
    notes: tuple[str, ...],
) -> Panel:
    frame = (
        kept.select(
            "unit",
            _time_index(),
            pl.col("value").alias("y"),
            treated.alias("treated"),
            post.alias("post"),
            cohort.alias("cohort"),
            pl.col("cluster").cast(pl.String),
            pl.lit(1.0).alias("weight"),
            *covariates,
        )
        .cast(PANEL_SCHEMA)  # type: ignore[arg-type]
        .sort("unit", "time")
    )
    return Panel(frame, outcome, tuple(times.to_list()), tuple(covariates), notes)


def _in_window(values: pl.LazyFrame, first: date, last: date) -> pl.LazyFrame:
    return values.filter(
        pl.col("period_start") >= first,
        pl.col("period_end") <= pl.lit(last).dt.offset_by("1d"),
        pl.col("value").is_not_null() & pl.col("value").is_finite(),
    )


def _time_index() -> pl.Expr:
    return (pl.col("period_start").rank("dense") - 1).cast(pl.Int64).alias("time")
