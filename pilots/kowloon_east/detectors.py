"""Strategic-road traffic detectors: the archive of TD's ``rawSpeedVol-all.xml`` (FEEDS.md 2c).

Each file (``rawSpeedVol/YYYYMMDD-HHMM-rawSpeedVol-all.xml``, named by archive time) holds two
30-second periods::

    <raw_speed_volume_list><date>2026-05-05</date><periods><period>
      <period_from>08:30:00</period_from><period_to>08:30:30</period_to><detectors><detector>
        <detector_id>AID01102</detector_id><direction>South East</direction><lanes><lane>
          <lane_id>Fast Lane</lane_id><speed>52</speed><occupancy>9</occupancy>
          <volume>6</volume><s.d.>5.7</s.d.><valid>Y</valid></lane>...</lanes></detector>...

Quirks handled: the period starting at 00:00 carries the previous day's ``date`` (it is moved to
the next day); with ``volume = 0`` the ``speed`` is the road's speed limit, a placeholder, so it
is read as no speed; ``valid = N`` (detector offline) lanes carry normal-looking values and are
read as no reading; ``occupancy = -1`` is unknown. A lane with speed 0 while vehicles passed, or
faster than 130 km/h, is quarantined. The archive stores some files twice: an identical repeat of
a lane reading is quarantined, while two different readings under one lane name (a known quirk
of some detectors) are both kept. Only detectors listed in ``traffic_speed_volume_occ_info.csv``
are accepted. The live feed publishes every minute; the simulated archive keeps one file per day
in the morning peak and one just after midnight on Mondays.

Observations, per area and 30-second period of its detectors: ``detector_volume`` (vehicles
over the online lanes) and ``detector_speed`` (their volume-weighted mean speed, when any
vehicle passed).
"""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import polars as pl

from pilots.contract import HONG_KONG
from pilots.kowloon_east.lookup import DETECTOR_LOCATIONS
from pilots.kowloon_east.records import (
    RAW_LIMIT,
    Columns,
    FeedRead,
    archive_files,
    broken_rows,
    split_records,
    xml_elements,
)

ARCHIVE = "rawSpeedVol"
PATTERN = "YYYYMMDD-HHMM-rawSpeedVol-all.xml"
LANE_FIELDS = ("lane_id", "speed", "occupancy", "volume", "valid")
FIELDS = ("date", "period_from", "detector_id", *LANE_FIELDS)
MAX_SPEED = 130
MAX_VOLUME = 100  # vehicles per lane in 30 seconds; the feed's observed maximum is 61
MIDNIGHT_PERIOD_END = time(0, 1)


def read_detector_archive(data_dir: Path) -> FeedRead | None:
    """Every ``<lane>`` of every file with its period and detector; ``None`` without an archive."""
    if not (data_dir / ARCHIVE).is_dir():
        return None
    files = archive_files(data_dir / ARCHIVE, PATTERN)
    columns = Columns(FIELDS)
    broken: list[tuple[str, int, str, str]] = []
    for path in files:
        name = f"{ARCHIVE}/{path.name}"  # quarantine rows name the file within the archive
        elements, complaint = xml_elements(path.read_bytes())
        context: dict[str, str | None] = {"date": None, "period_from": None, "detector_id": None}
        count = 0
        for element in elements:
            tag = element.tag
            if tag in context:
                context[tag] = element.text
            elif tag == "lane":
                count += 1
                fields = {child.tag: child.text for child in element}
                columns.add(
                    name,
                    count,
                    (*context.values(), *(fields.get(name) for name in LANE_FIELDS)),
                )
            elif tag == "detector":  # a new detector (or, when reading a broken file, its end)
                context["detector_id"] = None
            elif tag == "period":
                context["period_from"] = None
        if complaint:
            reason = "the document breaks off or is not well-formed XML (truncated or damaged)"
            broken.append((name, count + 1, reason, complaint))
        elif count == 0:
            reason = "not a rawSpeedVol document: no <lane> inside <raw_speed_volume_list>"
            broken.append((name, 0, reason, path.read_bytes()[:RAW_LIMIT].decode(errors="replace")))
    return FeedRead(
        f"{ARCHIVE}/*-rawSpeedVol-all.xml ({len(files)} files)",
        columns.frame(),
        broken_rows(broken),
        len(files),
    )


