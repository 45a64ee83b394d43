"""The area lookup: which segments, car parks and detectors make up each area.

``area_lookup.csv`` maps every feature the pilot reads to the area (the unit of analysis) it
belongs to, one row per feature::

    area,district,feature_type,feature_id,corridor_order,length_m
    Kowloon East,Kwun Tong,segment,52011,1,850
    Kowloon East,Kwun Tong,carpark,101,,
    Kowloon East,Kwun Tong,detector,AID01102,,

``feature_type`` is ``segment`` (a Road Network v2 ``ROUTE_ID`` of ``irnAvgSpeed-all.xml``, with
its place along the area's corridor and its length in metres, from which the corridor journey
time is derived), ``carpark`` (a one-stop API ``park_Id``) or ``detector`` (an ``AID_ID_Number``).
A feature mapped twice is quarantined after its first row: an area's data must not count twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pilots.contract import FileHealth
from pilots.csv_reading import file_health, read_csv_strings, split_valid
from pilots.fields import missing_problem, number, number_problem

LOOKUP = "area_lookup.csv"
FEATURE_TYPES = ("segment", "carpark", "detector")
LOOKUP_COLUMNS = ("area", "district", "feature_type", "feature_id", "corridor_order", "length_m")


@dataclass(frozen=True)
class Lookup:
    """Which area each feature belongs to; segments carry their corridor order and length."""

    segments: pl.DataFrame  # segment_id, area, corridor_order, length_m
    carparks: pl.DataFrame  # park_id, area
    detectors: pl.DataFrame  # detector_id, area
    areas: pl.DataFrame  # area, district
    quarantine: pl.DataFrame
    health: FileHealth


def read_lookup(data_dir: Path) -> Lookup:
    """Read ``area_lookup.csv``; raises ``DataError`` when it or a required column is missing."""
    raw = read_csv_strings(data_dir / LOOKUP, LOOKUP_COLUMNS)
    stripped = raw.rows.with_columns(pl.col(LOOKUP_COLUMNS).str.strip_chars())
    kind = pl.col("feature_type").str.to_lowercase()
    segment = kind == "segment"
    rows, bad = split_valid(
        stripped,
        [
            missing_problem("area"),
            pl.when(~kind.is_in(FEATURE_TYPES)).then(
                pl.lit(f"feature_type is not one of {', '.join(FEATURE_TYPES)}")
            ),
            missing_problem("feature_id"),
            pl.when(segment).then(number_problem("length_m", 10, 20_000)),
            pl.when(segment).then(number_problem("corridor_order", 1, 100)),
            pl.when(~pl.struct(kind, "feature_id").is_first_distinct()).then(
                pl.lit("feature is already mapped to an area on an earlier line")
            ),
        ],
        raw.file,
    )
    rows = rows.with_columns(kind.alias("feature_type"))
    by_kind = {name: rows.filter(pl.col("feature_type") == name) for name in FEATURE_TYPES}
    return Lookup(
        segments=by_kind["segment"].select(
            pl.col("feature_id").alias("segment_id"),
            "area",
            number("corridor_order").cast(pl.Int64).alias("corridor_order"),
            number("length_m").alias("length_m"),
        ),
        carparks=by_kind["carpark"].select(pl.col("feature_id").alias("park_id"), "area"),
        detectors=by_kind["detector"].select(pl.col("feature_id").alias("detector_id"), "area"),
        areas=rows.group_by("area", maintain_order=True).agg(
            pl.col("district").filter(pl.col("district") != "").first()
        ),
        quarantine=pl.concat([raw.quarantine, bad]),
        health=file_health(raw, rows.height),
    )
