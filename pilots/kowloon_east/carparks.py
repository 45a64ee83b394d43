"""Car parks: the one-stop parking vacancy API's info document and vacancy snapshots (FEEDS.md 2a).

``carpark_info.json`` is the API's ``data=info`` answer (Parking Vacancy Data Specification
v1.2): ``{"results": [{"park_Id", "name", "displayAddress", "district", "latitude",
"longitude", "opening_status", "contactNo", "privateCar": {"space", "spaceEV", "spaceDIS"},
...}]}``. The private-car capacity is ``privateCar.space`` (total spaces, EV included), kept as
``capacity``. ``opening_status`` arrives as ``OPEN``, ``open``, ``CLOSED`` or null and is
normalised to ``OPEN`` / ``CLOSED`` / null (unknown). The operator's ``contactNo`` is dropped.

``vacancy/vacancy_YYYYMMDD-HH.json`` are archived ``data=vacancy`` answers, one per sampled hour
(Hong Kong time, from the file name): ``{"results": [{"park_Id", "privateCar": [{"vacancy_type",
"vacancy", "vacancyEV", "vacancyDIS", "category", "lastupdate"}], "LGV": [...], ...}]}``. Only the
private-car ``HOURLY`` entry is read. ``vacancy_type`` A is a count of free spaces, B a flag (0
full, above 0 spaces available) and C a closed car park; ``vacancy = -1`` means unknown or
offline and is no reading, never zero. A reading whose ``lastupdate`` is more than two hours
older than the snapshot is stale and not used either. The live API refreshes every few minutes;
the simulated archive keeps two hours a day.

Observations, per area and sampled hour of each car park: ``carpark_hour`` (1: the car park was
open and reporting), ``carpark_full`` (1 when it had no free space, else 0) and, for counts
with a known capacity, ``carpark_occupancy`` (% of spaces taken).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from livinglab.errors import DataError
from pilots.contract import HONG_KONG, FileHealth
from pilots.fields import number, number_problem
from pilots.kowloon_east.records import (
    RAW_LIMIT,
    Columns,
    FeedRead,
    archive_files,
    broken_rows,
    json_results,
    split_records,
)

INFO = "carpark_info.json"
ARCHIVE = "vacancy"
PATTERN = "vacancy_YYYYMMDD-HH.json"
FILE_NAME = re.compile(r"^vacancy_(\d{8}-\d{2})\.json$")
STALE = timedelta(hours=2)
PERSONAL_KEYS = frozenset({"contactNo"})  # kept out of the quarantine too
CONTACT = re.compile(r'"contactNo"\s*:\s*"[^"]*"?')
INFO_KEYS = ("park_Id", "name", "district", "latitude", "longitude", "opening_status")
INFO_FIELDS = ("park_id", "name", "district", "latitude", "longitude", "opening_status", "capacity")
VACANCY_FIELDS = ("snapshot", "park_id", "entries", "vacancy_type", "vacancy", "lastupdate")


@dataclass(frozen=True)
class CarParkInfo:
    """Car parks (``park_id, name, district, latitude, longitude, opening_status, capacity``)."""

    carparks: pl.DataFrame
    quarantine: pl.DataFrame
    health: FileHealth
    checks: dict[str, Any]


def read_info(data_dir: Path) -> CarParkInfo:
    """Read ``carpark_info.json``; raises ``DataError`` when it is missing."""
    path = data_dir / INFO
    if not path.is_file():
        raise DataError(f"{path}: file not found (the one-stop API's data=info answer)")
    text = path.read_bytes().decode("utf-8", errors="replace")
    items, problem = json_results(text)
    columns = Columns((*INFO_FIELDS, "_item"))
    for index, item in enumerate(items):
        record = item if isinstance(item, dict) else {}
        private_car = record.get("privateCar")
        space = private_car.get("space") if isinstance(private_car, dict) else None
        columns.add(path.name, index + 1, (*(record.get(key) for key in INFO_KEYS), space, index))
    tail = CONTACT.sub('"contactNo": "(dropped)"', text)[-RAW_LIMIT:]
    broken = broken_rows([(path.name, len(items) + 1, problem, tail)] if problem else [])
    capacity = pl.col("capacity").str.strip_chars().cast(pl.Int64, strict=False)
    accepted, bad = split_records(
        columns.frame(),
        [
            pl.when(pl.col("park_id").is_null() | (pl.col("park_id").str.strip_chars() == "")).then(
                pl.lit("park_Id is empty (or the record is not a JSON object)")
            ),
            number_problem("latitude", 22.1, 22.6),
            number_problem("longitude", 113.8, 114.5),
            pl.when(
                pl.col("capacity").is_not_null() & ~capacity.is_between(0, 10_000).fill_null(False)
            ).then(pl.lit("privateCar space is not a whole number of spaces")),
            pl.when(~pl.col("park_id").is_first_distinct()).then(
                pl.lit("park_Id appears more than once")
            ),
        ],
        _raw_items(items, drop=PERSONAL_KEYS),
    )
    status = pl.col("opening_status").str.strip_chars().str.to_uppercase()
    carparks = accepted.select(
        pl.col("park_id").str.strip_chars(),
        "name",
        "district",
        number("latitude").alias("latitude"),
        number("longitude").alias("longitude"),
        pl.when(status.is_in(["OPEN", "CLOSED"])).then(status).alias("opening_status"),
        capacity.alias("capacity"),
    )
    respelled = accepted["opening_status"].is_in(["OPEN", "CLOSED"]).fill_null(True).not_()
    checks = {
        "car_parks": carparks.height,
        "opening_status": {
            status or "unknown": count
            for status, count in carparks["opening_status"].value_counts(sort=True).rows()
        },
        "opening_status_respelled": int(respelled.sum()),
    }
    health = FileHealth(path.name, len(items) + broken.height, carparks.height)
    return CarParkInfo(carparks, pl.concat([bad, broken]), health, checks)


def read_vacancy_archive(data_dir: Path) -> tuple[FeedRead, list[Any]] | None:
    """Every car park of every snapshot; ``None`` without an archive directory."""
    if not (data_dir / ARCHIVE).is_dir():
        return None
    files = archive_files(data_dir / ARCHIVE, PATTERN)
    columns = Columns((*VACANCY_FIELDS, "_item"))
    items_read: list[Any] = []
    broken: list[tuple[str, int, str, str]] = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        file = f"{ARCHIVE}/{path.name}"  # quarantine rows name the file within the archive
        hour = FILE_NAME.match(path.name)
        if not hour:
            broken.append((file, 0, f"file name is not {PATTERN}", text))
            continue
        items, problem = json_results(text)
        snapshot = hour.group(1)
        for index, item in enumerate(items, start=1):
            record = item if isinstance(item, dict) else {}
            park = record.get("park_Id")
            entry = _hourly_private_car(record.get("privateCar"))
            if entry is None:
                values: tuple[Any, ...] = (snapshot, park, "0", None, None, None)
            else:
                values = (
                    snapshot,
                    park,
                    "1",
                    entry.get("vacancy_type"),
                    entry.get("vacancy"),
                    entry.get("lastupdate"),
                )
            columns.add(file, index, (*values, len(items_read)))
            items_read.append(item)
        if problem:
            broken.append((file, len(items) + 1, problem, text[-RAW_LIMIT:]))
    label = f"{ARCHIVE}/{PATTERN} ({len(files)} snapshots)"
    return FeedRead(label, columns.frame(), broken_rows(broken), len(files)), items_read


def validate_vacancy(
    feed: FeedRead, items: list[Any], known: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted records (``park_id, timestamp, vacancy_type, vacancy, fresh``) and quarantine.

    ``vacancy_type`` is null for a car park without an hourly private-car entry.
    """
    snapshot = (
        (pl.col("snapshot") + "00")
        .str.to_datetime("%Y%m%d-%H%M", strict=False)
        .dt.replace_time_zone(HONG_KONG)
    )
    updated = (
        pl.col("lastupdate")
        .str.strip_chars()
        .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
        .dt.replace_time_zone(HONG_KONG)
    )
    frame = feed.records.with_columns(
        pl.col("park_id").str.strip_chars(),
        pl.col("vacancy_type").str.strip_chars(),
        snapshot.alias("timestamp"),
        updated.alias("_updated"),
        pl.col("vacancy").str.strip_chars().cast(pl.Int64, strict=False).alias("_vacancy"),
    )
    has_entry = pl.col("entries") == "1"
    accepted, quarantine = split_records(
        frame,
        [
            pl.when(pl.col("timestamp").is_null()).then(
                pl.lit(f"file name does not give a valid hour ({PATTERN})")
            ),
            pl.when(pl.col("park_id").is_null() | (pl.col("park_id") == "")).then(
                pl.lit("park_Id is empty (or the record is not a JSON object)")
            ),
            pl.when(~pl.col("park_id").is_in(known.implode())).then(
                pl.lit(f"park_Id is not in {INFO}")
            ),
            pl.when(
                has_entry & ~pl.col("vacancy_type").is_in(["A", "B", "C"]).fill_null(False)
            ).then(pl.lit("privateCar vacancy_type is not A (count), B (flag) or C (closed)")),
            pl.when(has_entry & ~(pl.col("_vacancy") >= -1).fill_null(False)).then(
                pl.lit("privateCar vacancy is not a whole number of spaces (-1 = unknown)")
            ),
            pl.when(has_entry & pl.col("_updated").is_null()).then(
                pl.lit("privateCar lastupdate is not a time like 2026-05-05 12:00:00")
            ),
            pl.when(~pl.struct("park_id", "timestamp").is_first_distinct()).then(
                pl.lit("repeats this car park in the same snapshot")
            ),
        ],
        _raw_items(items),
    )
    readings = accepted.select(
        "park_id",
        "timestamp",
        pl.when(has_entry).then(pl.col("vacancy_type")).alias("vacancy_type"),
        pl.col("_vacancy").alias("vacancy"),
        (pl.col("timestamp") - pl.col("_updated") <= STALE).alias("fresh"),
    )
    return readings, quarantine


