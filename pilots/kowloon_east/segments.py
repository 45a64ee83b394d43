"""Segment speeds: the archive of TD's ``irnAvgSpeed-all.xml`` snapshots (FEEDS.md 2d).

Each snapshot (``irnAvgSpeed/YYYYMMDD-HHMM-irnAvgSpeed-all.xml``, named by archive time) is::

    <segment_speed_list><date>2026-05-05</date><time>08:31:00</time><irn_version>20221210</...>
      <segments><segment><segment_id>52011</segment_id><speed>38.4</speed><valid>Y</valid>
      </segment>...</segments></segment_speed_list>

``date`` and ``time`` are Hong Kong time (the measurement, not the archive time). ``speed`` is the
segment's current average speed in km/h, capped at 121; with ``valid = N`` (segment offline) it is
a placeholder and is read as no reading. The live feed publishes every two minutes for ~4,400
segments; the simulated archive keeps a few peak-hour snapshots a day for the pilot's segments.
The archive stores some snapshots twice (identical copies fetched at two times): a repeat of a
segment's reading for the same time is quarantined. Segments outside every area are read and
counted but not used.

Observations, per area and snapshot in which every segment of the area's corridor has a valid,
non-zero speed: ``peak_speed`` (the corridor's space-mean speed, its length over the time to
drive it, in the morning or evening peak, 07:30-09:30 and 17:30-19:30), ``offpeak_speed`` (the
same at other times) and ``journey_time`` (minutes to drive the corridor, in the peaks).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

import polars as pl

from pilots.contract import HONG_KONG
from pilots.kowloon_east.records import (
    RAW_LIMIT,
    Columns,
    FeedRead,
    archive_files,
    broken_rows,
    split_records,
)
from pilots.td_detectors import BROKEN, xml_records

ARCHIVE = "irnAvgSpeed"
PATTERN = "YYYYMMDD-HHMM-irnAvgSpeed-all.xml"
MAX_SPEED = 121.0  # the feed caps speeds here
PEAKS = ((time(7, 30), time(9, 30)), (time(17, 30), time(19, 30)))
FIELDS = ("date", "time", "segment_id", "speed", "valid")


def read_segment_archive(data_dir: Path) -> FeedRead:
    """Every ``<segment>`` of every snapshot, as strings, with the snapshot's date and time."""
    columns = Columns(FIELDS)
    broken: list[tuple[str, int, str, str]] = []
    files = archive_files(data_dir / ARCHIVE, PATTERN)
    for path in files:
        name = f"{ARCHIVE}/{path.name}"  # quarantine rows name the file within the archive
        data = path.read_bytes()
        records, _, complaint = xml_records(data, "segment", FIELDS[:2], FIELDS[2:])
        for count, values in enumerate(records, start=1):
            columns.add(name, count, values)
        if complaint:
            broken.append((name, len(records) + 1, BROKEN, complaint))
        elif not records:
            reason = "not an irnAvgSpeed document: no <segment> inside <segment_speed_list>"
            broken.append((name, 0, reason, data[:RAW_LIMIT].decode(errors="replace")))
    return FeedRead(
        f"{ARCHIVE}/*-irnAvgSpeed-all.xml ({len(files)} snapshots)",
        columns.frame(),
        broken_rows(broken),
        len(files),
    )


