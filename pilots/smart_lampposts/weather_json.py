"""HKO smart-lamppost weather records, archived as one JSON file per day (FEEDS.md §1a).

The API (``weatherAPI/smart-lamppost/smart-lamppost.php?pi={LP}&di={device}``) answers each
poll with one record or ``{"message": "No record found"}``. The pilot's archiver polls every
weather lamppost once an hour and appends each answer, as is, to that day's file
``hko_weather/smart_lamppost_weather_YYYYMMDD.json``: a JSON array of API responses::

    [{"PI": "CA1021", "DI": "01", "BD": "00", "GI": "00", "TS": "0",
      "BODY": {"HKO": {"T0": "18.4", "RH": "////", "WS": "7", "WD": "80", "DH": "12",
                       "TS": "20260302100000", "TP": "20260302100052", "VN": "1.0"}}},
     {"message": "No record found"}, ...]

Every value is a string. ``BODY.HKO.TS`` is the measured time of the 10-minute observation and
``TP`` the processed time, ``YYYYMMDDHHmmss`` in Hong Kong time; ``WS`` is ``W0`` in older
documents. ``////`` marks a reading that failed the Observatory's quality control: that reading
is missing (never zero) and the record is kept. A device that stops reporting makes the API
answer ``No record found`` or repeat its last record; a repeat is not a new observation and is
quarantined. A file cut short keeps the records before the cut; the rest is one quarantined
entry. Quarantine ``line`` numbers count the array's elements from 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pilots.contract import HONG_KONG, QUARANTINE_SCHEMA, FileHealth

ARCHIVE = "hko_weather"
POLLS_PER_DAY = 24  # the archiver's hourly polls: what a device-day should deliver
QC_FAILED = "////"
NO_RECORD = "No record found"
CUT_SHORT = "the file ends early or is not JSON from this element on"
RAW_LIMIT = 300
# Observation field, record key and plausible range of each reading.
READINGS = {
    "air_temperature": ("T0", -10.0, 45.0),
    "relative_humidity": ("RH", 0.0, 100.0),
    "wind_speed": ("WS", 0.0, 250.0),
    "wind_direction": ("WD", 0.0, 360.0),
}
TEXT_COLUMNS = ("PI", "DI", "TS", *(key for key, _, _ in READINGS.values()))
TIMESTAMP = pl.col("TS").str.to_datetime("%Y%m%d%H%M%S", strict=False)


@dataclass(frozen=True)
class WeatherArchive:
    """Accepted records (``unit, timestamp`` and one column per reading), quarantine, health."""

    records: pl.DataFrame
    quarantine: pl.DataFrame
    files: tuple[FileHealth, ...]
    days: pl.Series  # the Hong Kong days the archive's files cover
    checks: dict[str, int]


def read_weather_archive(data_dir: Path, stations: pl.DataFrame) -> WeatherArchive:
    """Read every day file; ``stations`` has ``unit, weather_device`` of equipped lampposts."""
    rows: list[tuple[Any, ...]] = []
    responses: list[Any] = []  # each row's response, to quote should it be quarantined
    unreadable: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA}
    rows_read: dict[str, int] = {}
    no_record = 0
    paths = sorted((data_dir / ARCHIVE).glob("*.json"))
    for path in paths:
        name = f"{ARCHIVE}/{path.name}"
        values, failure = _elements(path.read_bytes().decode("utf-8", errors="replace"))
        rows_read[name] = len(values) + (failure is not None)
        if failure is not None:
            for key, value in zip(
                QUARANTINE_SCHEMA, (name, len(values) + 1, *failure), strict=True
            ):
                unreadable[key].append(value)
        for index, value in enumerate(values, start=1):
            if type(value) is dict and "PI" not in value and value.get("message") == NO_RECORD:
                no_record += 1
                continue
            rows.append((name, index, len(responses), *_strings(value)))
            responses.append(value)
    parsed = pl.DataFrame(
        rows,
        schema={"_file": pl.String, "_line": pl.Int64, "_response": pl.Int64}
        | dict.fromkeys(("_problem", *TEXT_COLUMNS), pl.String),
        orient="row",
    ).with_columns(pl.col(TEXT_COLUMNS).str.strip_chars())
    checked = _check(parsed, stations)
    accepted = checked.filter(pl.col("_reason").is_null())
    rejected = checked.filter(pl.col("_reason").is_not_null())
    rejected = rejected.select(
        pl.col("_file").alias("file"),
        pl.col("_line").alias("line"),
        pl.col("_reason").alias("reason"),
        pl.Series("raw", [_quote(responses[row]) for row in rejected["_response"]], pl.String),
    )
    quarantine = pl.concat(
        [pl.DataFrame(unreadable, schema=QUARANTINE_SCHEMA), rejected.cast(QUARANTINE_SCHEMA)]
    )
    quarantined = dict(quarantine.group_by("file").len().rows())
    records = accepted.select(
        pl.col("PI").alias("unit"),
        TIMESTAMP.dt.replace_time_zone(HONG_KONG).alias("timestamp"),
        *(_value(key).alias(field) for field, (key, _, _) in READINGS.items()),
    )
    failed_qc = accepted.select(
        pl.sum_horizontal(pl.col(key) == QC_FAILED for key, _, _ in READINGS.values()).sum()
    ).item()
    return WeatherArchive(
        records=records,
        quarantine=quarantine,
        files=tuple(
            FileHealth(name, read, read - quarantined.get(name, 0))
            for name, read in rows_read.items()
        ),
        days=_archive_days(paths, records),
        checks={
            "weather_no_record_responses": no_record,
            "weather_readings_failed_qc": int(failed_qc or 0),
        },
    )


def _check(parsed: pl.DataFrame, stations: pl.DataFrame) -> pl.DataFrame:
    """Records in archive order with why each cannot be used (``_reason``, null when fine)."""
    checked = parsed.join(
        stations.select(pl.col("unit").alias("PI"), pl.col("weather_device").alias("_device")),
        on="PI",
        how="left",
    ).sort("_file", "_line")
    reason = pl.coalesce(
        pl.col("_problem"),
        pl.when(pl.col("_device").is_null()).then(
            pl.lit("PI is not a lamppost with a weather device in lamppost_inventory.csv")
        ),
        pl.when(pl.col("DI") != pl.col("_device")).then(
            pl.lit("DI is not the weather device lamppost_inventory.csv lists for this lamppost")
        ),
        pl.when(TIMESTAMP.is_null()).then(
            pl.lit("BODY.HKO.TS is not a Hong Kong time YYYYMMDDHHmmss")
        ),
        *(_reading_problem(key, low, high) for key, low, high in READINGS.values()),
    )
    # Among readable records only: a quarantined record is no earlier observation to repeat.
    readable = reason.is_null()
    repeat = readable & ~pl.struct("PI", TIMESTAMP, readable).is_first_distinct()
    return checked.with_columns(
        pl.when(repeat)
        .then(pl.lit("repeats an earlier record for this PI and BODY.HKO.TS (no new observation)"))
        .otherwise(reason)
        .alias("_reason")
    )


def _elements(text: str) -> tuple[list[Any], tuple[str, str] | None]:
    """The array's elements, and why and where reading stopped, if it did.

    A whole file is parsed at once; only a damaged one is walked element by element, to keep
    the responses before the damage.
    """
    try:
        whole = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return _salvage(text)
    if not isinstance(whole, list):
        return [], ("the file is not a JSON array of API responses", text[:RAW_LIMIT])
    return whole, None


def _salvage(text: str) -> tuple[list[Any], tuple[str, str]]:
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        return [], ("the file is not a JSON array of API responses", text[:RAW_LIMIT])
    elements: list[Any] = []
    position = _skip_space(text, position + 1)
    while True:
        try:
            value, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            return elements, (CUT_SHORT, text[position : position + RAW_LIMIT])
        elements.append(value)
        position = _skip_space(text, end)
        if not text.startswith(",", position):
            # json.loads failed, so the array does not close cleanly here.
            return elements, (CUT_SHORT, text[position : position + RAW_LIMIT])
        position = _skip_space(text, position + 1)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _strings(value: Any) -> tuple[str | None, ...]:
    """Why the response cannot be read (or None), then PI, DI and the ``BODY.HKO`` strings."""
    record = value if type(value) is dict else {}
    body = record.get("BODY")
    hko = body.get("HKO") if type(body) is dict else None
    problem = None
    if type(value) is not dict:
        problem = "the response is not a JSON object"
    elif "PI" not in record:
        problem = "the response has neither PI nor the message No record found"
    elif type(hko) is not dict:
        problem = "BODY.HKO is missing or not an object"
    hko = hko if type(hko) is dict else {}
    found = [record.get("PI"), record.get("DI")]
    found += [
        hko.get(key, hko.get("W0")) if key == "WS" else hko.get(key) for key in TEXT_COLUMNS[2:]
    ]
    return problem, *(v if type(v) is str else _text(v) for v in found)


def _text(value: Any) -> str | None:
    """Values are strings in the feed; a bare number is read as its text."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    return str(value)


