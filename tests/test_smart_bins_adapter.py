"""Tests for the smart-bins adapter on small hand-written files in the pilot's real formats.

Times in ``readings.csv`` are UTC (as in the City of Melbourne netvox feed); the collection log
uses Hong Kong offsets. Each bin in the golden data set plays one scenario, so every expected
observation can be written down exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilots.aggregation import metric_values
from pilots.contract import OBSERVATION_SCHEMA, Observations
from pilots.smart_bins.adapter import load_smart_bins
from pilots.smart_bins.metrics import COLLECTIONS, OVERFLOW

HKT = ZoneInfo("Asia/Hong_Kong")
READINGS_HEADER = "dev_id,time,distance,filllevel,temperature,battery,lat_long"
BINS_HEADER = "bin,dev_id,route,district,lat,lon,capacity"
LOG_HEADER = "truck,route,bin,collected_at,weight_kg"
TIME_REASON = "time is not an ISO-8601 timestamp with offset, e.g. 2026-01-05T08:00:00+08:00"


def reading(dev_id: str, time: str, fill: float | str) -> str:
    """One ``readings.csv`` line in the netvox layout (distance derived from the fill level)."""
    try:
        distance = str(round(1000 * (1 - float(fill) / 100) + 30))
    except ValueError:
        distance = "0"
    return f'{dev_id},{time},{distance},{fill},18.4,3.64,"22.2866, 114.1548"'


def inventory_row(bin_id: str, dev_id: str, route: str = "R01") -> str:
    return f"{bin_id},{dev_id},{route},Central and Western,22.2866,114.1548,240"


def log_row(bin_id: str, collected_at: str, route: str = "R01", weight: str = "9.5") -> str:
    return f"TRK-{route[1:]},{route},{bin_id},{collected_at},{weight}"


def write_data(
    directory: Path,
    bins: Sequence[str],
    readings: Sequence[str],
    log: Sequence[str] = (),
) -> Path:
    """Write the three raw files (header plus ``lines``) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, header, lines in (
        ("bins.csv", BINS_HEADER, bins),
        ("readings.csv", READINGS_HEADER, readings),
        ("collections.csv", LOG_HEADER, log),
    ):
        (directory / name).write_text("\n".join([header, *lines]) + "\n")
    return directory


def hkt(*args: int) -> datetime:
    return datetime(*args, tzinfo=HKT)


def observations_of(obs: Observations, field: str, unit: str | None = None) -> list[Any]:
    """``(unit, timestamp, value)`` rows of one field, sorted."""
    table = obs.table.collect().filter(pl.col("field") == field)
    if unit is not None:
        table = table.filter(pl.col("unit") == unit)
    return table.sort("unit", "timestamp").select("unit", "timestamp", "value").rows()


# Scenarios, one bin each (all times are in 2026):
#   B1 logged collection between a 70 and a 5 reading
#   B2 drop 80 -> 10 without log entry
#   B3 logged collection of a nearly empty bin (10 -> 3)
#   B4 logged collection during a sensor gap, previous reading 18 h 05 min old, no drop
#   B5 drop of 29 points, no log
#   B6 drop of exactly 30 points, no log
#   B7 bin full at 01:00 on 6 Jan in Hong Kong, which is still 5 Jan in UTC
#   B8 drop across a two-day sensor gap, explained by a log entry inside the gap
GOLDEN_BINS = [inventory_row(f"B{i}", f"d{i}", "R01" if i % 2 else "R02") for i in range(1, 9)]
GOLDEN_READINGS = [
    reading("d1", "2026-01-04T22:00:00+00:00", 70),
    reading("d1", "2026-01-05T00:00:00+00:00", 5),
    reading("d2", "2026-01-04T22:00:00+00:00", 80),
    reading("d2", "2026-01-05T00:00:00+00:00", 10),
    reading("d3", "2026-01-04T22:00:00+00:00", 10),
    reading("d3", "2026-01-05T00:00:00+00:00", 3),
    reading("d4", "2026-01-04T04:00:00+00:00", 50),
    reading("d4", "2026-01-05T12:00:00+00:00", 40),
    reading("d5", "2026-01-04T22:00:00+00:00", 59),
    reading("d5", "2026-01-05T00:00:00+00:00", 30),
    reading("d6", "2026-01-04T22:00:00+00:00", 60),
    reading("d6", "2026-01-05T00:00:00+00:00", 30),
    reading("d7", "2026-01-05T14:00:00+00:00", 97),
    reading("d7", "2026-01-05T17:00:00+00:00", 100),
    reading("d7", "2026-01-06T02:00:00+00:00", 99),
    reading("d8", "2026-01-04T00:00:00+00:00", 85),
    reading("d8", "2026-01-06T00:00:00+00:00", 20),
]
GOLDEN_LOG = [
    log_row("B1", "2026-01-05T06:05:00+08:00"),
    log_row("B3", "2026-01-05T06:05:00+08:00", route="R01"),
    log_row("B4", "2026-01-05T06:05:00+08:00", route="R02"),
    log_row("B8", "2026-01-05T06:05:00+08:00", route="R02"),
]


