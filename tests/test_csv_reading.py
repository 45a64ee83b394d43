"""Tests for ``pilots.csv_reading``: tolerant CSV reading with a line-numbered quarantine."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from livinglab.errors import DataError
from pilots.contract import QUARANTINE_SCHEMA
from pilots.csv_reading import RawTable, file_health, read_csv_strings, split_valid

COLUMNS = ("a", "b", "c")


def write(path: Path, content: str | bytes) -> Path:
    """Write ``content`` verbatim (no newline translation) and return ``path``."""
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read(tmp_path: Path, content: str | bytes, required: tuple[str, ...] = COLUMNS) -> RawTable:
    return read_csv_strings(write(tmp_path / "data.csv", content), required)


def quarantined(table: RawTable) -> dict[int, str]:
    """Quarantine as ``{line: reason}``."""
    return dict(zip(table.quarantine["line"], table.quarantine["reason"], strict=True))


def assert_counts_add_up(table: RawTable) -> None:
    assert table.rows.height + table.quarantine.height == table.rows_read


def test_plain_rows_become_string_columns_with_line_numbers(tmp_path: Path) -> None:
    table = read(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    assert table.file == "data.csv"
    assert table.rows.columns == ["_line", "_raw", "a", "b", "c"]
    assert table.rows["_line"].to_list() == [2, 3]
    assert table.rows["_raw"].to_list() == ["1,2,3", "4,5,6"]
    assert table.rows.select("a", "b", "c").rows() == [("1", "2", "3"), ("4", "5", "6")]
    assert table.quarantine.height == 0
    assert table.rows_read == 2


def test_quoted_fields_keep_commas_and_undouble_quotes(tmp_path: Path) -> None:
    table = read(tmp_path, 'a,b,c\n"x,y","he said ""hi""",z\n"22.3, 114.2","",plain\n')
    assert table.quarantine.height == 0
    assert table.rows.select("a", "b", "c").rows() == [
        ("x,y", 'he said "hi"', "z"),
        ("22.3, 114.2", "", "plain"),
    ]


def test_wrong_field_counts_are_quarantined_with_physical_line_numbers(tmp_path: Path) -> None:
    """Blank lines are skipped but still count, so line numbers match an editor's."""
    content = "a,b,c\n1,2,3\n\n4,5\n   \n6,7,8,9\n10,11,12\n"
    table = read(tmp_path, content)
    assert quarantined(table) == {4: "expected 3 fields, found 2", 6: "expected 3 fields, found 4"}
    assert table.quarantine["raw"].to_list() == ["4,5", "6,7,8,9"]
    assert table.quarantine["file"].to_list() == ["data.csv", "data.csv"]
    assert table.rows["_line"].to_list() == [2, 7]
    assert table.rows_read == 4
    assert_counts_add_up(table)


def test_quarantine_follows_the_shared_schema(tmp_path: Path) -> None:
    table = read(tmp_path, "a,b,c\n1,2\n")
    assert table.quarantine.schema == QUARANTINE_SCHEMA


def test_a_comma_inside_quotes_does_not_count_as_a_separator(tmp_path: Path) -> None:
    """``"1,2",3`` has two fields, not three, so it is quarantined for its field count."""
    table = read(tmp_path, 'a,b,c\n"1,2",3\n')
    assert quarantined(table) == {2: "expected 3 fields, found 2"}


@pytest.mark.parametrize("line", ['"open,1,2', '1,"2,3', '1,2"x",3', 'ab"c,1,2'])
def test_unbalanced_or_stray_quotes_are_quarantined(tmp_path: Path, line: str) -> None:
    table = read(tmp_path, f"a,b,c\n1,2,3\n{line}\n4,5,6\n")
    assert quarantined(table) == {3: "unbalanced quotes"}
    assert table.quarantine["raw"].to_list() == [line]
    assert table.rows["_line"].to_list() == [2, 4]
    assert_counts_add_up(table)


def test_invalid_utf8_bytes_are_quarantined(tmp_path: Path) -> None:
    table = read(tmp_path, b"a,b,c\n1,2,3\nq\xff\xfe,1,2\ncaf\xc3\xa9,1,2\n")
    assert quarantined(table) == {3: "not valid UTF-8"}
    assert table.rows["a"].to_list() == ["1", "café"]
    assert_counts_add_up(table)


