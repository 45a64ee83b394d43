"""Simulated TD traffic detectors on lampposts, archived as sampled ``rawSpeedVol_SLP-all`` XML.

The real feed publishes two 30-second periods every minute (2,880 periods a day). The
simulated archive keeps two snapshots a day, at 00:00 and at 08:00 (none at 00:00 on the first
day), each holding the period just before and the period from that minute, so each day has four
periods per detector (to keep the data small and quick to read); about 2% of snapshots are
missing from the archive.
The snapshot at 00:00 carries the previous day's date for both periods, the feed's midnight
quirk. Volumes follow the time of day, fall on Sundays, holidays and severe-weather days;
speeds fall with volume and repeat the 50 km/h limit when nothing passed. Detectors go offline
(``valid=N``) like the weather stations do (``simulated_weather.device_uptime``), and now and
then a detector is missing from a period. A few lane readings are malformed and one snapshot
is cut short. Also writes TD's location list, in one of its two encodings.
"""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from pilots.smart_lampposts import design
from pilots.smart_lampposts.detector_xml import ARCHIVE, LOCATIONS
from pilots.smart_lampposts.simulated_fleet import Days, Fleet
from pilots.smart_lampposts.simulated_weather import device_uptime
from pilots.td_detectors import LANE_FIELDS, LOCATION_HEADER

SNAPSHOT_HOURS = (0, 8)
# Mean vehicles per lane in 30 seconds around each snapshot.
SNAPSHOT_VOLUME = {0: 1.2, 8: 7.0}
LANES = {2: ("Fast Lane", "Slow Lane"), 3: ("Fast Lane", "Middle Lane", "Slow Lane")}
LANE_VOLUME = {"Fast Lane": 0.8, "Middle Lane": 1.0, "Slow Lane": 1.2}
COMPASS = ("North", "North East", "East", "South East", "South", "South West", "West", "North West")
MISSING_SNAPSHOT = 0.02
MISSING_DETECTOR = 0.01
LANE_OFFLINE = 0.005


