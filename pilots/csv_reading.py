"""Read a CSV file into string columns, keeping every line that cannot be read in a quarantine.

The splitting is vectorised in polars: each line is cut into RFC 4180 fields by one regular
expression, and a line whose fields do not add up to the whole line (stray quotes) or whose field
count differs from the header is quarantined with its line number. Typed parsing happens later,
column by column, so that the reason can name the column that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from livinglab.errors import DataError
from pilots.contract import QUARANTINE_SCHEMA, FileHealth

# A line of only these is blank and skipped; any other line is a row, read or quarantined. (Not
# "whitespace" in general: Python and polars disagree on control characters such as U+001F.)
BLANK = " \t"
# Every field is preceded by a comma (one is prepended to each line), so no match is ever empty.
_FIELD = r',(?:"(?:[^"]|"")*"|[^,"]*)'


@dataclass(frozen=True)
class RawTable:
    """String columns of readable lines (with ``_line`` and ``_raw``) and the unreadable ones."""

    file: str
    rows: pl.DataFrame
    quarantine: pl.DataFrame

    @property
    def rows_read(self) -> int:
        return self.rows.height + self.quarantine.height


def read_csv_strings(path: Path, required: Sequence[str]) -> RawTable:
    """Read ``path`` as strings; fail only when the file or a required column is missing."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = (
        pl.DataFrame({"_raw": text.split("\n")})
        .with_row_index("_line", offset=1)
        .with_columns(pl.col("_line").cast(pl.Int64), pl.col("_raw").str.strip_suffix("\r"))
        .filter(pl.col("_raw").str.strip_chars(BLANK) != "")
    )
    if lines.height == 0:
        raise DataError(f"{path}: the file is empty; expected a header with {', '.join(required)}")
    header_line = _split(lines.head(1))
    header = [name.strip() for name in header_line["fields"][0].to_list()]
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(
            f"{path}, line {header_line['_line'][0]}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(header)}; required {', '.join(required)}"
        )
    body = _split(lines.slice(1))
    width = len(header)
    reason = (
        pl.when(pl.col("_raw").str.contains("\ufffd"))
        .then(pl.lit("not valid UTF-8"))
        .when(~pl.col("complete"))
        .then(pl.lit("unbalanced quotes"))
        .when(pl.col("fields").list.len() != width)
        .then(pl.format("expected {} fields, found {}", pl.lit(width), pl.col("fields").list.len()))
    )
    checked = body.with_columns(reason=reason)
    bad = checked.filter(pl.col("reason").is_not_null())
    good = checked.filter(pl.col("reason").is_null())
    rows = good.select(
        "_line",
        "_raw",
        *[pl.col("fields").list.get(i).alias(name) for i, name in enumerate(header)],
    )
    return RawTable(
        file=path.name,
        rows=rows,
        quarantine=quarantine_rows(bad, path.name, pl.col("reason")),
    )


def quarantine_rows(frame: pl.DataFrame, file: str, reason: pl.Expr) -> pl.DataFrame:
    """Rows of ``frame`` (with ``_line`` and ``_raw``) as quarantine entries with ``reason``."""
    return frame.select(
        pl.lit(file).alias("file"),
        pl.col("_line").alias("line"),
        reason.alias("reason"),
        pl.col("_raw").alias("raw"),
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def split_valid(
    frame: pl.DataFrame, reasons: Sequence[pl.Expr], file: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split parsed rows into accepted rows and quarantine entries.

    ``reasons`` are string expressions that are null where a row is fine; the first non-null one
    is the row's quarantine reason. ``frame`` must carry ``_line`` and ``_raw``.
    """
    checked = frame.with_columns(pl.coalesce(*reasons).alias("_reason"))
    accepted = checked.filter(pl.col("_reason").is_null()).drop("_reason")
    rejected = checked.filter(pl.col("_reason").is_not_null())
    return accepted, quarantine_rows(rejected, file, pl.col("_reason"))


def file_health(table: RawTable, accepted: int) -> FileHealth:
    return FileHealth(file=table.file, rows_read=table.rows_read, rows_accepted=accepted)


def _split(lines: pl.DataFrame) -> pl.DataFrame:
    matches = pl.concat_str(pl.lit(","), pl.col("_raw")).str.extract_all(_FIELD)
    with_fields = lines.with_columns(matches.alias("_matches"))
    return with_fields.with_columns(
        complete=pl.col("_matches").list.eval(pl.element().str.len_chars()).list.sum()
        == pl.col("_raw").str.len_chars() + 1,
        fields=pl.col("_matches").list.eval(_unquote(pl.element().str.slice(1))),
    ).drop("_matches")


def _unquote(field: pl.Expr) -> pl.Expr:
    quoted = field.str.starts_with('"') & field.str.ends_with('"') & (field.str.len_chars() >= 2)
    inner = field.str.slice(1, field.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    return pl.when(quoted).then(inner).otherwise(field)
