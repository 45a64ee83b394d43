"""The operator's fleet register, and the masking of vehicle identifiers.

``fleet.csv`` lists the vehicles the pilot licence covers, one per line (the Cap. 374AA licence
names each AV by its registration mark and VIN, FEEDS.md section 3):

    vehicle_id,vin,registration_mark,vehicle_type,route_id,seats
    AV-01,LHA4B2C39T1000017,XK 2931,autonomous,AS1,14

``vehicle_id`` is the operator's fleet number, the pseudonymous key the rest of the pilot uses.
VINs (DMV reports) and registration marks (the trip log's ``licence_no``) identify a vehicle and,
through it, its keeper: they are used here only to find the fleet number and are never kept.
Quarantined raw text is masked: the identifier columns of a row that could be split, every VIN
and mark of the register wherever it appears, and anything shaped like a VIN (17 letters and
digits without I, O or Q) or a printed Hong Kong registration mark (two letters, a space and up
to four digits), such as another road user's plate in a disengagement's description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pilots.contract import FileHealth
from pilots.csv_reading import file_health, read_csv_strings, split_valid
from pilots.fields import membership_problem, missing_problem, number, number_problem

FLEET = "fleet.csv"
FLEET_COLUMNS = ("vehicle_id", "vin", "registration_mark", "vehicle_type", "route_id", "seats")
VEHICLE_TYPES = ("autonomous", "conventional")
VIN_CHARACTERS = "[A-HJ-NPR-Z0-9]{17}"
VIN_PATTERN = rf"(?i)\b{VIN_CHARACTERS}\b"  # VINs are written in lower case, too
MARK_PATTERN = r"\b[A-HJ-NPR-Z]{2} [0-9]{1,4}\b"
VIN_MASK = "[VIN]"
MARK_MASK = "[mark]"


@dataclass(frozen=True)
class Fleet:
    """Accepted vehicles (with their VIN, for joining only), the quarantine and file health."""

    vehicles: pl.DataFrame  # vehicle_id, vin, vehicle_type, route_id, seats
    quarantine: pl.DataFrame
    health: FileHealth
    identifiers: Mapping[str, str]  # the register's VINs and marks (also unspaced) -> their mask

    def mask(self, text: pl.Expr) -> pl.Expr:
        """``text`` with the register's identifiers and anything shaped like one masked."""
        if self.identifiers:
            text = text.str.replace_many(dict(self.identifiers), ascii_case_insensitive=True)
        return mask_text(text)

    def routes(self) -> pl.DataFrame:
        """One row per route: ``unit``, ``route`` and how many vehicles of each type serve it."""
        return (
            self.vehicles.group_by("route_id")
            .agg(
                (pl.col("vehicle_type") == "autonomous").sum().alias("autonomous_vehicles"),
                (pl.col("vehicle_type") == "conventional").sum().alias("conventional_vehicles"),
            )
            .select(
                pl.col("route_id").alias("unit"),
                pl.col("route_id").alias("route"),
                "autonomous_vehicles",
                "conventional_vehicles",
            )
            .sort("unit")
        )


def vehicle_type(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.to_lowercase()


def load_fleet(data_dir: Path) -> Fleet:
    """Read ``fleet.csv``; a missing file or column is a ``DataError``."""
    raw = read_csv_strings(data_dir / FLEET, FLEET_COLUMNS)
    rows = masked(raw.rows, {"vin": VIN_MASK, "registration_mark": MARK_MASK}).with_columns(
        pl.col("vehicle_id").str.strip_chars(),
        pl.col("vin").str.strip_chars().str.to_uppercase(),
    )
    accepted, rejected = split_valid(
        rows,
        [
            missing_problem("vehicle_id"),
            pl.when(~pl.col("vin").str.contains(f"^{VIN_CHARACTERS}$")).then(
                pl.lit("vin is not 17 letters and digits (no I, O or Q)")
            ),
            pl.when(~vehicle_type("vehicle_type").is_in(VEHICLE_TYPES)).then(
                pl.lit("vehicle_type is not autonomous or conventional")
            ),
            missing_problem("route_id"),
            number_problem("seats", 1, 100),
            pl.when(~pl.col("vehicle_id").is_first_distinct()).then(
                pl.lit("vehicle_id repeats an earlier vehicle")
            ),
        ],
        FLEET,
    )
    vehicles = accepted.select(
        "vehicle_id",
        "vin",
        vehicle_type("vehicle_type").alias("vehicle_type"),
        pl.col("route_id").str.strip_chars(),
        number("seats").alias("seats"),
    )
    marks = accepted["registration_mark"].str.strip_chars().str.to_uppercase()
    # Unspaced short marks ("AS1") would collide with route and terminus codes.
    unspaced = marks.str.replace_all(" ", "").filter(marks.str.len_chars() >= 6)
    identifiers = dict.fromkeys([*marks, *unspaced], MARK_MASK)
    identifiers |= dict.fromkeys(vehicles["vin"], VIN_MASK)
    quarantine = pl.concat([raw.quarantine, rejected]).with_columns(mask_text(pl.col("raw")))
    return Fleet(
        vehicles,
        quarantine,
        file_health(raw, accepted.height),
        # Longest first, so that a mark is masked whole rather than a shorter one inside it.
        dict(sorted(identifiers.items(), key=lambda item: -len(item[0]))),
    )


def known_vehicle(column: str, fleet: Fleet, key: str) -> pl.Expr:
    """The reason a row's ``column`` names no vehicle of the register's ``key`` column."""
    return membership_problem(column, fleet.vehicles[key], FLEET)


def masked(rows: pl.DataFrame, masks: Mapping[str, str]) -> pl.DataFrame:
    """``rows`` with each identifier column's value replaced by its mask in ``_raw``.

    Exact values first (a malformed VIN has no VIN shape), then anything shaped like one.
    """
    raw = pl.col("_raw")
    for column, mask in masks.items():
        if column not in rows.columns:
            continue
        value = pl.col(column).str.strip_chars()
        # Splitting on the row's own value (as written) and joining with the mask replaces it
        # literally.
        replaced = raw.str.split(value).list.join(mask)
        raw = pl.when(value.str.len_chars() > 0).then(replaced).otherwise(raw)
    return rows.with_columns(mask_text(raw).alias("_raw"))


def mask_text(text: pl.Expr) -> pl.Expr:
    """Replace anything shaped like a VIN or a Hong Kong registration mark."""
    return text.str.replace_all(VIN_PATTERN, VIN_MASK).str.replace_all(MARK_PATTERN, MARK_MASK)
