"""Read the California DMV's autonomous-vehicle CSV layout, quoted multi-line cells and all.

The DMV publishes disengagement and mileage reports as CSV exported from spreadsheets (FEEDS.md
section 3, ``dmv.ca.gov/portal/file/{year}-autonomous-vehicle-disengagement-reports-csv``):

- header cells carry their allowed values on a second line inside the quotes
  (``"DRIVER PRESENT\\n(Yes or No)"``), and the wording varies by reporting year (``VIN NUMBER``
  or ``VIN``, ``Permit Number`` or ``PERMIT NUMBER``), so columns are matched on their leading
  words after collapsing whitespace and case;
- free-text descriptions contain commas, doubled quotes and sometimes line breaks;
- spreadsheets pad the end with rows of empty cells, which are skipped and counted.

``pilots.csv_reading`` splits on line breaks first, so it cannot read this; the standard ``csv``
module can, and each record keeps the line it starts on. A stray quote would otherwise swallow
the rest of the file into one field: a record may span at most ``MAX_RECORD_LINES`` lines, and a
multi-line record with the wrong number of fields is taken for one too. Then only its first line
is quarantined and reading resumes on the next, so one bad line never costs more than itself.
A file whose first readable row names none of the required columns (garbage, or empty) is
reported and quarantined line by line rather than stopping the pilot's other files.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from livinglab.errors import DataError
from pilots.contract import QUARANTINE_SCHEMA

MAX_RECORD_LINES = 6
UNBALANCED = "unbalanced quotes: a quoted field runs on past the end of its row"


@dataclass(frozen=True)
class DmvTable:
    """String columns of the readable records (with ``_line`` and ``_raw``) and the rest.

    ``columns`` are the canonical names asked for plus the header cells matching the pattern,
    in file order; ``blank_rows`` counts the padding rows of empty cells that were skipped;
    ``problem`` says why a whole file could not be read (then every line is in the quarantine).
    """

    file: str
    columns: tuple[str, ...]
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    blank_rows: int
    problem: str | None = None

    @property
    def rows_read(self) -> int:
        return self.rows.height + self.quarantine.height


def normalise_header(cell: str) -> str:
    """Upper case with every run of whitespace (line breaks included) collapsed to one space."""
    return " ".join(cell.split()).upper()


def read_dmv_csv(
    path: Path,
    required: Mapping[str, Sequence[str]],
    pattern: re.Pattern[str] | None = None,
) -> DmvTable:
    """Read ``path``; ``required`` maps a canonical name to the leading words it may start with.

    Names are matched in order and a cell serves one name only, so a more specific name listed
    first (``ANNUAL TOTAL OF DISENGAGEMENTS``) keeps a shorter one (``ANNUAL TOTAL``) off it.
    Header cells fully matching ``pattern`` (after normalising) are kept under their normalised
    text. A missing file raises ``DataError``; a file without a header naming the required
    columns (empty, garbage) is not fatal: every line is quarantined and ``problem`` says why.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    records, blank = _records(lines)
    header = next(((line, cells) for line, _, cells in records if cells is not None), None)
    header_line, cells = header if header else (0, [])
    names = [normalise_header(cell) for cell in cells]
    index: dict[str, int | None] = {}
    for name, leads in required.items():
        index[name] = _find(names, leads, taken={p for p in index.values() if p is not None})
    missing = [name for name, position in index.items() if position is None]
    if missing:
        problem = f"no header naming {', '.join(missing)}: the file was not read"
        return _table(path.name, records, 0, dict.fromkeys(required, 0), blank, problem)
    for position, name in enumerate(names):
        if pattern is not None and pattern.fullmatch(name) and name not in index:
            index[name] = position
    body = [record for record in records if record[0] != header_line]
    return _table(path.name, body, len(names), index, blank)


def _find(names: list[str], leads: Sequence[str], taken: set[int]) -> int | None:
    """The first cell equal to a lead, else the first starting with one; never a taken cell."""
    free = [(position, name) for position, name in enumerate(names) if position not in taken]
    for lead in leads:
        for position, name in free:
            if name == lead:
                return position
    for lead in leads:
        for position, name in free:
            if name.startswith(lead) and name[len(lead)] in " (":
                return position
    return None


def _table(
    file: str,
    records: list[tuple[int, str, list[str] | None]],
    width: int,
    index: Mapping[str, int | None],
    blank: int,
    problem: str | None = None,
) -> DmvTable:
    good: list[tuple[int, str, list[str]]] = []
    bad: list[tuple[int, str, str]] = []
    for line, raw, fields in records:
        if problem is not None:
            bad.append((line, problem, raw))
        elif fields is None:
            bad.append((line, UNBALANCED, raw))
        elif "\ufffd" in raw:
            bad.append((line, "not valid UTF-8", raw))
        elif len(fields) != width:
            bad.append((line, f"expected {width} fields, found {len(fields)}", raw))
        else:
            good.append((line, raw, fields))
    columns = {
        "_line": pl.Series([line for line, _, _ in good], dtype=pl.Int64),
        "_raw": pl.Series([raw for _, raw, _ in good], dtype=pl.String),
    }
    for name, position in index.items():
        columns[name] = pl.Series([fields[position] for _, _, fields in good], dtype=pl.String)
    quarantine = pl.DataFrame(
        {
            "file": [file] * len(bad),
            "line": [line for line, _, _ in bad],
            "reason": [reason for _, reason, _ in bad],
            "raw": [raw for _, _, raw in bad],
        },
        schema=QUARANTINE_SCHEMA,
    )
    return DmvTable(file, tuple(index), pl.DataFrame(columns), quarantine, blank, problem)


class _Feed(Iterator[str]):
    """Lines from ``start`` for ``csv.reader``, refusing to let one record grow too long."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.lines, self.position = lines, start
        self.record_start = start
        self.capped = False

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        if self.position - self.record_start >= MAX_RECORD_LINES:
            self.capped = True
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1] + "\n"


def _records(lines: list[str]) -> tuple[list[tuple[int, str, list[str] | None]], int]:
    """``(first line, raw text, fields)`` per record (fields None: an unreadable line)."""
    records: list[tuple[int, str, list[str] | None]] = []
    blank = 0
    width: int | None = None
    start = 0
    while start < len(lines):
        feed = _Feed(lines, start)
        reader = csv.reader(feed)
        done = 0  # lines of this pass taken by complete records
        try:
            for fields in reader:
                first, span = start + done, reader.line_num - done
                raw = "\n".join(lines[first : first + span])
                # Well-formed CSV has an even number of quotes in every record; an odd one means
                # a stray quote, or a file cut off inside a quoted field.
                odd = raw.count('"') % 2 == 1
                wrong_width = width is not None and len(fields) != width
                if span > 1 and (feed.capped or span > MAX_RECORD_LINES or wrong_width or odd):
                    break
                done = reader.line_num
                feed.record_start = start + done
                if not fields:
                    continue
                if not any(field.strip() for field in fields):
                    blank += 1
                    continue
                width = len(fields) if width is None else width
                records.append((first + 1, raw, None if odd else fields))
            else:
                if not feed.capped:
                    break
        except csv.Error:
            pass
        bad = start + done
        records.append((bad + 1, lines[bad], None))
        start = bad + 1
    return records, blank