def carpark_observations(
    records: pl.DataFrame, carparks: pl.DataFrame, lookup: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``unit, timestamp, field, value`` rows per reporting car-park hour, and what was left out."""
    readings = records.filter(pl.col("vacancy_type").is_not_null())
    open_now = (pl.col("vacancy") >= 0) & (pl.col("vacancy_type") != "C")
    known = open_now & pl.col("fresh")
    mapped = readings.join(lookup, on="park_id", how="inner").join(
        carparks.select("park_id", "capacity"), on="park_id", how="left"
    )
    reporting = mapped.filter(known)
    occupancy = (
        100 * (pl.col("capacity") - pl.col("vacancy")).clip(lower_bound=0) / pl.col("capacity")
    )
    fields = reporting.select(
        pl.col("area").alias("unit"),
        "timestamp",
        pl.lit(1.0).alias("carpark_hour"),
        (pl.col("vacancy") == 0).cast(pl.Float64).alias("carpark_full"),
        pl.when((pl.col("vacancy_type") == "A") & (pl.col("capacity") > 0))
        .then(occupancy.clip(upper_bound=100.0))
        .alias("carpark_occupancy"),
    ).unpivot(
        ["carpark_hour", "carpark_full", "carpark_occupancy"],
        index=["unit", "timestamp"],
        variable_name="field",
    )
    counts = {
        "readings": readings.height,
        "no_hourly_private_car_entry": records.height - readings.height,
        "unknown_vacancy": int((readings["vacancy"] == -1).sum()),
        "closed": int((readings["vacancy_type"] == "C").sum()),
        "stale": readings.filter(open_now & ~pl.col("fresh")).height,
        "flag_only_type_b": int((readings["vacancy_type"] == "B").sum()),
        "readings_outside_areas": readings.height - mapped.height,
    }
    return fields.filter(pl.col("value").is_not_null()), counts


def _hourly_private_car(entries: Any) -> dict[str, Any] | None:
    """The private-car entry for hourly parking; an entry without a category counts as hourly."""
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("category", "HOURLY") == "HOURLY":
            return entry
    return None


def _raw_items(
    items: list[Any], drop: frozenset[str] = frozenset()
) -> Callable[[pl.DataFrame], pl.Series]:
    """The rejected records' JSON, without the keys in ``drop``."""

    def raw(rejected: pl.DataFrame) -> pl.Series:
        records = [items[int(i)] for i in rejected["_item"]]
        kept = [
            {k: v for k, v in record.items() if k not in drop}
            if isinstance(record, dict)
            else record
            for record in records
        ]
        return pl.Series([json.dumps(r, ensure_ascii=False) for r in kept], dtype=pl.String)

    return raw
