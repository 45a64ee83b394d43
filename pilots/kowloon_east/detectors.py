"""Strategic-road traffic detectors: the archive of TD's ``rawSpeedVol-all.xml`` (FEEDS.md 2c).

Each file (``rawSpeedVol/YYYYMMDD-HHMM-rawSpeedVol-all.xml``, named by archive time) is one
document of two 30-second periods, read with the feed's quirks by ``pilots.td_detectors``. Here:
a lane faster than 130 km/h is quarantined; the archive stores some files twice, so an
identical repeat of a lane reading is quarantined, while two different readings under one lane
name (a known quirk of some detectors) are both kept. Only detectors listed in
``traffic_speed_volume_occ_info.csv`` are accepted. The live feed publishes every minute; the
simulated archive keeps one file per day in the morning peak and one just after midnight on
Mondays.

Observations, per area and 30-second period of its detectors: ``detector_volume`` (vehicles
over the online lanes) and ``detector_speed`` (their volume-weighted mean speed, when any
vehicle passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pilots.contract import FileHealth
from pilots.fields import membership_problem
from pilots.kowloon_east.records import archive_files
from pilots.td_detectors import (
    DetectorLocations,
    LaneLimits,
    detector_periods,
    parse_snapshot,
    read_lanes,
    read_locations,
    split_lanes,
)

ARCHIVE = "rawSpeedVol"
PATTERN = "YYYYMMDD-HHMM-rawSpeedVol-all.xml"
LOCATIONS = "traffic_speed_volume_occ_info.csv"
# Vehicles per lane in 30 seconds (the feed's observed maximum is 61) and km/h.
LIMITS = LaneLimits(max_volume=100, max_speed=130)
REPEAT = "repeats an identical earlier reading of this lane and period"
READING = ("detector_id", "lane_id", "timestamp", "valid", "speed", "volume", "occupancy")


@dataclass(frozen=True)
class DetectorLanes:
    """Accepted lane readings (see ``td_detectors.split_lanes``), the archive's quarantine and
    its health (one entry for the whole archive), and the location list they were checked
    against."""

    lanes: pl.DataFrame
    quarantine: pl.DataFrame
    health: FileHealth
    files: int
    locations: DetectorLocations


def read_detector_archive(data_dir: Path) -> DetectorLanes | None:
    """Every ``<lane>`` of every file, checked against the location list (required with the
    archive); ``None`` without an archive."""
    if not (data_dir / ARCHIVE).is_dir():
        return None
    locations = read_locations(data_dir / LOCATIONS)
    known = locations.detectors["detector_id"]
    files = archive_files(data_dir / ARCHIVE, PATTERN)
    read = read_lanes(
        (
            (f"{ARCHIVE}/{path.name}", parse_snapshot(path.name, path.read_bytes()))
            for path in files
        ),
        LIMITS,
    )
    checked = read.readings.with_columns(
        pl.coalesce(
            "_reason",
            membership_problem("detector_id", known, LOCATIONS),
            pl.when(~pl.struct(*READING).is_first_distinct()).then(pl.lit(REPEAT)),
        ).alias("_reason")
    )
    lanes, rejected = split_lanes(checked)
    return DetectorLanes(
        lanes=lanes,
        quarantine=pl.concat([read.broken, rejected]),
        health=FileHealth(
            f"{ARCHIVE}/*-rawSpeedVol-all.xml ({len(files)} files)",
            sum(read.rows_read.values()),
            lanes.height,
        ),
        files=len(files),
        locations=locations,
    )


def detector_observations(
    lanes: pl.DataFrame, detectors: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``unit, timestamp, field, value`` per detector and period, and what was nulled."""
    table = (
        detector_periods(lanes)
        .join(detectors, on="detector_id", how="inner")
        .rename({"volume": "detector_volume", "speed": "detector_speed"})
        .unpivot(
            ["detector_volume", "detector_speed"],
            index=["area", "timestamp"],
            variable_name="field",
        )
        .filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
        .select(pl.col("area").alias("unit"), "timestamp", "field", "value")
    )
    counts = {
        "lane_readings": lanes.height,
        "offline_lanes": int((~lanes["online"]).sum()),
        "placeholder_speeds_dropped": int(lanes["placeholder"].sum()),
        "midnight_periods_redated": int(
            lanes.filter("redated").select("detector_id", "timestamp").n_unique()
        ),
        "lane_readings_outside_areas": int(
            (~lanes["detector_id"].is_in(detectors["detector_id"].implode())).sum()
        ),
    }
    return table, counts