@pytest.fixture
def golden(tmp_path: Path) -> Observations:
    return load_smart_bins(write_data(tmp_path, GOLDEN_BINS, GOLDEN_READINGS, GOLDEN_LOG))


def test_golden_files_are_read_without_quarantine(golden: Observations) -> None:
    health = golden.health()
    assert health["rows_quarantined"] == 0
    assert health["files"] == {
        "bins.csv": {"rows_read": 8, "rows_accepted": 8, "rows_quarantined": 0},
        "readings.csv": {"rows_read": 17, "rows_accepted": 17, "rows_quarantined": 0},
        "collections.csv": {"rows_read": 4, "rows_accepted": 4, "rows_quarantined": 0},
    }
    assert golden.table.collect_schema() == OBSERVATION_SCHEMA
    assert golden.units["unit"].to_list() == [f"B{i}" for i in range(1, 9)]
    assert golden.units.row(0, named=True) == {
        "unit": "B1",
        "dev_id": "d1",
        "route": "R01",
        "district": "Central and Western",
        "lat": 22.2866,
        "lon": 114.1548,
        "capacity_l": 240.0,
    }


def test_reading_times_are_converted_from_utc_to_hong_kong(golden: Observations) -> None:
    """00:00 UTC is 08:00 in Hong Kong (UTC+8, no daylight saving)."""
    assert observations_of(golden, "fill_level", "B1") == [
        ("B1", hkt(2026, 1, 5, 6), 70.0),
        ("B1", hkt(2026, 1, 5, 8), 5.0),
    ]
    stamp = golden.table.collect().filter(pl.col("unit") == "B1")["timestamp"][0]
    assert stamp.utcoffset().total_seconds() == 8 * 3600


def test_logged_drop_is_one_collection_at_the_logged_time(golden: Observations) -> None:
    assert observations_of(golden, "collection", "B1") == [("B1", hkt(2026, 1, 5, 6, 5), 1.0)]
    assert observations_of(golden, "fill_at_collection", "B1") == [
        ("B1", hkt(2026, 1, 5, 6, 5), 70.0)
    ]


def test_unlogged_drop_is_one_collection(golden: Observations) -> None:
    """Without a log entry the drop itself is the collection, at the reading that shows it."""
    assert observations_of(golden, "collection", "B2") == [("B2", hkt(2026, 1, 5, 8), 1.0)]
    assert observations_of(golden, "fill_at_collection", "B2") == [("B2", hkt(2026, 1, 5, 8), 80.0)]


def test_logged_collection_of_a_nearly_empty_bin_counts(golden: Observations) -> None:
    assert observations_of(golden, "collection", "B3") == [("B3", hkt(2026, 1, 5, 6, 5), 1.0)]
    assert observations_of(golden, "fill_at_collection", "B3") == [
        ("B3", hkt(2026, 1, 5, 6, 5), 10.0)
    ]


def test_logged_collection_after_a_stale_reading_has_no_fill(golden: Observations) -> None:
    """The last reading before B4's collection is more than six hours old: no fill is recorded."""
    assert observations_of(golden, "collection", "B4") == [("B4", hkt(2026, 1, 5, 6, 5), 1.0)]
    assert observations_of(golden, "fill_at_collection", "B4") == []


def test_drop_across_a_sensor_gap_explained_by_the_log_counts_once(golden: Observations) -> None:
    assert observations_of(golden, "collection", "B8") == [("B8", hkt(2026, 1, 5, 6, 5), 1.0)]
    assert observations_of(golden, "fill_at_collection", "B8") == []


def test_drop_threshold_is_thirty_points(golden: Observations) -> None:
    """A 29-point fall is sensor noise or compaction; a 30-point fall is a collection."""
    assert observations_of(golden, "collection", "B5") == []
    assert observations_of(golden, "collection", "B6") == [("B6", hkt(2026, 1, 5, 8), 1.0)]


