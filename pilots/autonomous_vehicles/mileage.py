"""Read the monthly mileage returns in the California DMV CSV layout, to reconcile the trip log.

The DMV's mileage file (FEEDS.md section 3) has one line per vehicle: ``Manufacturer, Permit
Number, VIN NUMBER``, one column per month of the reporting year (``DEC 2025``, ``JAN 2026``...;
an interim return stops at the last month reported), ``Annual Total of Disengagements`` and
``ANNUAL TOTAL``. Numbers are strings with thousands separators (``"1,000"``); an empty month
means the vehicle did not drive.

Unit: kilometres. The DMV reports miles; Hong Kong's licence conditions, roads and the trip log
are metric, so the Hong Kong return is filed in km and no conversion is made.

The returns feed no metric: they are the operator's own totals, compared in the checks with the
automated km the trip log recorded each month (logger outages show as a shortfall) and with the
disengagement report's count. Every ``mileage*.csv`` is read; having none is noted, not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pilots.autonomous_vehicles.dmv_csv import read_dmv_csv
from pilots.autonomous_vehicles.fleet import VIN_MASK, Fleet, masked
from pilots.contract import FileHealth
from pilots.csv_reading import split_valid
from pilots.fields import missing_problem

MILEAGE_FILES = "mileage*.csv"
MONTH = re.compile(r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]* \d{4}")
VIN = "VIN NUMBER"
ANNUAL_DISENGAGEMENTS = "ANNUAL TOTAL OF DISENGAGEMENTS"
ANNUAL_TOTAL = "ANNUAL TOTAL"
COLUMNS = {
    VIN: (VIN, "VIN"),
    ANNUAL_DISENGAGEMENTS: (ANNUAL_DISENGAGEMENTS,),
    ANNUAL_TOTAL: (ANNUAL_TOTAL,),
}
NUMBER = r"^\d{1,3}(,\d{3})*(\.\d+)?$|^\d+(\.\d+)?$"


@dataclass(frozen=True)
class Mileage:
    """Automated km per vehicle and month, the quarantine, and each file's health."""

    monthly: pl.DataFrame  # vehicle_id, month (first day), km
    totals: pl.DataFrame  # vehicle_id, annual_total, annual_disengagements, months_total
    quarantine: pl.DataFrame
    health: tuple[FileHealth, ...]
    unreadable: dict[str, str]  # file -> why none of it could be read


def load_mileage(data_dir: Path, fleet: Fleet) -> Mileage | None:
    """Read every ``mileage*.csv``; ``None`` when there is none."""
    paths = sorted(data_dir.glob(MILEAGE_FILES))
    if not paths:
        return None
    monthly, totals, quarantines, health, unreadable = [], [], [], [], {}
    for path in paths:
        table = read_dmv_csv(path, COLUMNS, MONTH)
        months = [name for name in table.columns if MONTH.fullmatch(name)]
        rows = masked(table.rows, {VIN: VIN_MASK}).with_columns(
            pl.col(VIN).str.strip_chars().str.to_uppercase().alias("vin")
        )
        accepted, rejected = split_valid(
            rows,
            [
                missing_problem(VIN),
                pl.when(~pl.col("vin").is_in(fleet.vehicles["vin"].implode())).then(
                    pl.lit(f"{VIN} is not in fleet.csv")
                ),
                *(_distance_problem(name) for name in [*months, ANNUAL_TOTAL]),
                _distance_problem(ANNUAL_DISENGAGEMENTS, "a count like 12"),
            ],
            path.name,
        )
        vehicles = accepted.join(fleet.vehicles.select("vin", "vehicle_id"), on="vin")
        monthly.append(
            vehicles.unpivot(
                index="vehicle_id", on=months, variable_name="label", value_name="km"
            ).select(
                "vehicle_id",
                pl.col("label").replace_strict(_month_starts(months)).alias("month"),
                _km("km").alias("km"),
            )
            if months
            else pl.DataFrame(schema={"vehicle_id": pl.String, "month": pl.Date, "km": pl.Float64})
        )
        totals.append(
            vehicles.select(
                "vehicle_id",
                _km(ANNUAL_TOTAL).alias("annual_total"),
                _km(ANNUAL_DISENGAGEMENTS).alias("annual_disengagements"),
                (
                    pl.sum_horizontal([_km(name) for name in months]) if months else pl.lit(0.0)
                ).alias("months_total"),
            )
        )
        quarantines += [table.quarantine, rejected]
        health.append(FileHealth(path.name, table.rows_read, accepted.height))
        if table.problem:
            unreadable[path.name] = table.problem
    return Mileage(
        pl.concat(monthly), pl.concat(totals), pl.concat(quarantines), tuple(health), unreadable
    )


def mileage_checks(
    mileage: Mileage | None, trips: pl.DataFrame, disengagements: pl.DataFrame
) -> dict[str, Any]:
    """Monthly automated km: returned vs logged; totals that do not add up."""
    if mileage is None:
        return {"note": f"no {MILEAGE_FILES}: the trip log's automated km are not reconciled"}
    logged = (
        trips.filter(pl.col("vehicle_type") == "autonomous")
        .group_by("vehicle_id", pl.col("timestamp").dt.date().dt.truncate("1mo").alias("month"))
        .agg(pl.col("km_auto").sum().alias("logged_km"))
    )
    months = (
        mileage.monthly.group_by("month")
        .agg(pl.col("km").sum().alias("returned_km"))
        .join(
            logged.group_by("month").agg(pl.col("logged_km").sum()),
            on="month",
            how="full",
            coalesce=True,
        )
        .sort("month")
        .filter((pl.col("returned_km").fill_null(0) > 0) | (pl.col("logged_km").fill_null(0) > 0))
    )
    returned, logged_total = months["returned_km"].sum(), months["logged_km"].sum()
    totals = mileage.totals
    return {
        "unit": "km",
        "by_month": [
            {
                "month": month.strftime("%Y-%m"),
                "returned_km": round(float(r or 0.0), 1),
                "trip_log_km": round(float(t or 0.0), 1),
            }
            for month, r, t in months.iter_rows()
        ],
        "trip_log_share_of_returned_km": round(float(logged_total / returned), 4)
        if returned
        else None,
        "annual_totals_not_the_sum_of_months": int(
            ((totals["annual_total"] - totals["months_total"]).abs() > 1).sum()
        ),
        "annual_disengagements_returned": int(totals["annual_disengagements"].sum()),
        "disengagements_reported": disengagements.height,
        "unreadable_files": mileage.unreadable,
    }


def _km(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return (
        pl.when(text == "")
        .then(0.0)
        .otherwise(text.str.replace_all(",", "").cast(pl.Float64, strict=False))
    )


def _distance_problem(column: str, example: str = "a distance in km like 1,234") -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return pl.when((text != "") & ~text.str.contains(NUMBER)).then(
        pl.lit(f"{column} is not {example}")
    )


def _month_starts(labels: list[str]) -> dict[str, date]:
    """``JUN 2026`` (or ``JUNE 2026``) -> 2026-06-01."""
    return {
        label: datetime.strptime(f"{label[:3]} {label[-4:]}", "%b %Y").date() for label in labels
    }
