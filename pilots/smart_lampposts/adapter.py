"""Read the smart-lampposts pilot's raw files into observations.

Files in the data directory (each format, with its quirks, is described in the module that
reads it):

- ``lamppost_inventory.csv`` (required; ``inventory``): the units, their conversion phase and
  the devices they carry;
- ``energy_readings.csv`` and ``work_orders.csv`` (required; ``lighting_records``): nightly kWh
  per lamppost and repair work orders;
- ``hko_weather/smart_lamppost_weather_YYYYMMDD.json`` (``weather_json``): the hourly-polled
  HKO weather API responses of the lampposts with a weather station;
- ``td_detectors/rawSpeedVol_SLP-all_YYYYMMDD.zip`` (``detector_xml``): sampled TD detector
  snapshots, with ``traffic_speed_volume_occ_info-slp.csv`` (``pilots.td_detectors``), required
  whenever there are snapshots.

Observation fields: ``kwh`` (per metered night, stamped 18:00 on the night's date), ``fault``
(1 per work order, at the report) and ``repair_hours`` (report to repair, when repaired);
``air_temperature``, ``relative_humidity``, ``wind_speed``, ``wind_direction`` per weather
record (a reading that failed QC is absent); ``traffic_volume`` and ``traffic_speed`` per
detector period online; and ``sensor_availability`` per equipped lamppost and day the archives
ran, in percent: for a weather station the records that arrived out of the 24 hourly polls, for
a detector its online periods out of the periods the archive holds that day, averaged over the
lamppost's devices. Lampposts without a device have no availability: nothing was expected.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from livinglab.errors import DataError
from pilots.contract import (
    HONG_KONG,
    OBSERVATION_SCHEMA,
    ExpectedReadings,
    FileHealth,
    Observations,
)
from pilots.smart_lampposts.detector_xml import ARCHIVE as DETECTOR_ARCHIVE
from pilots.smart_lampposts.detector_xml import LOCATIONS, DetectorArchive, read_detector_archive
from pilots.smart_lampposts.inventory import read_inventory
from pilots.smart_lampposts.lighting_records import read_energy, read_work_orders
from pilots.smart_lampposts.weather_json import POLLS_PER_DAY, READINGS, read_weather_archive
from pilots.td_detectors import read_locations

EXPECTED = (
    ExpectedReadings("kwh", 1.0, "Nightly energy meter readings"),
    ExpectedReadings(
        "air_temperature", POLLS_PER_DAY, "HKO weather records", units_with="weather_device"
    ),
    # Two archived snapshots a day, each holding two 30-second periods.
    ExpectedReadings("traffic_volume", 4.0, "TD detector periods online", units_with="detector_id"),
)


def load_smart_lampposts(data_dir: Path) -> Observations:
    """Read the raw files in ``data_dir`` into observations with a quarantine."""
    units, inventory_raw, inventory_bad = read_inventory(data_dir)
    energy, energy_raw, energy_bad, energy_accepted = read_energy(data_dir, units)
    orders, orders_raw, orders_bad, order_checks = read_work_orders(data_dir, units)
    weather = read_weather_archive(data_dir, units.filter(pl.col("weather_device").is_not_null()))
    detectors = _detectors(data_dir, units)

    records = weather.records.lazy()
    detector_periods = detectors.periods.lazy().join(
        units.lazy().select("unit", "detector_id"), on="detector_id"
    )
    table = pl.concat(
        [
            _field(energy, "kwh", "kwh"),
            _field(orders, "fault", pl.lit(1.0)),
            _field(
                orders.filter(pl.col("repair_hours").is_not_null()), "repair_hours", "repair_hours"
            ),
            *(_field(records.filter(pl.col(name).is_not_null()), name, name) for name in READINGS),
            _field(detector_periods.filter("online"), "traffic_volume", "volume"),
            _field(
                detector_periods.filter(pl.col("speed").is_not_null()), "traffic_speed", "speed"
            ),
            _field(
                _availability(units, weather.records, weather.days, detectors),
                "sensor_availability",
                "availability",
            ),
        ]
    )
    quarantine = pl.concat(
        [
            inventory_raw.quarantine,
            inventory_bad,
            energy_raw.quarantine,
            energy_bad,
            orders_raw.quarantine,
            orders_bad,
            weather.quarantine,
            detectors.quarantine,
        ]
    )
    files = (
        FileHealth(inventory_raw.file, inventory_raw.rows_read, units.height),
        FileHealth(energy_raw.file, energy_raw.rows_read, energy_accepted),
        FileHealth(orders_raw.file, orders_raw.rows_read, order_checks["work_orders"]),
        *weather.files,
        *detectors.files,
    )
    return Observations(
        table=table,
        units=units,
        quarantine=quarantine,
        files=files,
        checks={
            "lampposts": _lamppost_checks(units),
            "work_orders": order_checks,
            "weather_archive": weather.checks | {"day_files": len(weather.files)},
            "detector_archive": detectors.checks,
        },
        expected=EXPECTED,
    )


def _detectors(data_dir: Path, units: pl.DataFrame) -> DetectorArchive:
    """The detector archive, with the location list's health, quarantine and checks.

    The location list is required when there are snapshots: without it no detector id can be
    checked. Without snapshots or list there is simply no traffic data.
    """
    folder = data_dir / DETECTOR_ARCHIVE
    snapshots = folder.is_dir() and any(
        path.suffix in (".zip", ".xml") for path in folder.iterdir()
    )
    if not snapshots and not (data_dir / LOCATIONS).is_file():
        return read_detector_archive(data_dir, pl.Series("detector_id", [], pl.String))
    try:
        locations = read_locations(data_dir / LOCATIONS)
    except DataError as error:
        raise DataError(f"{error} (needed to read the snapshots in {folder})") from error
    listed = locations.detectors["detector_id"]
    archive = read_detector_archive(data_dir, listed)
    return replace(
        archive,
        quarantine=pl.concat([locations.quarantine, archive.quarantine]),
        files=(locations.health, *archive.files),
        checks=archive.checks
        | {
            "location_list_encoding": locations.encoding,
            "detectors_listed": locations.detectors.height,
            "inventory_detectors_not_in_location_list": sorted(
                set(units["detector_id"].drop_nulls()) - set(listed)
            ),
        },
    )


def _availability(
    units: pl.DataFrame, records: pl.DataFrame, days: pl.Series, detectors: DetectorArchive
) -> pl.LazyFrame:
    """``unit, timestamp, availability`` (%) per equipped lamppost and day the archives ran."""
    day = pl.col("timestamp").dt.date().alias("day")
    delivered = (
        records.filter(pl.any_horizontal(pl.col(name).is_not_null() for name in READINGS))
        .group_by("unit", day)
        .len()
    )
    weather = (
        units.filter(pl.col("weather_device").is_not_null())
        .select("unit")
        .join(days.to_frame("day"), how="cross")
        .join(delivered, on=["unit", "day"], how="left")
        .select(
            "unit", "day", (pl.col("len").fill_null(0) / POLLS_PER_DAY).clip(0, 1).alias("share")
        )
    )
    online = detectors.periods.filter("online").group_by("detector_id", day).len()
    traffic = (
        units.filter(pl.col("detector_id").is_not_null())
        .select("unit", "detector_id")
        .join(detectors.archive_periods, how="cross")
        .join(online, on=["detector_id", "day"], how="left")
        .select("unit", "day", (pl.col("len").fill_null(0) / pl.col("periods")).alias("share"))
    )
    return (
        pl.concat([weather, traffic])
        .lazy()
        .group_by("unit", "day")
        .agg((100 * pl.col("share").mean()).alias("availability"))
        .select(
            "unit",
            pl.col("day")
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone(HONG_KONG)
            .alias("timestamp"),
            "availability",
        )
    )


def _field(frame: pl.LazyFrame, name: str, value: str | pl.Expr) -> pl.LazyFrame:
    expr = pl.col(value) if isinstance(value, str) else value
    return frame.select(
        "unit", "timestamp", pl.lit(name).alias("field"), expr.cast(pl.Float64).alias("value")
    ).cast(OBSERVATION_SCHEMA)  # type: ignore[arg-type]


def _lamppost_checks(units: pl.DataFrame) -> dict[str, Any]:
    return {
        "total": units.height,
        "by_phase": dict(units.group_by("phase").len().sort("phase").rows()),
        "with_weather_station": int(units["weather_device"].is_not_null().sum()),
        "with_traffic_detector": int(units["detector_id"].is_not_null().sum()),
    }
