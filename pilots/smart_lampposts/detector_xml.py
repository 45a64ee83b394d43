"""TD lamppost traffic detectors: archived ``rawSpeedVol_SLP-all.xml`` snapshots (FEEDS.md §1c).

The feed has the strategic-road detectors' format and quirks (``pilots.td_detectors``) and is
republished every minute with the two latest 30-second periods. The pilot's archive keeps a
sparse sample of the snapshots (``rawSpeedVol_SLP-all_YYYYMMDD-HHMM.xml``), bundled per day in
``td_detectors/rawSpeedVol_SLP-all_YYYYMMDD.zip``; loose ``.xml`` snapshots in that folder are
read too. A zip archive, or a snapshot in it, that cannot be unzipped is one quarantined entry;
the detectors must be in TD's location list ``traffic_speed_volume_occ_info-slp.csv``; a second
reading of a detector's lane in one period is quarantined.

Quarantine ``line`` numbers count lane readings (and unreadable snapshots) through each archive
file from 1; the raw text names the snapshot.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pilots.contract import FileHealth
from pilots.fields import membership_problem
from pilots.td_detectors import (
    LaneLimits,
    Snapshot,
    detector_periods,
    parse_snapshot,
    read_lanes,
    split_lanes,
)

ARCHIVE = "td_detectors"
LOCATIONS = "traffic_speed_volume_occ_info-slp.csv"
# Vehicles per lane in 30 seconds (real readings stay below about 61) and km/h.
LIMITS = LaneLimits(max_volume=200, max_speed=250)
UNZIPPABLE = "the archive or this snapshot in it cannot be unzipped"
REPEAT = "repeats an earlier reading for this detector, lane and period"


@dataclass(frozen=True)
class DetectorArchive:
    """Per detector and period: ``detector_id, timestamp, online, volume, speed``; and per day
    the number of periods the archive holds (``day, periods``)."""

    periods: pl.DataFrame
    archive_periods: pl.DataFrame
    quarantine: pl.DataFrame
    files: tuple[FileHealth, ...]
    checks: dict[str, int]


def read_detector_archive(data_dir: Path, detectors: pl.Series) -> DetectorArchive:
    """Read every archived snapshot; ``detectors`` are the ids in TD's location list."""
    folder = data_dir / ARCHIVE
    read = read_lanes(
        (
            (f"{ARCHIVE}/{path.name}", snapshot)
            for path in sorted(folder.glob("*.zip")) + sorted(folder.glob("*.xml"))
            for snapshot in _snapshots(path)
        ),
        LIMITS,
    )
    listed = read.readings.with_columns(
        pl.coalesce("_reason", membership_problem("detector_id", detectors, LOCATIONS)).alias(
            "_reason"
        )
    )
    readable = pl.col("_reason").is_null()
    repeat = (
        readable & ~pl.struct("detector_id", "lane_id", "timestamp", readable).is_first_distinct()
    )
    checked = listed.with_columns(
        pl.when(repeat).then(pl.lit(REPEAT)).otherwise(pl.col("_reason")).alias("_reason")
    )
    accepted, rejected = split_lanes(checked)
    quarantine = pl.concat([read.broken, rejected])
    quarantined = dict(quarantine.group_by("file").len().rows())
    archive_periods = (
        checked.filter(pl.col("timestamp").is_not_null())
        .group_by(pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("timestamp").n_unique().alias("periods"))
        .sort("day")
    )
    return DetectorArchive(
        periods=detector_periods(accepted),
        archive_periods=archive_periods,
        quarantine=quarantine,
        files=tuple(
            FileHealth(name, rows, rows - quarantined.get(name, 0))
            for name, rows in read.rows_read.items()
        ),
        checks={
            "detector_snapshots_unreadable": read.broken.height,
            "detector_midnight_periods_redated": accepted.filter("redated")
            .select(pl.struct("_file", "snapshot", "timestamp").n_unique())
            .item(),
            "detector_speed_placeholders_read_as_missing": int(accepted["placeholder"].sum()),
            "detector_offline_lane_readings": int((~accepted["online"]).sum()),
        },
    )


def _snapshots(path: Path) -> Iterator[Snapshot]:
    """Each snapshot in a zip archive, or a loose XML file's; one that cannot be unzipped (or
    a whole archive that cannot) is a snapshot without lanes."""
    if path.suffix != ".zip":
        yield parse_snapshot(path.name, path.read_bytes())
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        yield Snapshot(path.name, problem=(UNZIPPABLE, path.name))
        return
    with archive:
        for info in archive.infolist():
            try:
                data = archive.read(info)
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                ValueError,
                zlib.error,
                NotImplementedError,
            ):
                yield Snapshot(info.filename, problem=(UNZIPPABLE, info.filename))
            else:
                yield parse_snapshot(info.filename, data)