def validate_lanes(feed: FeedRead, known: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted lane readings (``detector_id, timestamp, lane_id, speed, volume``), quarantine.

    ``speed`` is null where it is a placeholder or the lane is offline; ``volume`` is null
    offline.
    """
    text = {name: pl.col(name).str.strip_chars() for name in FIELDS}
    stamp = (
        pl.concat_str(text["date"], pl.lit(" "), text["period_from"])
        .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
        .dt.replace_time_zone(HONG_KONG)
    )
    frame = feed.records.with_columns(
        *[text[name] for name in ("detector_id", "lane_id", "valid")],
        stamp.alias("_stamp"),
        *[
            text[name].cast(pl.Int64, strict=False).alias(f"_{name}")
            for name in ("speed", "volume", "occupancy")
        ],
    )
    midnight = pl.col("_stamp").dt.time() < MIDNIGHT_PERIOD_END
    frame = frame.with_columns(
        pl.when(midnight)
        .then(pl.col("_stamp") + timedelta(days=1))
        .otherwise(pl.col("_stamp"))
        .alias("timestamp"),
        midnight.fill_null(False).alias("_redated"),
    )
    online = pl.col("valid") == "Y"
    values = ("detector_id", "lane_id", "timestamp", "valid", "speed", "volume", "occupancy")
    accepted, quarantine = split_records(
        frame,
        [
            pl.when(pl.col("timestamp").is_null()).then(
                pl.lit("date and period_from are not a time like 2026-05-05 08:30:00")
            ),
            pl.when(pl.col("detector_id").is_null() | (pl.col("detector_id") == "")).then(
                pl.lit("detector_id is empty")
            ),
            pl.when(~pl.col("detector_id").is_in(known.implode())).then(
                pl.lit(f"detector_id is not in {DETECTOR_LOCATIONS}")
            ),
            pl.when(~pl.col("valid").is_in(["Y", "N"]) | pl.col("valid").is_null()).then(
                pl.lit("valid is not Y (online) or N (offline)")
            ),
            pl.when(online & ~pl.col("_volume").is_between(0, MAX_VOLUME).fill_null(False)).then(
                pl.lit(f"volume is not a whole number of vehicles from 0 to {MAX_VOLUME}")
            ),
            pl.when(online & ~pl.col("_speed").is_between(0, MAX_SPEED).fill_null(False)).then(
                pl.lit(f"speed is not a whole number from 0 to {MAX_SPEED} km/h")
            ),
            pl.when(online & (pl.col("_speed") == 0) & (pl.col("_volume") > 0)).then(
                pl.lit("speed is 0 while vehicles passed (volume above 0)")
            ),
            pl.when(online & ~pl.col("_occupancy").is_between(-1, 100).fill_null(False)).then(
                pl.lit("occupancy is not a whole number from -1 (unknown) to 100")
            ),
            pl.when(
                pl.col("timestamp").is_not_null() & ~pl.struct(*values).is_first_distinct()
            ).then(pl.lit("repeats an identical earlier reading of this lane and period")),
        ],
        _raw_lane,
    )
    lanes = accepted.select(
        "detector_id",
        "timestamp",
        "lane_id",
        pl.when(online & (pl.col("_volume") > 0)).then(pl.col("_speed")).alias("speed"),
        pl.when(online).then(pl.col("_volume")).alias("volume"),
        "_redated",
    )
    return lanes, quarantine


def detector_observations(
    lanes: pl.DataFrame, detectors: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``unit, timestamp, field, value`` per detector and period, and what was nulled."""
    online = lanes.filter(pl.col("volume").is_not_null())
    periods = (
        online.join(detectors, on="detector_id", how="inner")
        .group_by("area", "detector_id", "timestamp")
        .agg(
            pl.col("volume").sum().cast(pl.Float64).alias("detector_volume"),
            (
                (pl.col("speed") * pl.col("volume")).sum()
                / pl.col("volume").filter(pl.col("speed").is_not_null()).sum()
            ).alias("detector_speed"),
        )
    )
    table = (
        periods.unpivot(
            ["detector_volume", "detector_speed"],
            index=["area", "timestamp"],
            variable_name="field",
        )
        .filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
        .select(pl.col("area").alias("unit"), "timestamp", "field", "value")
    )
    counts = {
        "lane_readings": lanes.height,
        "offline_lanes": lanes.height - online.height,
        "placeholder_speeds_dropped": online.filter(pl.col("volume") == 0).height,
        "midnight_periods_redated": int(
            lanes.filter("_redated").select("detector_id", "timestamp").n_unique()
        ),
        "lane_readings_outside_areas": int(
            (~lanes["detector_id"].is_in(detectors["detector_id"].implode())).sum()
        ),
    }
    return table, counts


def _raw_lane(rejected: pl.DataFrame) -> pl.Series:
    """The rejected ``<lane>`` re-serialised from its fields, after its period and detector."""
    return rejected.select(
        pl.format(
            "{} {} {} <lane><lane_id>{}</lane_id><speed>{}</speed><occupancy>{}</occupancy>"
            "<volume>{}</volume><valid>{}</valid></lane>",
            *[pl.col(name).fill_null("") for name in FIELDS],
        )
    ).to_series()
