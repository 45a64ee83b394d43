"""Read the Kowloon East pilot's raw feeds into observations per area.

Files in the data directory (each format and its quirks are described in the module that reads
it):

- ``area_lookup.csv`` (required; ``lookup``): which segments, car parks and detectors belong to
  which area, the unit of analysis;
- ``irnAvgSpeed/*-irnAvgSpeed-all.xml`` (required; ``segments``): TD segment-speed snapshots,
  the source of peak-hour speeds and corridor journey times;
- ``carpark_info.json`` (required) and ``vacancy/vacancy_YYYYMMDD-HH.json`` (``carparks``): the
  one-stop parking vacancy API's car-park information and hourly vacancy snapshots;
- ``rawSpeedVol/*-rawSpeedVol-all.xml`` with ``traffic_speed_volume_occ_info.csv``
  (``detectors``, formats in ``pilots.td_detectors``): TD strategic-road detector readings and
  the detector location list, required together when the archive is there.

A missing required file raises ``DataError``; a missing optional archive is noted under
``checks["feeds_missing"]`` and its metrics have no data. Every unreadable record is quarantined
with its file, index and reason; a truncated or garbage file loses only what it cannot give. The
feeds hold no person identifiers; the car-park operators' contact numbers are dropped. Each feed
is one entry of ``files`` (an archive of snapshots counts its records together), so counts add
up per feed. Timestamps are Hong Kong time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from pilots.contract import OBSERVATION_SCHEMA, ExpectedReadings, FileHealth, Observations
from pilots.kowloon_east.carparks import (
    carpark_observations,
    read_info,
    read_vacancy_archive,
    validate_vacancy,
)
from pilots.kowloon_east.detectors import detector_observations, read_detector_archive
from pilots.kowloon_east.lookup import Lookup, read_lookup
from pilots.kowloon_east.records import feed_health
from pilots.kowloon_east.segments import (
    read_segment_archive,
    segment_observations,
    validate_segments,
)


def load_kowloon_east(data_dir: Path) -> Observations:
    """Read every feed in ``data_dir`` into observations per area, with a quarantine."""
    lookup = read_lookup(data_dir)
    info = read_info(data_dir)
    segment_feed = read_segment_archive(data_dir)
    readings, segments_bad = validate_segments(segment_feed)
    speeds, segment_checks = segment_observations(readings, lookup.segments)

    tables = [speeds]
    quarantine = [lookup.quarantine, info.quarantine, segment_feed.broken, segments_bad]
    files: list[FileHealth] = [
        lookup.health,
        info.health,
        feed_health(segment_feed, readings.height),
    ]
    checks: dict[str, Any] = {
        "segments": segment_checks | {"snapshots": segment_feed.files},
        "car_parks": dict(info.checks),
    }
    missing = []

    vacancy = read_vacancy_archive(data_dir)
    if vacancy is None:
        missing.append("vacancy/ (car-park vacancy snapshots): car-park metrics have no data")
    else:
        feed, items = vacancy
        vacancies, vacancy_bad = validate_vacancy(feed, items, info.carparks["park_id"])
        occupancy, vacancy_checks = carpark_observations(vacancies, info.carparks, lookup.carparks)
        tables.append(occupancy)
        quarantine += [feed.broken, vacancy_bad]
        files.append(feed_health(feed, vacancies.height))
        checks["car_parks"] |= vacancy_checks | {"snapshots": feed.files}

    detectors = read_detector_archive(data_dir)
    if detectors is None:
        missing.append("rawSpeedVol/ (traffic detector readings)")
    else:
        traffic, detector_checks = detector_observations(detectors.lanes, lookup.detectors)
        tables.append(traffic)
        quarantine += [detectors.locations.quarantine, detectors.quarantine]
        files += [detectors.locations.health, detectors.health]
        checks["detectors"] = detector_checks | {"files": detectors.files}

    table = pl.concat([frame.cast(OBSERVATION_SCHEMA) for frame in tables])  # type: ignore[arg-type]
    if missing:
        checks["feeds_missing"] = missing
    return Observations(
        table=table.lazy(),
        units=_units(lookup, info.carparks),
        quarantine=pl.concat(quarantine),
        files=tuple(files),
        checks=checks,
        expected=_expected(table, lookup),
    )


def _units(lookup: Lookup, carparks: pl.DataFrame) -> pl.DataFrame:
    """One row per area: its corridor, car parks and detectors."""
    corridor = lookup.segments.group_by("area").agg(
        pl.len().alias("corridor_segments"), (pl.col("length_m").sum() / 1000).alias("corridor_km")
    )
    parks = (
        lookup.carparks.join(carparks, on="park_id", how="inner")
        .group_by("area")
        .agg(
            pl.len().alias("car_parks"),
            pl.col("capacity").sum().alias("private_car_spaces"),
            pl.col("latitude").mean().round(4).alias("lat"),
            pl.col("longitude").mean().round(4).alias("lon"),
        )
    )
    detectors = lookup.detectors.group_by("area").agg(pl.len().alias("detectors"))
    units = lookup.areas.select(pl.col("area").alias("unit"), "area", "district")
    for extra in (corridor, parks, detectors):
        units = units.join(extra, on="area", how="left")
    return units.with_columns(
        pl.col("corridor_segments", "car_parks", "detectors").fill_null(0).cast(pl.Int64)
    ).sort("unit")


def _expected(table: pl.DataFrame, lookup: Lookup) -> tuple[ExpectedReadings, ...]:
    """The regular feeds, their daily count inferred from the archive's sampling.

    Per area and day: the features that report one row each per snapshot (the corridor as a
    whole, or each car park or detector) times the distinct snapshot times the archive holds on
    a typical (median) day, so whole days without any snapshot count as gaps.
    """
    feeds = (
        (
            "peak_speed",
            lookup.segments.select("area").unique(),
            "complete peak-hour corridor snapshots",
        ),
        ("carpark_hour", lookup.carparks, "car-park vacancy readings"),
        ("detector_volume", lookup.detectors, "detector periods"),
    )
    expected = []
    for field, features, label in feeds:
        rows = table.filter(pl.col("field") == field)
        if rows.height == 0 or features.height == 0:
            continue
        per_day_times = (
            rows.group_by(pl.col("timestamp").dt.date().alias("day"))
            .agg(pl.col("timestamp").n_unique().alias("times"))["times"]
            .median()
        )
        per_area = features.group_by("area").len()["len"].median()
        per_day = float(per_day_times) * float(per_area)  # type: ignore[arg-type]
        expected.append(ExpectedReadings(field, per_day, f"{label} ({per_day:g} per area-day)"))
    return tuple(expected)