def test_collection_checks_cross_reference_log_and_sensors(golden: Observations) -> None:
    assert golden.health()["collections"] == {
        "log_entries": 4,
        "sensor_drops": 4,  # B1, B2, B6, B8
        "drops_confirmed_by_log": 2,  # B1, B8
        "drops_not_in_log": 2,  # B2, B6
        "logged_without_drop": 2,  # B3, B4
        "events": 6,
    }
    assert len(observations_of(golden, "collection")) == 6


def test_overflow_day_uses_hong_kong_days(golden: Observations) -> None:
    """B7 reads 100 at 01:00 on 6 January in Hong Kong (5 January in UTC) and 99 later that day."""
    assert observations_of(golden, "overflow_day", "B7") == [
        ("B7", hkt(2026, 1, 5), 0.0),
        ("B7", hkt(2026, 1, 6), 1.0),
    ]
    # One row per bin-day with readings; no bin but B7 ever reached 100.
    overflow = golden.table.collect().filter(pl.col("field") == "overflow_day")
    assert overflow.filter(pl.col("value") == 1.0)["unit"].to_list() == ["B7"]
    assert overflow.select("unit", "timestamp").is_duplicated().sum() == 0
    assert observations_of(golden, "overflow_day", "B4") == [
        ("B4", hkt(2026, 1, 4), 0.0),
        ("B4", hkt(2026, 1, 5), 0.0),
    ]


def test_malformed_rows_are_quarantined_with_file_line_and_reason(tmp_path: Path) -> None:
    bins = [
        inventory_row("B1", "d1"),
        inventory_row("B2", "d2"),
        "B3,d3,R01,Central and Western,north,114.15,240",
    ]
    readings = [
        reading("d1", "2026-01-05T00:00:00+00:00", 40),  # 2
        reading("", "2026-01-05T00:00:00+00:00", 40),  # 3
        reading("d9", "2026-01-05T00:00:00+00:00", 40),  # 4
        reading("d1", "2026-01-05T02:00:00+00:00", "ERR"),  # 5
        reading("d1", "2026-01-05T04:00:00+00:00", 255),  # 6
        reading("d1", "2026-01-05 06:00", 40),  # 7
        reading("d1", "2026-01-05T08:00:00+00:00", 40) + ",extra",  # 8
        "",  # 9: blank, skipped but counted
        reading("d2", "2026-01-05T00:00:00+00:00", 40),  # 10
        reading("d3", "2026-01-05T00:00:00+00:00", 40),  # 11: its bin was quarantined
    ]
    log = [
        log_row("B1", "2026-01-05T06:05:00+08:00"),  # 2
        log_row("B99", "2026-01-05T06:05:00+08:00"),  # 3
        log_row("B2", "2026-01-05T06:05:00"),  # 4
        log_row("B2", "2026-01-05T06:05:00+08:00", weight="n/a"),  # 5
    ]
    obs = load_smart_bins(write_data(tmp_path, bins, readings, log))
    rows = obs.quarantine.select("file", "line", "reason").sort("file", "line").rows()
    assert rows == [
        ("bins.csv", 4, "lat is not a number"),
        ("collections.csv", 3, "bin is not in bins.csv"),
        (
            "collections.csv",
            4,
            "collected_at is not an ISO-8601 timestamp with offset, e.g. 2026-01-05T08:00:00+08:00",
        ),
        ("collections.csv", 5, "weight_kg is not a number"),
        ("readings.csv", 3, "dev_id is empty"),
        ("readings.csv", 4, "dev_id is not in bins.csv"),
        ("readings.csv", 5, "filllevel is not a number"),
        ("readings.csv", 6, "filllevel is outside 0 to 100"),
        ("readings.csv", 7, TIME_REASON),
        ("readings.csv", 8, "expected 7 fields, found 8"),
        ("readings.csv", 11, "dev_id is not in bins.csv"),
    ]
    raw_by_line = dict(
        obs.quarantine.filter(pl.col("file") == "readings.csv").select("line", "raw").rows()
    )
    assert raw_by_line[5] == readings[3]
    assert raw_by_line[8] == readings[6]

    health = obs.health()
    assert health["files"] == {
        "bins.csv": {"rows_read": 3, "rows_accepted": 2, "rows_quarantined": 1},
        "readings.csv": {"rows_read": 9, "rows_accepted": 2, "rows_quarantined": 7},
        "collections.csv": {"rows_read": 4, "rows_accepted": 1, "rows_quarantined": 3},
    }
    assert health["rows_read"] == 16
    assert health["rows_accepted"] == 5
    assert health["rows_quarantined"] == 11
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert health["quarantine_reasons"]["dev_id is not in bins.csv"] == 2
    assert sum(health["quarantine_reasons"].values()) == obs.quarantine.height
    assert [unit for unit, *_ in observations_of(obs, "fill_level")] == ["B1", "B2"]


