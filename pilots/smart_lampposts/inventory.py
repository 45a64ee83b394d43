"""The lamppost inventory and the TD detector location list: who the units are, what they carry.

``lamppost_inventory.csv`` (UTF-8, comma-separated), one row per lamppost in the study::

    lamppost_id,district,area,street,lat,lon,phase,meter_id,weather_device,detector_id
    WC1043,Wan Chai,Causeway Bay/Wan Chai,Hennessy Road,22.27905,114.17822,P2,LM400003,,AID20031

``lamppost_id`` is a LandsD lamppost number (``^[A-Z]{1,2}\\d{4}$``, FEEDS.md §1a ``PI``);
``phase`` is the conversion phase (``P1``, ``P2``...) or ``conventional``; ``weather_device`` is
the HKO device id (``DI``, e.g. ``01``) of a weather station on the lamppost and
``detector_id`` the TD detector on it, both empty when it carries none.

``traffic_speed_volume_occ_info-slp.csv`` (FEEDS.md §1c) lists the lamppost detectors:
``AID_ID_Number, District, Road_EN, Road_TC, Road_SC, Easting, Northing, Latitude, Longitude,
Direction, Rotation``. TD published it as UTF-16 and tab-separated (2023-12) and later as UTF-8
with a byte-order mark and comma-separated (2024-01): the byte-order mark tells which. Values
carry trailing spaces, which are stripped.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import polars as pl

from livinglab.errors import DataError
from pilots.csv_reading import RawTable, quarantine_rows, read_csv_strings, split_valid
from pilots.fields import missing_problem, number, number_problem

INVENTORY = "lamppost_inventory.csv"
LOCATIONS = "traffic_speed_volume_occ_info-slp.csv"
INVENTORY_COLUMNS = (
    "lamppost_id",
    "district",
    "area",
    "street",
    "lat",
    "lon",
    "phase",
    "meter_id",
    "weather_device",
    "detector_id",
)
LOCATION_COLUMNS = ("AID_ID_Number", "District", "Road_EN", "Latitude", "Longitude", "Direction")
LAMPPOST_ID = r"^[A-Z]{1,2}\d{4}$"
PHASE = r"^(P\d{1,2}|conventional)$"
# Hong Kong's extent, with a margin: a coordinate outside it is a typing error.
LATITUDE = (22.1, 22.6)
LONGITUDE = (113.8, 114.5)


def read_inventory(data_dir: Path) -> tuple[pl.DataFrame, RawTable, pl.DataFrame]:
    """The units (one row per lamppost), the raw table and the quarantined rows."""
    raw = read_csv_strings(data_dir / INVENTORY, INVENTORY_COLUMNS)
    stripped = raw.rows.with_columns(pl.col(INVENTORY_COLUMNS).str.strip_chars())
    detector = pl.col("detector_id")
    accepted, rejected = split_valid(
        stripped,
        [
            pl.when(~pl.col("lamppost_id").str.contains(LAMPPOST_ID)).then(
                pl.lit(
                    "lamppost_id is not a LandsD lamppost number "
                    "(one or two capital letters and four digits, e.g. DF1020)"
                )
            ),
            pl.when(~pl.col("lamppost_id").is_first_distinct()).then(
                pl.lit("lamppost_id appears more than once")
            ),
            missing_problem("district"),
            number_problem("lat", *LATITUDE),
            number_problem("lon", *LONGITUDE),
            pl.when(~pl.col("phase").str.contains(PHASE)).then(
                pl.lit("phase is not a conversion phase (P1, P2, ...) or conventional")
            ),
            missing_problem("meter_id"),
            pl.when(
                (pl.col("weather_device") != "")
                & ~pl.col("weather_device").str.contains(r"^\d{2}$")
            ).then(pl.lit("weather_device is not an HKO device id of two digits (e.g. 01)")),
            pl.when((detector != "") & ~detector.is_first_distinct()).then(
                pl.lit("detector_id is already on another lamppost")
            ),
        ],
        INVENTORY,
    )
    units = accepted.select(
        pl.col("lamppost_id").alias("unit"),
        "district",
        "area",
        "street",
        "phase",
        number("lat").alias("lat"),
        number("lon").alias("lon"),
        "meter_id",
        pl.col("weather_device").replace("", None),
        pl.col("detector_id").replace("", None),
    ).sort("unit")
    return units, raw, rejected


def read_detector_locations(data_dir: Path) -> tuple[pl.DataFrame, RawTable, pl.DataFrame, str]:
    """Detector locations, the raw table, quarantined rows and the encoding that was found."""
    raw, encoding = _read_delimited(data_dir / LOCATIONS, LOCATION_COLUMNS)
    stripped = raw.rows.with_columns(pl.exclude("_line", "_raw").str.strip_chars())
    accepted, rejected = split_valid(
        stripped,
        [
            missing_problem("AID_ID_Number"),
            pl.when(~pl.col("AID_ID_Number").is_first_distinct()).then(
                pl.lit("AID_ID_Number appears more than once")
            ),
            number_problem("Latitude", *LATITUDE),
            number_problem("Longitude", *LONGITUDE),
        ],
        LOCATIONS,
    )
    locations = accepted.select(
        pl.col("AID_ID_Number").alias("detector_id"),
        pl.col("District").alias("detector_district"),
        pl.col("Road_EN").alias("road"),
        pl.col("Direction").alias("detector_direction"),
    )
    return locations, raw, rejected, encoding


def _read_delimited(path: Path, required: tuple[str, ...]) -> tuple[RawTable, str]:
    """Read a CSV in either of TD's encodings, chosen by its byte-order mark."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, delimiter, encoding = data.decode("utf-16", errors="replace"), "\t", "UTF-16, tab"
    else:
        text = data.decode("utf-8-sig", errors="replace")
        encoding = "UTF-8 with BOM, comma" if data.startswith(codecs.BOM_UTF8) else "UTF-8, comma"
        delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    lines = [
        (line_number, line.removesuffix("\r"))
        for line_number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]
    if not lines:
        raise DataError(f"{path}: the file is empty; expected a header with {', '.join(required)}")
    header = [name.strip() for name in next(csv.reader([lines[0][1]], delimiter=delimiter))]
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(
            f"{path}, line {lines[0][0]}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(header)}; required {', '.join(required)}"
        )
    good: list[tuple[int, str, list[str]]] = []
    bad: list[tuple[int, str, str]] = []
    for line_number, line in lines[1:]:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        if "\ufffd" in line:
            bad.append((line_number, line, f"not valid {encoding.split(',')[0]}"))
        elif len(fields) != len(header):
            bad.append((line_number, line, f"expected {len(header)} fields, found {len(fields)}"))
        else:
            good.append((line_number, line, fields))
    rows = pl.DataFrame(
        {
            "_line": [number for number, _, _ in good],
            "_raw": [line for _, line, _ in good],
            **{name: [fields[i] for _, _, fields in good] for i, name in enumerate(header)},
        },
        schema={"_line": pl.Int64, "_raw": pl.String} | dict.fromkeys(header, pl.String),
    )
    unreadable = pl.DataFrame(
        {"_line": [b[0] for b in bad], "_raw": [b[1] for b in bad], "reason": [b[2] for b in bad]},
        schema={"_line": pl.Int64, "_raw": pl.String, "reason": pl.String},
    )
    quarantine = quarantine_rows(unreadable, path.name, pl.col("reason"))
    return RawTable(file=path.name, rows=rows, quarantine=quarantine), encoding