def _quote(response: Any) -> str:
    return json.dumps(response, ensure_ascii=False, separators=(",", ":"))[:RAW_LIMIT]


def _value(key: str) -> pl.Expr:
    return pl.when(pl.col(key) != QC_FAILED).then(pl.col(key).cast(pl.Float64, strict=False))


def _reading_problem(key: str, low: float, high: float) -> pl.Expr:
    value = _value(key)
    return (
        pl.when(pl.col(key).is_null())
        .then(pl.lit(f"BODY.HKO.{key} is missing"))
        .when((pl.col(key) != QC_FAILED) & (value.is_null() | value.is_nan()))
        .then(pl.lit(f"BODY.HKO.{key} is not a number or {QC_FAILED}"))
        .when((value < low) | (value > high))
        .then(pl.lit(f"BODY.HKO.{key} is outside {low:g} to {high:g}"))
    )


def _archive_days(paths: list[Path], records: pl.DataFrame) -> pl.Series:
    """Days with a day file (named by date) or with a record: the days the archive ran."""
    named = pl.Series("day", [path.stem[-8:] for path in paths], pl.String).str.to_date(
        "%Y%m%d", strict=False
    )
    recorded = records["timestamp"].dt.date().alias("day")
    return pl.concat([named, recorded]).drop_nulls().unique().sort()