def test_utf8_bom_does_not_become_part_of_the_first_column_name(tmp_path: Path) -> None:
    table = read(tmp_path, b"\xef\xbb\xbfa,b,c\n1,2,3\n")
    assert table.rows.columns[2:] == ["a", "b", "c"]
    assert table.rows["a"].to_list() == ["1"]


def test_crlf_line_endings_leave_no_carriage_return(tmp_path: Path) -> None:
    table = read(tmp_path, "a,b,c\r\n1,2,3\r\n\r\n4,5\r\n6,7,8\r\n")
    assert table.rows["c"].to_list() == ["3", "8"]
    assert table.rows["_raw"].to_list() == ["1,2,3", "6,7,8"]
    assert table.rows["_line"].to_list() == [2, 5]
    assert quarantined(table) == {4: "expected 3 fields, found 2"}


def test_extra_columns_in_any_order_are_accepted(tmp_path: Path) -> None:
    table = read(tmp_path, "c, extra ,a,b\n3,x,1,2\n")
    assert table.rows.columns == ["_line", "_raw", "c", "extra", "a", "b"]
    assert table.rows.select("a", "b", "c").rows() == [("1", "2", "3")]


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    table = read(tmp_path, "a,b,c\n")
    assert table.rows.height == 0
    assert table.quarantine.height == 0
    assert table.rows_read == 0


def test_missing_file_raises_data_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match=r"nowhere\.csv"):
        read_csv_strings(path, COLUMNS)


def test_missing_required_column_names_it_and_the_columns_found(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        read(tmp_path, "a,x,c\n1,2,3\n")
    message = str(caught.value)
    assert "data.csv" in message
    assert "missing column(s) b" in message
    assert "found a, x, c" in message


def test_header_error_gives_the_header_s_own_line_after_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.csv, line 3: missing column\(s\) b"):
        read(tmp_path, "\n\na,x,c\n1,2,3\n")


@pytest.mark.parametrize("content", ["", "\n\n", "  \r\n\r\n"])
def test_empty_file_raises_data_error(tmp_path: Path, content: str) -> None:
    with pytest.raises(DataError, match=r"data\.csv.*empty"):
        read(tmp_path, content)


def test_counts_add_up_for_a_mixed_file(tmp_path: Path) -> None:
    content = b'a,b,c\n1,2,3\n1,2\n"x\n\xff,1,2\n"q","r","s"\n1,2,3,4\n'
    table = read(tmp_path, content)
    assert table.rows_read == 6
    assert table.rows.height == 2
    assert table.quarantine.height == 4
    assert_counts_add_up(table)
    assert file_health(table, accepted=1).rows_quarantined == 5


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_line": [2, 3, 4, 5],
            "_raw": ["ok,1", "bad,x", "both,", "ok2,2"],
            "name": ["ok", "bad", "both", "ok2"],
            "value": ["1", "x", "", "2"],
        }
    )


def test_split_valid_uses_the_first_non_null_reason() -> None:
    value = pl.col("value")
    reasons = [
        pl.when(value == "").then(pl.lit("value is empty")),
        pl.when(value.cast(pl.Float64, strict=False).is_null()).then(pl.lit("value not a number")),
    ]
    accepted, rejected = split_valid(_frame(), reasons, "f.csv")
    assert accepted.columns == ["_line", "_raw", "name", "value"]
    assert accepted["name"].to_list() == ["ok", "ok2"]
    assert rejected.schema == QUARANTINE_SCHEMA
    assert rejected.rows() == [
        ("f.csv", 3, "value not a number", "bad,x"),
        ("f.csv", 4, "value is empty", "both,"),
    ]


def test_split_valid_without_problems_accepts_everything() -> None:
    accepted, rejected = split_valid(_frame(), [pl.lit(None, dtype=pl.String)], "f.csv")
    assert accepted.height == 4
    assert rejected.height == 0
    assert rejected.schema == QUARANTINE_SCHEMA
