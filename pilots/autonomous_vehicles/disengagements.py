"""Read disengagement reports in the California DMV CSV layout, one file per reporting year.

No Hong Kong disengagement dataset is public, so the operator files the DMV's layout (FEEDS.md
section 3): ``Manufacturer, Permit Number, DATE, VIN NUMBER``, two Yes/No columns, ``DISENGAGEMENT
INITIATED BY (AV System, Test Driver, Remote Operator, or Passenger)``, ``DISENGAGEMENT LOCATION
(...)`` and ``DESCRIPTION OF FACTS CAUSING DISENGAGEMENT``. Every ``disengagements*.csv`` in the
data directory is read (a trial crossing 30 November spans two reporting years, whose headers
differ; see ``dmv_csv.py``).

Quirks handled:

- ``DATE`` comes in whatever format the maker's tool writes: ``MM/DD/YYYY``, ``MM/DD/YY`` (US
  month first, as in the DMV files), ``YYYY.MM.DD. HH:MM:SS``, ``YYYY-MM-DD``, or ISO-8601 with
  or without an offset. A date alone is the start of that day; times without an offset are Hong
  Kong time. Whether a row had a time is counted in the checks;
- ``DISENGAGEMENT INITIATED BY`` varies in case and spacing; Hong Kong's "backup operator" (the
  Code of Practice's term) and "safety driver" are the DMV's test driver;
- the VIN is matched to the fleet register's autonomous vehicles and dropped; the route of the
  vehicle is the unit. Only the date, the vehicle and the initiator are used, so a location or
  description that does not fit the DMV's list loses no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from livinglab.errors import DataError
from pilots.autonomous_vehicles.dmv_csv import read_dmv_csv
from pilots.autonomous_vehicles.fleet import VIN_MASK, Fleet, masked
from pilots.contract import HONG_KONG, FileHealth
from pilots.csv_reading import split_valid
from pilots.fields import ISO_WITH_OFFSET, missing_problem

DISENGAGEMENT_FILES = "disengagements*.csv"
DATE, VIN, INITIATED_BY = "DATE", "VIN NUMBER", "DISENGAGEMENT INITIATED BY"
COLUMNS = {DATE: (DATE,), VIN: (VIN, "VIN"), INITIATED_BY: (INITIATED_BY, "INITIATED BY")}
INITIATORS = {
    "AV SYSTEM": "AV System",
    "TEST DRIVER": "Test Driver",
    "BACKUP OPERATOR": "Test Driver",
    "SAFETY DRIVER": "Test Driver",
    "REMOTE OPERATOR": "Remote Operator",
    "PASSENGER": "Passenger",
}
# (label, guard, strptime format): guards keep the formats apart ("26" is not a year 0026).
NAIVE_FORMATS = (
    ("MM/DD/YYYY", r"^\d{1,2}/\d{1,2}/\d{4}$", "%m/%d/%Y"),
    ("MM/DD/YY", r"^\d{1,2}/\d{1,2}/\d{2}$", "%m/%d/%y"),
    (
        "YYYY.MM.DD. HH:MM:SS",
        r"^\d{4}\.\d{1,2}\.\d{1,2}\. \d{1,2}:\d{2}:\d{2}$",
        "%Y.%m.%d. %H:%M:%S",
    ),
    ("YYYY.MM.DD.", r"^\d{4}\.\d{1,2}\.\d{1,2}\.$", "%Y.%m.%d."),
    ("YYYY-MM-DD", r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"),
    ("YYYY-MM-DDTHH:MM:SS", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", "%Y-%m-%dT%H:%M:%S"),
    ("YYYY-MM-DD HH:MM:SS", r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "%Y-%m-%d %H:%M:%S"),
)
WITH_OFFSET = (
    "ISO-8601 with offset",
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$",
)
DATE_REASON = (
    "DATE is not a date like 06/03/2026, 06/03/26, 2026.06.03. 14:22:05, 2026-06-03 "
    "or 2026-06-03T14:22:05+08:00"
)


@dataclass(frozen=True)
class Disengagements:
    """One row per reported disengagement, the quarantine, and each file's health."""

    events: pl.DataFrame  # unit, vehicle_id, timestamp (Hong Kong), initiated_by, date_format
    quarantine: pl.DataFrame
    health: tuple[FileHealth, ...]
    blank_rows: int
    unreadable: Mapping[str, str]  # file -> why none of it could be read


