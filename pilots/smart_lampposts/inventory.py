"""The lamppost inventory: who the units are, what they carry.

``lamppost_inventory.csv`` (UTF-8, comma-separated), one row per lamppost in the study::

    lamppost_id,district,area,street,lat,lon,phase,meter_id,weather_device,detector_id
    WC1043,Wan Chai,Causeway Bay/Wan Chai,Hennessy Road,22.27905,114.17822,P2,LM400003,,AID20031

``lamppost_id`` is a LandsD lamppost number (``^[A-Z]{1,2}\\d{4}$``, FEEDS.md §1a ``PI``);
``phase`` is the conversion phase (``P1``, ``P2``...) or ``conventional``; ``weather_device`` is
the HKO device id (``DI``, e.g. ``01``) of a weather station on the lamppost and
``detector_id`` the TD detector on it (listed in ``traffic_speed_volume_occ_info-slp.csv``,
FEEDS.md §1c), both empty when it carries none.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pilots.csv_reading import RawTable, read_csv_strings, split_valid
from pilots.fields import missing_problem, number, number_problem
from pilots.td_detectors import LATITUDE, LONGITUDE

INVENTORY = "lamppost_inventory.csv"
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
LAMPPOST_ID = r"^[A-Z]{1,2}\d{4}$"
PHASE = r"^(P\d{1,2}|conventional)$"


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
