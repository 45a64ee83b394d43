"""A trial's data ready for analysis: observations, arms, calendar, data health, and panels.

The adapter's observations are joined to the registration: which units (or, in a switchback,
which service days) are in which arm and from when; which calendar days the analysis leaves out;
and how complete the data is. ``metric_panel`` then turns one metric into the panel a method reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from evaluation.panel import Panel, build_panel, build_switchback_panel
from experiments.data_health import coverage_report, unit_days
from experiments.spec import TrialSpec
from livinglab.errors import SpecError
from pilots.aggregation import metric_values
from pilots.calendar import (
    WEATHER_WARNINGS,
    event_calendar,
    read_weather_warnings,
)
from pilots.contract import HONG_KONG, MetricDefinition, Observations


@dataclass(frozen=True)
class TrialData:
    """Observations after calendar exclusions, the arms, and the data-health report.

    ``assignment`` has ``unit, treated, cluster, start`` (``start`` null for controls); in a
    switchback it lists every unit with its own cluster and ``schedule`` has ``period_start,
    treated`` for each service day.
    """

    spec: TrialSpec
    table: pl.LazyFrame
    assignment: pl.DataFrame
    schedule: pl.DataFrame | None
    calendar: pl.DataFrame
    health: dict[str, Any]
    sites: list[dict[str, Any]]


def prepare_trial_data(spec: TrialSpec, observations: Observations, data_dir: Path) -> TrialData:
    calendar, calendar_health = _calendar(spec, data_dir)
    excluded = calendar.filter(
        pl.any_horizontal([pl.col(name) for name in spec.analysis.exclude_days] or [pl.lit(False)])
    )["date"]
    day = pl.col("timestamp").dt.convert_time_zone(HONG_KONG).dt.date()
    table = observations.table.filter(~day.is_in(excluded.implode()))
    if spec.switchback:
        assignment = observations.units.select("unit", pl.col("unit").alias("cluster"))
        schedule = _schedule(spec)
        arms, notes = _switchback_arms(spec, assignment, schedule)
    else:
        assignment, notes = _assignment(spec, observations.units)
        schedule = None
        arms = _unit_arms(spec, assignment)
    rows_excluded = (
        observations.table.filter(day.is_in(excluded.implode())).select(pl.len()).collect().item()
    )
    health = observations.health() | {
        "units": _arm_sizes(spec, assignment, schedule),
        "notes": notes,
        # Days the analysis leaves out are not expected to have data.
        "coverage": coverage_report(
            table,
            observations.expected,
            arms.filter(~pl.col("day").is_in(excluded.implode())),
            observations.units,
        ),
        "calendar": calendar_health
        | {
            "excluded": list(spec.analysis.exclude_days),
            "days_excluded": excluded.len(),
            "rows_excluded": int(rows_excluded),
        },
    }
    sites = _sites(observations.units, assignment, schedule is not None)
    health["districts"] = sorted({site["district"] for site in sites if site.get("district")})
    return TrialData(spec, table, assignment, schedule, calendar, health, sites)


def metric_panel(
    data: TrialData, definition: MetricDefinition, method: str
) -> tuple[Panel, dict[str, Any]]:
    """The panel of one metric for ``method``, and the options the method needs for it.

    A rate with exposure goes to ``randomized`` as event counts with their exposure, which it
    models as a Poisson rate; every other method compares the rates themselves.
    """
    spec = data.spec
    values = metric_values(data.table, definition)
    options: dict[str, Any] = {}
    covariates: tuple[str, ...] = ()
    if definition.aggregation == "ratio" and method == "randomized":
        values = values.with_columns(pl.col("events").alias("value"))
        covariates = ("exposure",)
        options = {"exposure": "exposure", "per": definition.scale}
    if method == "prepost" and spec.analysis.adjust_for:
        values, covariates = _with_calendar_shares(values, data.calendar, definition, spec)
    if data.schedule is not None:
        panel = build_switchback_panel(
            values,
            data.schedule.lazy(),
            data.assignment.lazy(),
            outcome=definition.name,
            window=spec.window,
            trial_start=spec.post[0],
            covariates=covariates,
        )
    else:
        panel = build_panel(
            values,
            data.assignment.lazy(),
            outcome=definition.name,
            window=spec.window,
            covariates=covariates,
        )
    return panel, options


def _with_calendar_shares(
    values: pl.LazyFrame, calendar: pl.DataFrame, definition: MetricDefinition, spec: TrialSpec
) -> tuple[pl.LazyFrame, tuple[str, ...]]:
    """Each period's share of days that were public holidays or severe-weather days."""
    every = {"day": "1d", "week": "1w", "month": "1mo"}[definition.time_grain]
    names = tuple(f"{kind}_share" for kind in spec.analysis.adjust_for)
    shares = calendar.group_by(pl.col("date").dt.truncate(every).alias("period_start")).agg(
        pl.col(kind).cast(pl.Float64).mean().alias(f"{kind}_share")
        for kind in spec.analysis.adjust_for
    )
    joined = values.join(shares.lazy(), on="period_start", how="left")
    return joined.with_columns(pl.col(names).fill_null(0.0)), names