def load_disengagements(data_dir: Path, fleet: Fleet) -> Disengagements:
    """Read every ``disengagements*.csv``; none at all is a ``DataError``."""
    paths = sorted(data_dir.glob(DISENGAGEMENT_FILES))
    if not paths:
        raise DataError(
            f"{data_dir / 'disengagements.csv'}: file not found; the pilot needs at least one "
            f"disengagement report ({DISENGAGEMENT_FILES}) in the DMV CSV layout"
        )
    autonomous = fleet.vehicles.filter(pl.col("vehicle_type") == "autonomous")
    events, quarantines, health, blank, unreadable = [], [], [], 0, {}
    for path in paths:
        table = read_dmv_csv(path, COLUMNS)
        rows = masked(table.rows, {VIN: VIN_MASK}).with_columns(
            pl.col(VIN).str.strip_chars().str.to_uppercase().alias("vin"),
            _initiator(pl.col(INITIATED_BY)).alias("initiator"),
            *_dates(DATE),
        )
        accepted, rejected = split_valid(
            rows,
            [
                missing_problem(DATE),
                pl.when(pl.col("timestamp").is_null()).then(pl.lit(DATE_REASON)),
                missing_problem(VIN),
                pl.when(~pl.col("vin").is_in(autonomous["vin"].implode())).then(
                    pl.lit(f"{VIN} is not an autonomous vehicle in fleet.csv")
                ),
                pl.when(pl.col("initiator").is_null()).then(
                    pl.lit(
                        "DISENGAGEMENT INITIATED BY is not AV System, Test Driver, Remote "
                        "Operator or Passenger"
                    )
                ),
            ],
            path.name,
        )
        events.append(
            accepted.join(autonomous.select("vin", "vehicle_id", "route_id"), on="vin").select(
                pl.col("route_id").alias("unit"),
                "vehicle_id",
                "timestamp",
                pl.col("initiator").alias("initiated_by"),
                "date_format",
            )
        )
        quarantines += [table.quarantine, rejected]
        health.append(FileHealth(path.name, table.rows_read, accepted.height))
        blank += table.blank_rows
        if table.problem:
            unreadable[path.name] = table.problem
    return Disengagements(
        pl.concat(events).sort("unit", "timestamp"),
        pl.concat(quarantines),
        tuple(health),
        blank,
        unreadable,
    )


def disengagement_checks(report: Disengagements, trips: pl.DataFrame) -> dict[str, Any]:
    """Who initiated, how dates were written, and agreement with the trip log's counts."""
    events = report.events
    per_report = events.group_by("vehicle_id", pl.col("timestamp").dt.date().alias("day")).len()
    per_log = (
        trips.filter(pl.col("vehicle_type") == "autonomous")
        .group_by("vehicle_id", pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("disengagements").sum())
    )
    both = per_report.join(per_log, on=["vehicle_id", "day"], how="full", coalesce=True)
    disagree = both.filter(pl.col("len").fill_null(0) != pl.col("disengagements").fill_null(0))
    return {
        "reported": events.height,
        "in_trip_log": int(per_log["disengagements"].sum()),
        "vehicle_days_report_and_log_disagree": disagree.height,
        "by_initiator": _counts(events["initiated_by"]),
        "date_formats": _counts(events["date_format"]),
        "padding_rows_skipped": report.blank_rows,
        "unreadable_files": dict(report.unreadable),
    }


def _counts(values: pl.Series) -> Mapping[str, int]:
    return dict(sorted(values.value_counts().iter_rows()))


def _initiator(column: pl.Expr) -> pl.Expr:
    words = column.str.replace_all(r"\s+", " ").str.strip_chars().str.to_uppercase()
    return words.replace_strict(INITIATORS, default=None, return_dtype=pl.String)


def _dates(column: str) -> tuple[pl.Expr, pl.Expr]:
    """``timestamp`` (Hong Kong time, null when unreadable) and the ``date_format`` it matched."""
    text = pl.col(column).str.strip_chars()
    label = pl.when(text.str.contains(WITH_OFFSET[1])).then(pl.lit(WITH_OFFSET[0]))
    stamp = pl.when(text.str.contains(WITH_OFFSET[1])).then(
        text.str.replace(r"Z$", "+00:00")
        .str.to_datetime(ISO_WITH_OFFSET, time_zone="UTC", strict=False)
        .dt.convert_time_zone(HONG_KONG)
    )
    for name, guard, form in NAIVE_FORMATS:
        matches = text.str.contains(guard)
        label = label.when(matches).then(pl.lit(name))
        local = text.str.to_datetime(form, strict=False).dt.replace_time_zone(HONG_KONG)
        stamp = stamp.when(matches).then(local)
    return stamp.alias("timestamp"), label.alias("date_format")