def validate_segments(feed: FeedRead) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted readings (``segment_id, timestamp, speed``; speed null when offline), quarantine."""
    stamp = (
        pl.concat_str(
            pl.col("date").str.strip_chars(), pl.lit(" "), pl.col("time").str.strip_chars()
        )
        .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
        .dt.replace_time_zone(HONG_KONG)
    )
    frame = feed.records.with_columns(
        stamp.alias("timestamp"),
        pl.col("segment_id").str.strip_chars(),
        pl.col("valid").str.strip_chars(),
        pl.col("speed").str.strip_chars().cast(pl.Float64, strict=False).alias("_speed"),
    )
    online = pl.col("valid") == "Y"
    blank = pl.col("speed").is_null() | (pl.col("speed").str.strip_chars() == "")
    accepted, quarantine = split_records(
        frame,
        [
            pl.when(pl.col("timestamp").is_null()).then(
                pl.lit("date and time are not a snapshot time like 2026-05-05 08:31:00")
            ),
            pl.when(pl.col("segment_id").is_null() | (pl.col("segment_id") == "")).then(
                pl.lit("segment_id is empty")
            ),
            pl.when(~pl.col("valid").is_in(["Y", "N"]) | pl.col("valid").is_null()).then(
                pl.lit("valid is not Y (online) or N (offline)")
            ),
            pl.when(online & blank).then(pl.lit("speed is empty on an online segment")),
            pl.when(online & (pl.col("_speed").is_null() | pl.col("_speed").is_nan())).then(
                pl.lit("speed is not a number")
            ),
            pl.when(online & ((pl.col("_speed") < 0) | (pl.col("_speed") > MAX_SPEED))).then(
                pl.lit(f"speed is outside 0 to {MAX_SPEED:g} km/h")
            ),
            pl.when(
                pl.col("timestamp").is_not_null()
                & ~pl.struct("segment_id", "timestamp").is_first_distinct()
            ).then(pl.lit("repeats an earlier reading for this segment and time")),
        ],
        _raw_segment,
    )
    readings = accepted.select(
        "segment_id",
        "timestamp",
        pl.when(online).then(pl.col("_speed")).alias("speed"),
    )
    return readings, quarantine


def segment_observations(
    readings: pl.DataFrame, segments: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``unit, timestamp, field, value`` rows of corridor speeds and journey times; counts.

    A snapshot counts for an area only when every segment of its corridor has a valid, non-zero
    speed: averaging whichever segments happen to report would let an outage on a slow segment
    pass for faster traffic.
    """
    mapped = readings.join(segments, on="segment_id", how="inner")
    corridor_size = segments.group_by("area").agg(pl.len().alias("corridor_segments"))
    clock = pl.col("timestamp").dt.time()
    peak = pl.any_horizontal([(clock >= start) & (clock < end) for start, end in PEAKS])
    hours = pl.col("length_m") / 1000 / pl.col("speed")
    corridors = (
        mapped.filter(pl.col("speed") > 0)
        .group_by("area", "timestamp")
        .agg(
            (pl.col("length_m").sum() / 1000 / hours.sum()).alias("speed"),
            (60 * hours.sum()).alias("journey_time"),
            pl.len().alias("segments"),
        )
        .join(corridor_size, on="area")
        .filter(pl.col("segments") == pl.col("corridor_segments"))
        .with_columns(peak.alias("peak"))
    )
    speeds = corridors.select(
        pl.col("area").alias("unit"),
        "timestamp",
        pl.when("peak")
        .then(pl.lit("peak_speed"))
        .otherwise(pl.lit("offpeak_speed"))
        .alias("field"),
        pl.col("speed").alias("value"),
    )
    journeys = corridors.filter("peak").select(
        pl.col("area").alias("unit"),
        "timestamp",
        pl.lit("journey_time").alias("field"),
        pl.col("journey_time").alias("value"),
    )
    snapshots = mapped.select("area", "timestamp").unique()
    counts = {
        "readings": readings.height,
        "offline_readings": int(readings["speed"].null_count()),
        "readings_outside_areas": readings.height - mapped.height,
        "area_snapshots": snapshots.height,
        "area_snapshots_incomplete": snapshots.height - corridors.height,
    }
    return pl.concat([speeds, journeys]), counts


def _raw_segment(rejected: pl.DataFrame) -> pl.Series:
    """The rejected ``<segment>`` re-serialised from its fields, after its snapshot time."""
    return rejected.select(
        pl.format(
            "{} {} <segment><segment_id>{}</segment_id><speed>{}</speed><valid>{}</valid>"
            "</segment>",
            *[pl.col(name).fill_null("") for name in FIELDS],
        )
    ).to_series()
