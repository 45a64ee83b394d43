"""TD lamppost traffic detectors: archived ``rawSpeedVol_SLP-all.xml`` snapshots (FEEDS.md §1c).

The feed (same XSD and fields as the strategic-road detectors, FEEDS.md §2c) is republished
every minute with the two latest 30-second periods::

    <raw_speed_volume_list>
      <date>2026-03-02</date>
      <periods><period>
        <period_from>08:00:00</period_from><period_to>08:00:30</period_to>
        <detectors><detector>
          <detector_id>AID20031</detector_id><direction>South East</direction>
          <lanes><lane><lane_id>Fast Lane</lane_id><speed>43</speed><occupancy>6</occupancy>
            <volume>3</volume><s.d.>5.7</s.d.><valid>Y</valid></lane>...</lanes>
        </detector>...</detectors>
      </period>...</periods>
    </raw_speed_volume_list>

The pilot's archive keeps a sparse sample of the snapshots (``rawSpeedVol_SLP-all_YYYYMMDD-HHMM
.xml``), bundled per day in ``td_detectors/rawSpeedVol_SLP-all_YYYYMMDD.zip``; loose ``.xml``
snapshots in that folder are read too. Quirks:

- ``speed`` holds the speed limit when ``volume`` is 0: a placeholder, read as missing;
- ``valid=N`` means the detector was offline: the lane's numbers are not measurements;
- the period starting at 00:00:00 carries the previous day's ``date``: it is moved to the next
  day;
- a snapshot that is not well-formed XML (cut short, garbage) is one quarantined entry.

Quarantine ``line`` numbers count lane readings (and unreadable snapshots) through each archive
file from 1; the raw text names the snapshot.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pilots.contract import HONG_KONG, QUARANTINE_SCHEMA, FileHealth

ARCHIVE = "td_detectors"
LANE_TAGS = ("lane_id", "speed", "occupancy", "volume", "s.d.", "valid")
LANE_TAG_LIST = list(LANE_TAGS)
CONTEXT = ("member", "date", "period_from", "period_to", "detector_id", "direction")
RAW_LIMIT = 200
MAX_VOLUME = 200  # vehicles per lane in 30 seconds; real readings stay below about 61
MAX_SPEED = 250.0
ONLINE = pl.col("valid") == "Y"  # valid=N: the detector was offline, its numbers mean nothing


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
    contexts: list[tuple[str | None, ...]] = []  # file and CONTEXT of each detector element
    readings: list[tuple[Any, ...]] = []  # context index, line and LANE_TAGS of each lane
    unreadable: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA}
    rows_read: dict[str, int] = {}
    folder = data_dir / ARCHIVE
    for path in sorted(folder.glob("*.zip")) + sorted(folder.glob("*.xml")):
        name = f"{ARCHIVE}/{path.name}"
        line = 0
        for member, data in _snapshots(path):
            added = _parse_snapshot(data, (name, member), line, contexts, readings)
            if isinstance(added, tuple):
                line += 1
                for key, value in zip(QUARANTINE_SCHEMA, (name, line, *added), strict=True):
                    unreadable[key].append(value)
            else:
                line += added
        rows_read[name] = line
    context = pl.DataFrame(
        contexts, schema=dict.fromkeys(("_file", *CONTEXT), pl.String), orient="row"
    ).with_row_index("_context")
    lanes = (
        pl.DataFrame(
            readings,
            schema={"_context": pl.UInt32, "_line": pl.Int64} | dict.fromkeys(LANE_TAGS, pl.String),
            orient="row",
        )
        .join(context, on="_context", how="left", maintain_order="left")
        .with_columns(pl.col(*CONTEXT, *LANE_TAGS).str.strip_chars())
    )
    checked = _check(lanes, detectors)
    rejected = checked.filter(pl.col("_reason").is_not_null()).select(
        pl.col("_file").alias("file"),
        pl.col("_line").alias("line"),
        pl.col("_reason").alias("reason"),
        _raw().alias("raw"),
    )
    quarantine = pl.concat(
        [pl.DataFrame(unreadable, schema=QUARANTINE_SCHEMA), rejected.cast(QUARANTINE_SCHEMA)]
    )
    quarantined = dict(quarantine.group_by("file").len().rows())
    accepted = checked.filter(pl.col("_reason").is_null())
    archive_periods = (
        checked.filter(pl.col("timestamp").is_not_null())
        .group_by(pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("timestamp").n_unique().alias("periods"))
        .sort("day")
    )
    return DetectorArchive(
        periods=_periods(accepted),
        archive_periods=archive_periods,
        quarantine=quarantine,
        files=tuple(
            FileHealth(name, read, read - quarantined.get(name, 0))
            for name, read in rows_read.items()
        ),
        checks={
            "detector_snapshots_unreadable": len(unreadable["file"]),
            "detector_midnight_periods_redated": accepted.filter(
                pl.col("period_from") == "00:00:00"
            )
            .select(pl.struct("_file", "member", "timestamp").n_unique())
            .item(),
            "detector_speed_placeholders_read_as_missing": accepted.filter(
                ONLINE & (pl.col("volume").cast(pl.Int64) == 0)
            ).height,
            "detector_offline_lane_readings": accepted.filter(~ONLINE).height,
        },
    )


def _periods(accepted: pl.DataFrame) -> pl.DataFrame:
    """Per detector and period: online (any lane valid), total volume and mean speed."""
    volume = pl.col("volume").cast(pl.Int64)
    measured = accepted.select(
        "detector_id",
        "timestamp",
        ONLINE.alias("online"),
        pl.when(ONLINE).then(volume).alias("volume"),
        pl.when(ONLINE & (volume > 0)).then(pl.col("speed").cast(pl.Float64)).alias("speed"),
    )
    # Volume-weighted over the lanes that measured a speed; none when nothing passed.
    timed = pl.col("volume").filter(pl.col("speed").is_not_null()).sum()
    return (
        measured.group_by("detector_id", "timestamp")
        .agg(
            pl.col("online").any(),
            pl.col("volume").sum().cast(pl.Float64),
            pl.when(timed > 0)
            .then((pl.col("speed") * pl.col("volume")).sum() / timed)
            .alias("speed"),
        )
        .with_columns(pl.when("online").then(pl.col("volume")).alias("volume"))
        .sort("detector_id", "timestamp")
    )


def _snapshots(path: Path) -> Iterator[tuple[str, bytes | None]]:
    """``(name, bytes)`` of each snapshot in a zip archive or a loose XML file; ``None`` bytes
    when a member or the whole archive cannot be read."""
    if path.suffix != ".zip":
        yield path.name, path.read_bytes()
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        yield path.name, None
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
                data = None
            yield info.filename, data


def _parse_snapshot(
    data: bytes | None,
    source: tuple[str, str],
    line: int,
    contexts: list[tuple[str | None, ...]],
    readings: list[tuple[Any, ...]],
) -> int | tuple[str, str]:
    """Append the snapshot's detectors to ``contexts`` and lane readings (numbered on from
    ``line``) to ``readings``, and count the lanes; or say why none could be read, with the
    raw text to keep. ``source`` names the archive file and the snapshot."""
    member = source[1]
    if data is None:
        return "the archive or this snapshot in it cannot be unzipped", member
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        text = data[:RAW_LIMIT].decode("utf-8", errors="replace")
        return "the snapshot is cut short or not well-formed XML", f"{member} ({error}): {text}"
    if root.tag != "raw_speed_volume_list":
        return "the snapshot is not a raw_speed_volume_list document", f"{member}: <{root.tag}>"
    count = 0
    day = root.findtext("date")
    for period in root.iter("period"):
        start, end = period.findtext("period_from"), period.findtext("period_to")
        for detector in period.iter("detector"):
            index = len(contexts)
            identity = (detector.findtext("detector_id"), detector.findtext("direction"))
            contexts.append((*source, day, start, end, *identity))
            for lane in detector.iter("lane"):
                children = list(lane)
                count += 1
                if [child.tag for child in children] == LANE_TAG_LIST:
                    readings.append((index, line + count, *(child.text for child in children)))
                else:
                    readings.append((index, line + count, *map(lane.findtext, LANE_TAGS)))
    return count


def _check(lanes: pl.DataFrame, detectors: pl.Series) -> pl.DataFrame:
    """Lanes with their Hong Kong ``timestamp`` (the midnight date fixed) and ``_reason``."""
    day = pl.col("date").str.to_date("%Y-%m-%d", strict=False)
    start = pl.col("period_from").str.to_time("%H:%M:%S", strict=False)
    # The 00:00:00 period is published under the previous day's date.
    fixed = pl.when(pl.col("period_from") == "00:00:00").then(day.dt.offset_by("1d")).otherwise(day)
    timestamp = fixed.dt.combine(start).dt.replace_time_zone(HONG_KONG)
    volume = pl.col("volume").cast(pl.Int64, strict=False)
    speed = pl.col("speed").cast(pl.Float64, strict=False)
    occupancy = pl.col("occupancy").cast(pl.Float64, strict=False)
    reason = pl.coalesce(
        pl.when(day.is_null()).then(pl.lit("date is not a date like 2026-03-02")),
        pl.when(start.is_null()).then(pl.lit("period_from is not a time like 07:53:00")),
        pl.when(
            pl.col("detector_id").is_null() | ~pl.col("detector_id").is_in(detectors.implode())
        ).then(pl.lit("detector_id is not in traffic_speed_volume_occ_info-slp.csv")),
        pl.when(pl.col("lane_id").is_null() | (pl.col("lane_id") == "")).then(
            pl.lit("lane_id is empty")
        ),
        pl.when(~pl.col("valid").is_in(["Y", "N"]).fill_null(False)).then(
            pl.lit("valid is not Y or N")
        ),
        pl.when(ONLINE & (volume.is_null() | (volume < 0) | (volume > MAX_VOLUME))).then(
            pl.lit(f"volume is not a whole number from 0 to {MAX_VOLUME}")
        ),
        pl.when(
            ONLINE & (speed.is_null() | speed.is_nan() | (speed < 0) | (speed > MAX_SPEED))
        ).then(pl.lit(f"speed is not a number from 0 to {MAX_SPEED:g}")),
        pl.when(
            ONLINE
            & (occupancy.is_null() | occupancy.is_nan() | (occupancy < -1) | (occupancy > 100))
        ).then(pl.lit("occupancy is not a number from -1 to 100")),
    )
    checked = lanes.with_columns(timestamp.alias("timestamp"), reason.alias("_reason"))
    readable = pl.col("_reason").is_null()
    repeat = (
        readable & ~pl.struct("detector_id", "lane_id", "timestamp", readable).is_first_distinct()
    )
    return checked.with_columns(
        pl.when(repeat)
        .then(pl.lit("repeats an earlier reading for this detector, lane and period"))
        .otherwise(pl.col("_reason"))
        .alias("_reason")
    )


def _raw() -> pl.Expr:
    """A lane reading as text, named by its snapshot, for the quarantine."""
    return pl.format(
        "{}: {} {}-{} {} {} | {}: speed={} occupancy={} volume={} s.d.={} valid={}",
        *(pl.col(name).fill_null("") for name in (*CONTEXT, *LANE_TAGS)),
    )
