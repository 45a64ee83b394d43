"""Read an evaluator's table (CSV or Parquet) with polars, failing with the file's name."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from livinglab.errors import DataError

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type; use .csv or .parquet")
    try:
        if kind == "csv":
            return pl.read_csv(path, infer_schema_length=100_000, null_values=["", "NA"])
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise DataError(f"{path}: cannot be read as {kind}: {first_line}") from error