def simulate_detectors(
    out_dir: Path, rng: np.random.Generator, fleet: Fleet, days: Days, strength: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the archive and the location list; return the detectors' lamppost indices and
    their daily availability ``[day, detector]`` without and with the conversion."""
    lamps = np.array([i for i, device in enumerate(fleet.detector) if device])
    n = lamps.size
    up_never, up_converted = device_uptime(rng, fleet.conversion_day[lamps], days, 24, strength)
    snapshots = [(d, h) for d in range(days.count) for h in SNAPSHOT_HOURS if d or h]
    archived = rng.random(len(snapshots)) > MISSING_SNAPSHOT
    # Two periods per snapshot, starting 30 s before and at the snapshot's minute.
    seconds = np.array([86400 * d + 3600 * h + offset for d, h in snapshots for offset in (-30, 0)])
    kept = np.repeat(archived, 2)
    present = rng.random((seconds.size, n)) > MISSING_DETECTOR
    online_never = up_never[seconds // 3600] & present
    online_converted = up_converted[seconds // 3600] & present

    def daily(online: np.ndarray) -> np.ndarray:
        day = seconds[kept] // 86400
        totals = np.zeros((days.count, n))
        np.add.at(totals, day, online[kept])
        periods = np.bincount(day, minlength=days.count)[:, None]
        with np.errstate(invalid="ignore"):
            return totals / periods

    mask = kept[:, None] & present
    lanes = _lane_readings(rng, fleet, days, lamps, snapshots, seconds, mask, online_converted)
    _write_archive(out_dir / ARCHIVE, rng, lanes)
    _write_locations(out_dir / LOCATIONS, rng, fleet, lamps)
    return lamps, daily(online_never), daily(online_converted)


def _lane_readings(
    rng: np.random.Generator,
    fleet: Fleet,
    days: Days,
    lamps: np.ndarray,
    snapshots: list[tuple[int, int]],
    seconds: np.ndarray,
    mask: np.ndarray,
    online: np.ndarray,
) -> pl.DataFrame:
    """One row of strings per lane reading in the archive, in document order."""
    lane_count = rng.integers(2, 4, lamps.size)
    direction = rng.choice(COMPASS, lamps.size)
    period, detector = np.nonzero(mask)
    counts = lane_count[detector]
    period, detector = np.repeat(period, counts), np.repeat(detector, counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    lane = np.where(
        lane_count[detector] == 2,
        np.array(LANES[2])[np.minimum(position, 1)],
        np.array(LANES[3])[np.minimum(position, 2)],
    )
    snapshot = period // 2
    hour = np.array([h for _, h in snapshots])[snapshot]
    day = seconds[period] // 86400
    saturday = np.array([date.weekday() == 5 for date in days.dates])
    factor = np.where(days.holiday | days.sunday, 0.7, np.where(saturday, 0.9, 1.0))
    factor = (factor * np.where(days.severe, 0.25, 1.0))[day]
    volume_mean = (
        np.vectorize(SNAPSHOT_VOLUME.get)(hour) * factor * np.vectorize(LANE_VOLUME.get)(lane)
    )
    valid = online[period, detector] & (rng.random(period.size) > LANE_OFFLINE)
    volume = np.where(valid, rng.poisson(volume_mean), 0)
    moving = volume > 0
    speed = np.where(
        moving,
        np.clip(np.round(rng.normal(48 - 1.5 * volume, 5)), 5, 90),
        np.where(valid, design.SPEED_LIMIT_KMH, 0),
    ).astype(int)
    occupancy = np.where(
        valid, np.clip(np.round(2.2 * volume + rng.normal(0, 1, volume.size)), 0, 100), 0
    )
    spread = np.where(moving, np.round(rng.uniform(2, 9, volume.size), 1), 0.0)
    texts = {
        "volume": volume.astype(str).astype(object),
        "speed": speed.astype(str).astype(object),
        "valid": np.where(valid, "Y", "N").astype(object),
    }
    damaged = rng.choice(np.flatnonzero(valid), 7, replace=False)
    for index, (column, value) in zip(
        damaged,
        [("volume", "n/a")] * 3 + [("speed", "999")] * 2 + [("valid", "U")] * 2,
        strict=True,
    ):
        texts[column][index] = value
    dates = np.datetime_as_string(np.datetime64(design.START) + np.arange(days.count), unit="D")
    compact = np.char.replace(dates, "-", "")
    snapshot_day = np.array([d for d, _ in snapshots])
    members = np.array(
        [f"rawSpeedVol_SLP-all_{compact[d]}-{h:02d}00.xml" for d, h in snapshots], dtype=object
    )
    # The snapshot's <date> is the date of its first period: the day before, at midnight.
    lane_day = snapshot_day[snapshot]
    xml_dates = np.where(hour == 0, dates[np.maximum(lane_day - 1, 0)], dates[lane_day])
    clock = np.array(
        [f"{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}" for t in range(0, 86400, 30)]
    )
    return pl.DataFrame(
        {
            "zip": np.char.add(np.char.add("rawSpeedVol_SLP-all_", compact), ".zip")[lane_day],
            "member": members[snapshot],
            "date": xml_dates,
            "period": period,
            "period_from": clock[seconds[period] % 86400 // 30],
            "period_to": clock[(seconds[period] % 86400 + 30) // 30 % 2880],
            "detector_id": np.array(fleet.detector, dtype=object)[lamps][detector],
            "direction": direction[detector],
            "lane_id": lane,
            "speed": texts["speed"],
            "occupancy": occupancy.astype(int).astype(str),
            "volume": texts["volume"],
            "s.d.": np.char.mod("%.1f", spread),
            "valid": texts["valid"],
        }
    )


def _write_archive(folder: Path, rng: np.random.Generator, lanes: pl.DataFrame) -> None:
    """Assemble each snapshot's XML and bundle a day's snapshots in one zip; one is cut short."""
    detectors = lanes.group_by(
        "zip", "member", "date", "period", "period_from", "period_to", "detector_id", "direction",
        maintain_order=True,
    ).agg(_element("lane", *LANE_FIELDS).str.join("").alias("lanes"))  # fmt: skip
    detector = _element("detector", "detector_id", "direction", "lanes")
    periods = detectors.group_by(
        "zip", "member", "date", "period", "period_from", "period_to", maintain_order=True
    ).agg(pl.concat_str(pl.lit("\n"), detector.str.join("\n"), pl.lit("\n")).alias("detectors"))
    period = _element("period", "period_from", "period_to", "detectors")
    documents = periods.group_by("zip", "member", "date", maintain_order=True).agg(
        period.str.join("\n").alias("periods")
    )
    document = pl.concat_str(
        pl.lit('<?xml version="1.0" encoding="UTF-8"?>\n<raw_speed_volume_list><date>'),
        "date",
        pl.lit("</date>\n<periods>\n"),
        "periods",
        pl.lit("\n</periods>\n</raw_speed_volume_list>\n"),
    )
    texts = documents.select("zip", "member", document.alias("xml")).rows()
    cut = int(rng.integers(len(texts)))
    folder.mkdir(parents=True, exist_ok=True)
    for name, snapshots in itertools.groupby(enumerate(texts), key=lambda item: item[1][0]):
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as archive:
            for index, (_, member, xml) in snapshots:
                # Stamped with the snapshot's own time, so that a seed always gives the same bytes.
                stamp = member.removesuffix(".xml")[-13:]  # YYYYMMDD-HHMM
                info = zipfile.ZipInfo(member, _zip_time(stamp))
                archive.writestr(
                    info, xml[: len(xml) // 2] if index == cut else xml, zipfile.ZIP_DEFLATED
                )


def _element(tag: str, *children: str) -> pl.Expr:
    """``<tag><child>...</child>...</tag>``, each child's text from the column of its name."""
    return pl.concat_str(
        pl.lit(f"<{tag}>"),
        *(
            part
            for child in children
            for part in (pl.lit(f"<{child}>"), pl.col(child), pl.lit(f"</{child}>"))
        ),
        pl.lit(f"</{tag}>"),
    )


def _zip_time(stamp: str) -> tuple[int, int, int, int, int, int]:
    return (
        int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:]), 0
    )  # fmt: skip


def _write_locations(path: Path, rng: np.random.Generator, fleet: Fleet, lamps: np.ndarray) -> None:
    """TD's detector list, with trailing spaces; UTF-16 and tabs or UTF-8 with BOM and commas."""
    rows = []
    for i in lamps:
        lat, lon = float(fleet.lat[i]), float(fleet.lon[i])
        traditional, simplified = design.ROAD_NAMES[fleet.streets[i]]
        rows.append(
            (
                fleet.detector[i],
                fleet.districts[i],
                fleet.streets[i],
                traditional,
                simplified,
                f"{835664.3 + (lon - 114.171015) * 102_900:.1f}",
                f"{819863.5 + (lat - 22.31777) * 110_720:.1f}",
                f"{lat:.6f}",
                f"{lon:.6f}",
                str(rng.choice(COMPASS)),
                str(int(rng.integers(0, 360))),
            )
        )
    if rng.random() < 0.5:  # the December 2023 file
        lines = ["\t".join(LOCATION_HEADER)] + [
            "\t".join(f"{value} " for value in row) for row in rows
        ]
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))
    else:  # the January 2024 file
        lines = [",".join(LOCATION_HEADER)] + [
            ",".join(f"{value} " for value in row) for row in rows
        ]
        path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
