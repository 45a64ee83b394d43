"""Read the smart-bins pilot's raw files into observations.

Files in the data directory:

- ``readings.csv``: fill-level sensor readings shaped like the City of Melbourne's public netvox
  bin-sensor feed: ``dev_id, time`` (ISO-8601, UTC), ``distance`` (mm), ``filllevel`` (%),
  ``temperature``, ``battery``, ``lat_long``;
- ``bins.csv``: the bin inventory: ``bin, dev_id, route, district, lat, lon, capacity``;
- ``collections.csv``: the trucks' collection log: ``truck, route, bin, collected_at, weight_kg``.

Collection events come from both sources, cross-checked: every logged collection is one, and
so is every fill drop of 30 points or more between consecutive readings that no logged
collection explains (an unlogged collection). A logged collection whose readings show no such
drop (the sensor was offline, or the bin was emptied nearly empty) is counted as logged.
Timestamps become Hong Kong time.

Observation fields: ``fill_level`` (every reading), ``collection`` (1 per event),
``fill_at_collection`` (the last reading before the collection, when at most six hours old) and
``overflow_day`` (per bin-day with readings: 1 when any reading showed the bin full).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from pilots.contract import HONG_KONG, OBSERVATION_SCHEMA, ExpectedReadings, Observations
from pilots.csv_reading import file_health, read_csv_strings, split_valid
from pilots.fields import (
    duplicate_problem,
    iso_timestamp_utc,
    membership_problem,
    missing_problem,
    number,
    number_problem,
    timestamp_problem,
)

READINGS = "readings.csv"
INVENTORY = "bins.csv"
COLLECTION_LOG = "collections.csv"
COLLECTION_DROP = 30.0
FULL = 100.0
READINGS_PER_DAY = 12  # the sensors report every two hours
STALE_READING = timedelta(hours=6)  # an older reading says little about the fill at collection

READING_COLUMNS = ("dev_id", "time", "distance", "filllevel", "temperature", "battery", "lat_long")
INVENTORY_COLUMNS = ("bin", "dev_id", "route", "district", "lat", "lon", "capacity")
LOG_COLUMNS = ("truck", "route", "bin", "collected_at", "weight_kg")


def load_smart_bins(data_dir: Path) -> Observations:
    """Read the three raw files in ``data_dir`` into observations with a quarantine."""
    inventory_raw = read_csv_strings(data_dir / INVENTORY, INVENTORY_COLUMNS)
    inventory, inventory_bad = split_valid(
        inventory_raw.rows,
        [
            missing_problem("bin"),
            missing_problem("dev_id"),
            missing_problem("route"),
            number_problem("lat", -90, 90),
            number_problem("lon", -180, 180),
            number_problem("capacity", 1, 10_000),
            pl.when(pl.col("bin").is_duplicated()).then(pl.lit("bin appears more than once")),
        ],
        INVENTORY,
    )
    units = inventory.select(
        pl.col("bin").alias("unit"),
        "dev_id",
        "route",
        "district",
        number("lat").alias("lat"),
        number("lon").alias("lon"),
        number("capacity").alias("capacity_l"),
    ).sort("unit")

    readings_raw = read_csv_strings(data_dir / READINGS, READING_COLUMNS)
    readings, readings_bad = split_valid(
        readings_raw.rows,
        [
            missing_problem("dev_id"),
            membership_problem("dev_id", units["dev_id"], INVENTORY),
            timestamp_problem("time"),
            number_problem("filllevel", 0, 100),
            duplicate_problem("dev_id", iso_timestamp_utc("time")),
        ],
        READINGS,
    )
    fills = (
        readings.lazy()
        .join(units.lazy().select("unit", "dev_id"), on="dev_id")
        .select(
            "unit",
            iso_timestamp_utc("time").dt.convert_time_zone(HONG_KONG).alias("timestamp"),
            number("filllevel").alias("fill"),
        )
        .sort("unit", "timestamp")
    )

    log_raw = read_csv_strings(data_dir / COLLECTION_LOG, LOG_COLUMNS)
    log, log_bad = split_valid(
        log_raw.rows,
        [
            missing_problem("bin"),
            membership_problem("bin", units["unit"], INVENTORY),
            timestamp_problem("collected_at"),
            number_problem("weight_kg", 0, 10_000),
        ],
        COLLECTION_LOG,
    )
    logged = log.lazy().select(
        pl.col("bin").alias("unit"),
        iso_timestamp_utc("collected_at").dt.convert_time_zone(HONG_KONG).alias("logged_at"),
    )

    events, checks = _collection_events(fills, logged)
    table = pl.concat(
        [
            _field(fills, "fill_level", "fill"),
            _field(events, "collection", pl.lit(1.0)),
            _field(
                events.filter(pl.col("fill_before").is_not_null()),
                "fill_at_collection",
                "fill_before",
            ),
            _overflow_days(fills),
        ]
    )
    quarantine = pl.concat(
        [
            inventory_raw.quarantine,
            inventory_bad,
            readings_raw.quarantine,
            readings_bad,
            log_raw.quarantine,
            log_bad,
        ]
    )
    return Observations(
        table=table,
        units=units,
        quarantine=quarantine,
        files=(
            file_health(inventory_raw, inventory.height),
            file_health(readings_raw, readings.height),
            file_health(log_raw, log.height),
        ),
        checks={"collections": checks},
        expected=(ExpectedReadings("fill_level", READINGS_PER_DAY, "Fill-level readings"),),
    )


def _collection_events(
    fills: pl.LazyFrame, logged: pl.LazyFrame
) -> tuple[pl.LazyFrame, dict[str, int]]:
    """Logged collections, with the fill read just before; plus drops the log does not explain.

    A logged collection takes its fill from the last reading before it, when that reading is
    recent enough to trust. A sensor drop of 30 points or more is confirmed when a logged
    collection falls between its two readings; an unconfirmed drop is an unlogged collection.
    """
    readings = fills.sort("timestamp").collect()
    log = logged.sort("logged_at").collect()
    around = log.join_asof(
        readings.select("unit", pl.col("timestamp").alias("before"), pl.col("fill").alias("fill")),
        left_on="logged_at",
        right_on="before",
        by="unit",
        strategy="backward",
        check_sortedness=False,  # sorted by time overall; the join handles each unit itself
    ).join_asof(
        readings.select(
            "unit", pl.col("timestamp").alias("after"), pl.col("fill").alias("fill_after")
        ),
        left_on="logged_at",
        right_on="after",
        by="unit",
        strategy="forward",
        check_sortedness=False,
    )
    recent = (pl.col("logged_at") - pl.col("before")) <= STALE_READING
    logged_events = around.select(
        "unit",
        pl.col("logged_at").alias("timestamp"),
        pl.when(recent).then(pl.col("fill")).alias("fill_before"),
        "after",
        (pl.col("fill") - pl.col("fill_after") >= COLLECTION_DROP).fill_null(False).alias("drop"),
    )
    previous = readings.sort("unit", "timestamp").with_columns(
        pl.col("fill").shift(1).over("unit").alias("previous_fill"),
        pl.col("timestamp").shift(1).over("unit").alias("previous_time"),
    )
    drops = previous.filter(pl.col("previous_fill") - pl.col("fill") >= COLLECTION_DROP).select(
        "unit",
        "timestamp",
        pl.when(pl.col("timestamp") - pl.col("previous_time") <= STALE_READING)
        .then(pl.col("previous_fill"))
        .alias("fill_before"),
    )
    explained = logged_events.select("unit", pl.col("after").alias("timestamp")).unique()
    unlogged = drops.join(explained, on=["unit", "timestamp"], how="anti")
    events = pl.concat([logged_events.select("unit", "timestamp", "fill_before"), unlogged]).sort(
        "unit", "timestamp"
    )
    checks = {
        "log_entries": log.height,
        "sensor_drops": drops.height,
        "drops_confirmed_by_log": drops.height - unlogged.height,
        "drops_not_in_log": unlogged.height,
        "logged_without_drop": int((~logged_events["drop"]).sum()),
        "events": events.height,
    }
    return events.lazy(), checks


def _field(frame: pl.LazyFrame, name: str, value: str | pl.Expr) -> pl.LazyFrame:
    expr = pl.col(value) if isinstance(value, str) else value
    return frame.select(
        "unit", "timestamp", pl.lit(name).alias("field"), expr.cast(pl.Float64).alias("value")
    ).cast(OBSERVATION_SCHEMA)  # type: ignore[arg-type]


def _overflow_days(fills: pl.LazyFrame) -> pl.LazyFrame:
    days = fills.group_by("unit", pl.col("timestamp").dt.truncate("1d")).agg(
        (pl.col("fill").max() >= FULL).cast(pl.Float64).alias("full")
    )
    return _field(days, "overflow_day", "full")