def test_duplicate_reading_for_a_device_and_time_is_quarantined(tmp_path: Path) -> None:
    """Repeats of a (dev_id, instant) reading are quarantined and the first copy is kept.

    Instants are compared after parsing: ``08:00+08:00`` and ``00:00Z`` are the same reading.
    """
    readings = [
        reading("d1", "2026-01-05T00:00:00+00:00", 40),  # 2
        reading("d1", "2026-01-05T02:00:00+00:00", 45),  # 3
        reading("d1", "2026-01-05T02:00:00+00:00", 45),  # 4: repeats line 3
        reading("d1", "2026-01-05T04:00:00+00:00", 47),  # 5
        reading("d1", "2026-01-05T12:00:00+08:00", 47),  # 6: repeats line 5, other offset
        reading("d1", "2026-01-05T04:00:00Z", 47),  # 7: repeats line 5, Z suffix
    ]
    obs = load_smart_bins(write_data(tmp_path, [inventory_row("B1", "d1")], readings))
    reasons = dict(obs.quarantine.select("line", "reason").rows())
    repeat = "repeats an earlier reading for this dev_id and time"
    assert reasons == {4: repeat, 6: repeat, 7: repeat}
    fills = observations_of(obs, "fill_level")
    stamps = [stamp for _, stamp, _ in fills]
    assert stamps.count(hkt(2026, 1, 5, 10)) == 1
    assert stamps.count(hkt(2026, 1, 5, 12)) == 1
    files = obs.health()["files"]["readings.csv"]
    assert files["rows_read"] == 6
    assert files["rows_accepted"] == len(fills) == 3
    assert files["rows_quarantined"] == obs.quarantine.height


def test_unlogged_drop_after_a_long_gap_has_no_fill_at_collection(tmp_path: Path) -> None:
    """The drop still counts as a collection, but a two-day-old reading is not its fill."""
    readings = [
        reading("d1", "2026-01-08T00:00:00+00:00", 70),
        reading("d1", "2026-01-10T00:00:00+00:00", 5),
    ]
    obs = load_smart_bins(write_data(tmp_path, [inventory_row("B1", "d1")], readings))
    assert [stamp for _, stamp, _ in observations_of(obs, "collection")] == [hkt(2026, 1, 10, 8)]
    assert observations_of(obs, "fill_at_collection") == []


def test_missing_inventory_file_is_a_data_error(tmp_path: Path) -> None:
    from livinglab.errors import DataError

    write_data(tmp_path, GOLDEN_BINS, GOLDEN_READINGS, GOLDEN_LOG)
    (tmp_path / "bins.csv").unlink()
    with pytest.raises(DataError, match=r"bins\.csv"):
        load_smart_bins(tmp_path)


def test_readings_without_filllevel_column_is_a_data_error(tmp_path: Path) -> None:
    from livinglab.errors import DataError

    write_data(tmp_path, GOLDEN_BINS, [], GOLDEN_LOG)
    (tmp_path / "readings.csv").write_text("dev_id,time,distance,temperature,battery,lat_long\n")
    with pytest.raises(DataError, match="filllevel"):
        load_smart_bins(tmp_path)


# Weekly scenario for one bin, W1 (weeks start on Monday in Hong Kong time):
#   week of 5 Jan: a logged collection on Sunday 11 Jan at 23:30 HKT;
#   week of 12 Jan: a logged collection on Monday 12 Jan at 00:30 HKT (still Sunday in UTC);
#   week of 19 Jan: readings but no collection;
#   week of 26 Jan: nothing at all (sensor offline, no log);
#   week of 2 Feb: an unlogged drop.
WEEKLY_READINGS = [
    reading("w1", "2026-01-05T00:00:00+00:00", 50),
    reading("w1", "2026-01-11T14:00:00+00:00", 80),
    reading("w1", "2026-01-11T16:00:00+00:00", 5),
    reading("w1", "2026-01-14T00:00:00+00:00", 40),
    reading("w1", "2026-01-20T00:00:00+00:00", 30),
    reading("w1", "2026-01-22T00:00:00+00:00", 60),
    reading("w1", "2026-02-03T00:00:00+00:00", 70),
    reading("w1", "2026-02-04T00:00:00+00:00", 10),
]
WEEKLY_LOG = [
    log_row("W1", "2026-01-11T23:30:00+08:00"),
    log_row("W1", "2026-01-12T00:30:00+08:00"),
]