def _sites(units: pl.DataFrame, assignment: pl.DataFrame, switchback: bool) -> list[dict[str, Any]]:
    """Each unit in the trial with its arm and, where the pilot knows them, district and place."""
    arm = (
        pl.lit("switchback")
        if switchback
        else pl.when("treated").then(pl.lit("treated")).otherwise(pl.lit("control"))
    )
    place = [c for c in ("district", "lat", "lon") if c in units.columns]
    in_trial = assignment.join(units.select("unit", *place), on="unit", how="left")
    start = [pl.col("start").cast(pl.String)] if "start" in in_trial.columns else []
    return in_trial.select("unit", arm.alias("arm"), *start, *place).to_dicts()


def _calendar(spec: TrialSpec, data_dir: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    path = data_dir / WEATHER_WARNINGS
    warnings, quarantine = read_weather_warnings(path) if path.is_file() else ([], None)
    calendar = event_calendar(spec.window[0], spec.window[1], warnings)
    events = calendar.filter(pl.col("event").is_not_null())
    health = {
        "weather_warnings": (
            f"{len(warnings)} warning(s) read, {quarantine.height} line(s) quarantined"
            if quarantine is not None
            else f"no {WEATHER_WARNINGS} in the data: severe-weather days are unknown"
        ),
        "public_holidays": int(calendar["public_holiday"].sum()),
        "severe_weather_days": int(calendar["severe_weather"].sum()),
        "events": [
            {"date": row["date"].isoformat(), "event": row["event"]}
            for row in events.iter_rows(named=True)
        ],
    }
    return calendar, health


def _assignment(spec: TrialSpec, units: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """``unit, treated, cluster, start`` for the units in the trial's arms."""
    attribute = spec.assigned_by
    if attribute not in units.columns:
        attributes = ", ".join(units.columns)
        raise SpecError(
            f"arms.assigned_by: {attribute!r} is not an attribute of pilot {spec.pilot!r}'s "
            f'units; use one of {attributes}, or "day" for a switchback schedule'
        )
    label = pl.col(attribute).cast(pl.String)
    cluster_by = spec.cluster_by or attribute
    if cluster_by not in units.columns:
        raise SpecError(
            f"arms.cluster_by: {cluster_by!r} is not an attribute of pilot {spec.pilot!r}'s "
            f"units; use one of {', '.join(units.columns)}"
        )
    starts = (
        dict.fromkeys(spec.treated, spec.treatment_start)
        if spec.treatment_start
        else dict(spec.start_by_unit)
    )
    assignment = units.select(
        "unit",
        label.is_in(list(spec.treated)).alias("treated"),
        label.is_in(list(spec.control)).alias("in_control"),
        pl.col(cluster_by).cast(pl.String).alias("cluster"),
        label.replace_strict(starts, default=None, return_dtype=pl.Date).alias("start"),
    )
    present = set(units[attribute].cast(pl.String).to_list())
    absent = [name for name in (*spec.treated, *spec.control) if name not in present]
    notes = [f"arm member(s) with no units in the data: {', '.join(absent)}"] if absent else []
    in_trial = assignment.filter(pl.col("treated") | pl.col("in_control")).drop("in_control")
    return in_trial, notes


def _schedule(spec: TrialSpec) -> pl.DataFrame:
    days = [(date.fromisoformat(d), True) for d in spec.treated] + [
        (date.fromisoformat(d), False) for d in spec.control
    ]
    return pl.DataFrame(days, schema={"period_start": pl.Date, "treated": pl.Boolean}, orient="row")


def _unit_arms(spec: TrialSpec, assignment: pl.DataFrame) -> pl.DataFrame:
    earliest = spec.common_start() or min(start for _, start in spec.start_by_unit)
    return unit_days(
        assignment.select(
            "unit",
            pl.when("treated").then(pl.lit("treated")).otherwise(pl.lit("control")).alias("arm"),
            pl.coalesce("start", pl.lit(earliest)).alias("from"),
        ),
        spec.window,
    ).select(
        "unit",
        "day",
        "arm",
        pl.when(pl.col("day") < pl.col("from"))
        .then(pl.lit("pre"))
        .otherwise(pl.lit("post"))
        .alias("period"),
        pl.col("unit").alias("level"),
    )


def _switchback_arms(
    spec: TrialSpec, units: pl.DataFrame, schedule: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    days = unit_days(units.select("unit"), spec.window).join(
        schedule.rename({"period_start": "day"}), on="day", how="left"
    )
    pre = pl.col("day") < spec.post[0]
    arms = days.filter(pre | pl.col("treated").is_not_null()).select(
        "unit",
        "day",
        pl.when(pl.col("treated").fill_null(False))
        .then(pl.lit("treated"))
        .otherwise(pl.lit("control"))
        .alias("arm"),
        pl.when(pre).then(pl.lit("pre")).otherwise(pl.lit("post")).alias("period"),
        pl.col("day").cast(pl.String).alias("level"),
    )
    notes = [] if units.height else ["the data has no units for the switchback"]
    return arms, notes


def _arm_sizes(
    spec: TrialSpec, assignment: pl.DataFrame, schedule: pl.DataFrame | None
) -> dict[str, int]:
    if schedule is not None:
        return {
            "units": assignment.height,
            "treated_days": int(schedule["treated"].sum()),
            "control_days": int((~schedule["treated"]).sum()),
        }
    return {
        "treated": int(assignment["treated"].sum()),
        "control": int((~assignment["treated"]).sum()),
    }
