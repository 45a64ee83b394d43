"""Reading archives of snapshot files record by record, robust to truncated and garbage files.

The Kowloon East feeds are archives of many small documents (one XML or JSON snapshot per fetch),
not one CSV. Each reader here turns one archive into string columns, one row per record (a
``<segment>``, a ``<lane>``, a car park in ``results``), with ``_file`` and ``_line`` (the
record's 1-based index in its file) so that a bad record can be quarantined by name. A file
that breaks off mid-document keeps the records before the break and adds one unreadable record
for the rest; a file that is not a document at all is one unreadable record. Counts therefore
always add up: records read = accepted + quarantined, per feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from livinglab.errors import DataError
from pilots.contract import QUARANTINE_SCHEMA, FileHealth

RAW_LIMIT = 300  # characters of a broken document kept in the quarantine


@dataclass
class Columns:
    """Columns built record by record, with each record's file and index in it.

    Values become strings (JSON numbers included), so that typed parsing can name the field that
    fails; the ``_item`` column, when named, keeps an integer index into the records read.
    """

    names: Sequence[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, file: str, line: int, values: tuple[Any, ...]) -> None:
        """One record: ``values`` in the order of ``names``."""
        self.rows.append((file, line, *values))

    def frame(self) -> pl.DataFrame:
        names = ("_file", "_line", *self.names)
        columns = list(zip(*self.rows, strict=True)) or [()] * len(names)
        return pl.DataFrame(
            {
                name: pl.Series(name, values, dtype=pl.Int64)
                if name in ("_line", "_item")
                else pl.Series(name, values, dtype=pl.String, strict=False)
                for name, values in zip(names, columns, strict=True)
            }
        )


@dataclass(frozen=True)
class FeedRead:
    """One archive's records and the broken documents found while reading it."""

    label: str
    records: pl.DataFrame
    broken: pl.DataFrame
    files: int

    @property
    def rows_read(self) -> int:
        return self.records.height + self.broken.height


def archive_files(directory: Path, pattern: str) -> list[Path]:
    """The archive's files in name order (archive time); the directory must exist."""
    if not directory.is_dir():
        raise DataError(f"{directory}: archive directory not found (expected {pattern} files)")
    return sorted(path for path in directory.iterdir() if path.is_file())


def broken_rows(entries: list[tuple[str, int, str, str]]) -> pl.DataFrame:
    """Quarantine rows from ``(file, line, reason, raw)`` tuples."""
    return pl.DataFrame(
        {
            "file": [e[0] for e in entries],
            "line": [e[1] for e in entries],
            "reason": [e[2] for e in entries],
            "raw": [e[3][:RAW_LIMIT] for e in entries],
        },
        schema=QUARANTINE_SCHEMA,
    )


def json_results(text: str) -> tuple[list[Any], str | None]:
    """The items of a ``{"results": [...]}`` document, and why reading stopped early, if it did.

    A complete document is decoded at once; a truncated or damaged one is decoded item by item
    up to the first item that cannot be read.
    """
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return _results_prefix(text)
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        return [], 'not a one-stop API document: expected {"results": [...]}'
    return document["results"], None


def _results_prefix(text: str) -> tuple[list[Any], str | None]:
    decoder = json.JSONDecoder()
    key = text.find('"results"')
    start = text.find("[", key) if key >= 0 else -1
    if start < 0:
        return [], "not JSON, or no results array before the document breaks off"
    items: list[Any] = []
    position = start + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position < len(text) and text[position] == "]":
            return items, "the document breaks off after its results array (not valid JSON)"
        try:
            item, position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            return items, "the document breaks off mid-record (truncated or not valid JSON)"
        items.append(item)


def split_records(
    frame: pl.DataFrame, reasons: Sequence[pl.Expr], raw: Callable[[pl.DataFrame], pl.Series]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted records and quarantine rows; the first non-null reason rejects a record.

    ``raw`` gives the raw text of the rejected records (computed for those only).
    """
    checked = frame.with_columns(pl.coalesce(*reasons).alias("_reason"))
    accepted = checked.filter(pl.col("_reason").is_null()).drop("_reason")
    rejected = checked.filter(pl.col("_reason").is_not_null())
    quarantine = rejected.select(
        pl.col("_file").alias("file"),
        pl.col("_line").alias("line"),
        pl.col("_reason").alias("reason"),
        raw(rejected).str.slice(0, RAW_LIMIT).alias("raw"),
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    return accepted, quarantine


def feed_health(feed: FeedRead, accepted: int) -> FileHealth:
    return FileHealth(file=feed.label, rows_read=feed.rows_read, rows_accepted=accepted)