def test_collections_per_bin_week_use_monday_weeks_in_hong_kong(tmp_path: Path) -> None:
    """Zero for a week with readings but no collection; no row for a week with no data at all."""
    obs = load_smart_bins(
        write_data(tmp_path, [inventory_row("W1", "w1")], WEEKLY_READINGS, WEEKLY_LOG)
    )
    values = metric_values(obs.table, COLLECTIONS).collect()
    assert values.rows() == [
        ("W1", date(2026, 1, 5), date(2026, 1, 12), 1.0),
        ("W1", date(2026, 1, 12), date(2026, 1, 19), 1.0),
        ("W1", date(2026, 1, 19), date(2026, 1, 26), 0.0),
        ("W1", date(2026, 2, 2), date(2026, 2, 9), 1.0),
    ]
    assert date(2026, 1, 26) not in values["period_start"].to_list()


def test_overflow_rate_is_per_1000_bin_days_with_readings(tmp_path: Path) -> None:
    """One of the two bin-days with readings in the week is full: 500 per 1,000 bin-days."""
    readings = [
        reading("w1", "2026-01-05T00:00:00+00:00", 60),
        reading("w1", "2026-01-06T00:00:00+00:00", 100),
    ]
    obs = load_smart_bins(write_data(tmp_path, [inventory_row("W1", "w1")], readings))
    values = metric_values(obs.table, OVERFLOW).collect()
    assert values.rows() == [("W1", date(2026, 1, 5), date(2026, 1, 12), 500.0)]


GARBAGE_CHARACTERS = st.one_of(
    st.sampled_from(list(',,,""\'\r\t 0123456789.-+:TZde\ufffd')),
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
)
FIELD_VALUES = st.sampled_from(
    ["d1", "d8", "d99", "", "2026-01-05T03:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-13-45",
     "0", "100", "30.5", "255", "-1", "ERR", "nan", "inf", '"22.3, 114.2"', '"', '""', " 7 "]
)  # fmt: skip
# Lines shaped like readings (seven-ish fields from plausible and broken values), free text
# with many commas and quotes, and arbitrary bytes.
GARBAGE_LINE = st.one_of(
    st.lists(FIELD_VALUES, min_size=5, max_size=9).map(lambda fields: ",".join(fields).encode()),
    st.text(alphabet=GARBAGE_CHARACTERS, max_size=60).map(str.encode),
    st.binary(max_size=40),
)
# Unicode White_Space, which the reader strips before skipping blank lines (Python's own
# str.strip would also strip the separators \x1c to \x1f).
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
WHITESPACE += "\u2028\u2029\u202f\u205f\u3000"


def count_lines(raw: bytes) -> int:
    """Non-blank lines after the header, counted the way the reader is documented to count them."""
    text = raw.decode("utf-8-sig", errors="replace")
    lines = [line.removesuffix("\r") for line in text.split("\n")[1:]]
    return sum(1 for line in lines if line.strip(WHITESPACE))


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.lists(GARBAGE_LINE, max_size=8))
def test_garbage_lines_never_crash_the_adapter(tmp_path: Path, garbage: list[bytes]) -> None:
    """Arbitrary text or bytes after valid readings are quarantined or read, and counts add up."""
    directory = write_data(tmp_path / "data", GOLDEN_BINS, GOLDEN_READINGS, GOLDEN_LOG)
    path = directory / "readings.csv"
    raw = path.read_bytes() + b"\n".join(garbage) + b"\n"
    path.write_bytes(raw)

    obs = load_smart_bins(directory)

    health = obs.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    for file, counts in health["files"].items():
        in_quarantine = obs.quarantine.filter(pl.col("file") == file).height
        assert counts["rows_quarantined"] == in_quarantine
        assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_quarantined"]
    readings = health["files"]["readings.csv"]
    assert readings["rows_read"] == count_lines(raw)
    assert readings["rows_accepted"] == len(observations_of(obs, "fill_level"))
    assert health["files"]["collections.csv"]["rows_accepted"] == len(GOLDEN_LOG)
