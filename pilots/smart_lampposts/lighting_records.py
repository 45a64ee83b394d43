"""The Highways Department's lighting records: nightly energy readings and repair work orders.

Neither is published (FEEDS.md §1 names kWh per lamp as a KPI and HyD's LED saving of about
30%); the layouts below are the pilot's own exports.

``energy_readings.csv`` (UTF-8, comma-separated), one row per lamppost and night, from the
lighting-circuit meters fitted to every lamppost in the study, conventional ones included::

    lamppost_id,night_date,kwh,meter_id
    WC1043,2026-03-02,2.14,LM400003

``night_date`` is the evening the night began (Hong Kong date); the meter is read at noon the
next day. A reading with an empty or impossible ``kwh``, a meter the inventory does not list for
the lamppost, or a second reading for the same night is quarantined.

``work_orders.csv`` (UTF-8, comma-separated), one row per fault::

    work_order_id,lamppost_id,fault_reported_at,repaired_at,fault_type,reporter_contact
    LM26000123,WC1043,2026-03-02 21:15,2026-03-03 14:40,lamp out,1823 caller 9123 4567

Times are Hong Kong time, ``YYYY-MM-DD HH:MM``. An empty ``repaired_at`` is a fault still open
when the file was exported: it counts as a fault but has no repair time yet.
``reporter_contact`` names whoever reported the fault (a member of the public's phone number,
a patrol, or the smart lighting system's alarm): it is a personal identifier, never read, and
masked in the quarantine's raw text.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pilots.contract import HONG_KONG
from pilots.csv_reading import RawTable, read_csv_strings, split_valid
from pilots.fields import duplicate_problem, membership_problem, missing_problem, number_problem

ENERGY = "energy_readings.csv"
WORK_ORDERS = "work_orders.csv"
ENERGY_COLUMNS = ("lamppost_id", "night_date", "kwh", "meter_id")
WORK_ORDER_COLUMNS = (
    "work_order_id",
    "lamppost_id",
    "fault_reported_at",
    "repaired_at",
    "fault_type",
)
CONTACT_COLUMN = "reporter_contact"
FAULT_TYPES = ("lamp out", "day burning", "flickering", "cable fault", "lantern damaged")
MAX_KWH = 30.0  # two 400 W lanterns burning all day and night stay below this
NIGHT_STARTS = "18:00"  # an energy reading is stamped at the evening its night began
TIME_FORMAT = "%Y-%m-%d %H:%M"
# Phone numbers (eight digits, Hong Kong style) and e-mail addresses, wherever they turn up.
PHONE = r"\b[2-9]\d{3}[ -]?\d{4}\b"
EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"


def read_energy(
    data_dir: Path, units: pl.DataFrame
) -> tuple[pl.LazyFrame, RawTable, pl.DataFrame, int]:
    """``unit, timestamp, kwh`` per metered night; raw table, quarantined rows, accepted count."""
    raw = read_csv_strings(data_dir / ENERGY, ENERGY_COLUMNS)
    night = pl.col("night_date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    rows = raw.rows.with_columns(pl.col(ENERGY_COLUMNS).str.strip_chars()).join(
        units.select(pl.col("unit").alias("lamppost_id"), pl.col("meter_id").alias("_meter")),
        on="lamppost_id",
        how="left",
    )
    accepted, rejected = split_valid(
        rows.sort("_line"),
        [
            missing_problem("lamppost_id"),
            membership_problem("lamppost_id", units["unit"], "lamppost_inventory.csv"),
            pl.when(night.is_null()).then(pl.lit("night_date is not a date like 2026-03-02")),
            number_problem("kwh", 0, MAX_KWH),
            pl.when(pl.col("meter_id") != pl.col("_meter")).then(
                pl.lit("meter_id is not the meter lamppost_inventory.csv lists for this lamppost")
            ),
            duplicate_problem("lamppost_id", night),
        ],
        ENERGY,
    )
    readings = accepted.lazy().select(
        pl.col("lamppost_id").alias("unit"),
        pl.concat_str(pl.col("night_date"), pl.lit(" " + NIGHT_STARTS))
        .str.to_datetime(TIME_FORMAT)
        .dt.replace_time_zone(HONG_KONG)
        .alias("timestamp"),
        pl.col("kwh").cast(pl.Float64).alias("kwh"),
    )
    return readings, raw, rejected, accepted.height


def read_work_orders(
    data_dir: Path, units: pl.DataFrame
) -> tuple[pl.LazyFrame, RawTable, pl.DataFrame, dict[str, int]]:
    """``unit, timestamp (reported), repair_hours (null while open)`` per work order.

    Also the raw table (its quarantine already masked), quarantined rows and checks.
    """
    raw = read_csv_strings(data_dir / WORK_ORDERS, WORK_ORDER_COLUMNS)
    reported = _local_time("fault_reported_at")
    repaired = _local_time("repaired_at")
    open_order = pl.col("repaired_at").str.strip_chars() == ""
    accepted, rejected = split_valid(
        raw.rows.with_columns(pl.col(WORK_ORDER_COLUMNS).str.strip_chars()),
        [
            missing_problem("work_order_id"),
            pl.when(~pl.col("work_order_id").is_first_distinct()).then(
                pl.lit("work_order_id appears more than once")
            ),
            missing_problem("lamppost_id"),
            membership_problem("lamppost_id", units["unit"], "lamppost_inventory.csv"),
            pl.when(reported.is_null()).then(
                pl.lit("fault_reported_at is not a Hong Kong time like 2026-03-02 21:15")
            ),
            pl.when(~open_order & repaired.is_null()).then(
                pl.lit("repaired_at is not a Hong Kong time like 2026-03-02 21:15, nor empty")
            ),
            pl.when(repaired < reported).then(pl.lit("repaired_at is before fault_reported_at")),
            pl.when(~pl.col("fault_type").is_in(FAULT_TYPES)).then(
                pl.lit(f"fault_type is not one of {', '.join(FAULT_TYPES)}")
            ),
        ],
        WORK_ORDERS,
    )
    orders = accepted.lazy().select(
        pl.col("lamppost_id").alias("unit"),
        reported.alias("timestamp"),
        ((repaired - reported).dt.total_seconds() / 3600).alias("repair_hours"),
    )
    header = [name for name in raw.rows.columns if name not in ("_line", "_raw")]
    masked = RawTable(raw.file, raw.rows, _mask(raw.quarantine, header))
    checks = {
        "work_orders": accepted.height,
        "open_work_orders": int(accepted.select(open_order.sum()).item()),
    }
    return orders, masked, _mask(rejected, header), checks


def _local_time(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return text.str.to_datetime(TIME_FORMAT, strict=False).dt.replace_time_zone(HONG_KONG)


def _mask(quarantine: pl.DataFrame, header: list[str]) -> pl.DataFrame:
    """Quarantine rows with the reporter's contact removed from their raw text.

    The contact column is blanked by position where the line has it, and anything shaped like a
    phone number or an e-mail address is masked wherever it sits (a line with stray commas may
    have shifted the contact into another column).
    """
    raw = pl.col("raw")
    if CONTACT_COLUMN in header:
        position = header.index(CONTACT_COLUMN)
        fields = raw.str.split(",").list.eval(
            pl.when(pl.int_range(pl.len()) == position)
            .then(pl.lit("[removed]"))
            .otherwise(pl.element())
        )
        raw = fields.list.join(",")
    masked = raw.str.replace_all(PHONE, "[removed]").str.replace_all(EMAIL, "[removed]")
    return quarantine.with_columns(masked.alias("raw"))
