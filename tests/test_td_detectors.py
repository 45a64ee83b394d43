"""Tests for the shared reader of TD's detector feed (``rawSpeedVol``) and location list.

Documents are written inline in the feed's layout (FEEDS.md §2c: ``raw_speed_volume_list/date,
periods/period{period_from, period_to, detectors/detector{detector_id, direction,
lanes/lane{lane_id, speed, occupancy, volume, s.d., valid}}}``), one quirk each; the pilots'
golden files exercise the same reader through their adapters.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livinglab.errors import DataError
from pilots.td_detectors import (
    BROKEN,
    LOCATION_HEADER,
    NOT_A_DOCUMENT,
    LaneLimits,
    Snapshot,
    detector_periods,
    parse_snapshot,
    read_lanes,
    read_locations,
    split_lanes,
)
from tests.cli_helpers import hkt

LIMITS = LaneLimits(max_volume=100, max_speed=130)


def lane(
    lane_id: str = "Fast Lane",
    speed: str = "52",
    occupancy: str = "9",
    volume: str = "6",
    valid: str = "Y",
) -> str:
    return (
        f"<lane><lane_id>{lane_id}</lane_id><speed>{speed}</speed><occupancy>{occupancy}"
        f"</occupancy><volume>{volume}</volume><s.d.>5.7</s.d.><valid>{valid}</valid></lane>"
    )


def detector(detector_id: str, *lanes: str) -> str:
    return (
        f"<detector><detector_id>{detector_id}</detector_id><direction>South East</direction>"
        f"<lanes>{''.join(lanes)}</lanes></detector>"
    )


def period(start: str, end: str, *detectors: str) -> str:
    return (
        f"<period><period_from>{start}</period_from><period_to>{end}</period_to>"
        f"<detectors>{''.join(detectors)}</detectors></period>"
    )


def document(day: str, *periods: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<raw_speed_volume_list>'
        f"<date>{day}</date><periods>{''.join(periods)}</periods></raw_speed_volume_list>\n"
    ).encode()


MORNING = document(
    "2026-05-05",
    period(
        "08:30:00",
        "08:30:30",
        detector(
            "AID01102", lane("Fast Lane", "60", volume="6"), lane("Slow Lane", "50", "9", "4")
        ),
        detector("AID16105", lane("Fast Lane", "70", "0", "0"), lane("Slow Lane", "40", "-1", "5")),
    ),
    period("08:30:30", "08:31:00", detector("AID01102", lane("Fast Lane", "55", "9", "7", "N"))),
)


def lanes_of(*documents: bytes) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Accepted lanes, quarantined lanes and broken documents of one archive file."""
    read = read_lanes(
        (("archive.zip", parse_snapshot(f"s{i}.xml", data)) for i, data in enumerate(documents)),
        LIMITS,
    )
    accepted, rejected = split_lanes(read.readings)
    assert read.rows_read == {"archive.zip": accepted.height + rejected.height + read.broken.height}
    return accepted, rejected, read.broken


def test_a_document_gives_its_lanes_with_their_period_and_detector() -> None:
    snapshot = parse_snapshot("s.xml", MORNING)
    assert snapshot.problem is None
    assert snapshot.lanes[0] == (
        "2026-05-05",
        "08:30:00",
        "08:30:30",
        "AID01102",
        "South East",
        "Fast Lane",
        "60",
        "9",
        "6",
        "5.7",
        "Y",
    )
    assert [(lane[1], lane[3], lane[5]) for lane in snapshot.lanes] == [
        ("08:30:00", "AID01102", "Fast Lane"),
        ("08:30:00", "AID01102", "Slow Lane"),
        ("08:30:00", "AID16105", "Fast Lane"),
        ("08:30:00", "AID16105", "Slow Lane"),
        ("08:30:30", "AID01102", "Fast Lane"),
    ]


def test_periods_of_the_first_minute_after_midnight_are_moved_to_their_day() -> None:
    # TD dates the 00:00:00 and 00:00:30 periods with the day that just ended.
    late = document(
        "2026-05-04",
        period("23:59:30", "00:00:00", detector("AID01102", lane())),
        period("00:00:00", "00:00:30", detector("AID01102", lane())),
        period("00:00:30", "00:01:00", detector("AID01102", lane())),
    )
    accepted, _, _ = lanes_of(late, document("2026-05-05", period("00:01:00", "00:01:30")))
    assert accepted.select("timestamp", "redated").rows() == [
        (hkt(2026, 5, 4, 23, 59, 30), False),
        (hkt(2026, 5, 5, 0, 0, 0), True),
        (hkt(2026, 5, 5, 0, 0, 30), True),
    ]


def test_speed_at_zero_volume_is_the_limit_placeholder_not_a_speed() -> None:
    accepted, _, _ = lanes_of(MORNING)
    placeholder = accepted.filter(
        pl.col("detector_id") == "AID16105", pl.col("lane_id") == "Fast Lane"
    )
    assert placeholder.select("volume", "speed", "placeholder").row(0) == (0, None, True)
    assert accepted["speed"].to_list()[:2] == [60.0, 50.0]
    assert accepted["placeholder"].sum() == 1


def test_offline_lanes_are_kept_without_numbers_whatever_they_say() -> None:
    offline = document(
        "2026-05-05",
        period(
            "08:30:00", "08:30:30", detector("AID01102", lane(speed="n/a", volume="-3", valid="N"))
        ),
    )
    accepted, rejected, _ = lanes_of(offline)
    assert rejected.height == 0
    assert accepted.select("online", "volume", "speed", "placeholder").row(0) == (
        False,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("damaged", "reason"),
    [
        (lane(valid="U"), "valid is not Y or N"),
        (lane(volume="abc"), "volume is not a whole number from 0 to 100"),
        (lane(volume="101"), "volume is not a whole number from 0 to 100"),
        (lane(speed="131"), "speed is not a whole number from 0 to 130 km/h"),
        (lane(speed="52.5"), "speed is not a whole number from 0 to 130 km/h"),
        (lane(speed="0", volume="3"), "speed is 0 while vehicles passed (volume above 0)"),
        (lane(occupancy="-2"), "occupancy is not a whole number from -1 (unknown) to 100"),
        (lane(lane_id=" "), "lane_id is empty"),
    ],
)
def test_a_lane_that_breaks_the_format_is_quarantined_with_its_reason(
    damaged: str, reason: str
) -> None:
    data = document(
        "2026-05-05", period("08:30:00", "08:30:30", detector("AID01102", lane(), damaged))
    )
    accepted, rejected, _ = lanes_of(data)
    assert accepted.height == 1  # occupancy -1 (unknown) in the good lane would be fine too
    assert rejected.select("line", "reason").rows() == [(2, reason)]


@pytest.mark.parametrize(
    ("day", "start", "detector_id", "reason"),
    [
        ("2026-05-32", "08:30:00", "AID01102", "date is not a date like 2026-03-02"),
        ("2026-05-05", "8.30", "AID01102", "period_from is not a time like 07:53:00"),
        ("2026-05-05", "08:30:00", "", "detector_id is empty"),
    ],
)
def test_a_lane_without_a_time_or_detector_is_quarantined(
    day: str, start: str, detector_id: str, reason: str
) -> None:
    data = document(day, period(start, "08:30:30", detector(detector_id, lane())))
    _, rejected, _ = lanes_of(data)
    assert rejected.select("line", "reason").rows() == [(1, reason)]


def test_the_quarantine_keeps_the_lane_as_text_named_by_its_snapshot() -> None:
    data = document(
        "2026-05-05", period("08:30:00", "08:30:30", detector("AID01102", lane(valid="U")))
    )
    _, rejected, _ = lanes_of(data)
    assert rejected.select("file", "raw").row(0) == (
        "archive.zip",
        "s0.xml: 2026-05-05 08:30:00-08:30:30 AID01102 South East | Fast Lane: speed=52 "
        "occupancy=9 volume=6 s.d.=5.7 valid=U",
    )


def test_a_document_cut_short_keeps_the_lanes_before_the_break() -> None:
    cut = MORNING[: MORNING.index(b"<lane><lane_id>Slow Lane</lane_id><speed>40")]
    accepted, rejected, broken = lanes_of(MORNING, cut)
    # Lanes are numbered through the archive file: five in the first snapshot, three here.
    assert accepted["snapshot"].to_list() == ["s0.xml"] * 5 + ["s1.xml"] * 3
    assert rejected.height == 0
    assert broken.select("file", "line", "reason").rows() == [("archive.zip", 9, BROKEN)]
    assert broken["raw"][0].startswith("s1.xml (no element found: line 2")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01garbage", BROKEN),
        (b'<?xml version="1.0" encoding="UT-F8"?><raw_speed_volume_list/>', BROKEN),
        (b"<html><body>503 Service Unavailable</body></html>", NOT_A_DOCUMENT),
    ],
)
def test_a_document_that_is_not_one_is_a_single_quarantine_entry(data: bytes, reason: str) -> None:
    accepted, _, broken = lanes_of(data)
    assert accepted.height == 0
    assert broken.select("line", "reason").rows() == [(1, reason)]


def test_an_empty_list_of_detectors_is_no_reading_and_no_fault() -> None:
    accepted, rejected, broken = lanes_of(document("2026-05-05"))
    assert accepted.height == rejected.height == broken.height == 0


def test_a_snapshot_the_archive_cannot_give_counts_as_one_row() -> None:
    read = read_lanes(
        [
            ("day.zip", Snapshot("a.xml", problem=("cannot be unzipped", "a.xml"))),
            ("day.zip", parse_snapshot("b.xml", MORNING)),
        ],
        LIMITS,
    )
    assert read.rows_read == {"day.zip": 6}
    assert read.broken.select("line", "reason", "raw").rows() == [
        (1, "cannot be unzipped", "a.xml")
    ]
    assert read.readings["_line"].to_list() == [2, 3, 4, 5, 6]


@given(st.integers(0, len(MORNING)))
def test_truncating_a_document_anywhere_keeps_a_prefix_of_its_lanes(at: int) -> None:
    whole = parse_snapshot("s.xml", MORNING)
    cut = parse_snapshot("s.xml", MORNING[:at])
    assert cut.lanes == whole.lanes[: len(cut.lanes)]
    assert (cut.problem is None) == (at >= len(MORNING) - 1)  # all but the final line break


def test_detector_periods_weight_speeds_by_volume_over_measured_lanes() -> None:
    accepted, _, _ = lanes_of(MORNING)
    periods = detector_periods(accepted)
    assert periods.rows() == [
        # (60 x 6 + 50 x 4) / 10 = 56
        ("AID01102", hkt(2026, 5, 5, 8, 30), True, 10.0, 56.0),
        ("AID01102", hkt(2026, 5, 5, 8, 30, 30), False, None, None),  # offline
        ("AID16105", hkt(2026, 5, 5, 8, 30), True, 5.0, 40.0),  # the 70 km/h is a placeholder
    ]


def write_locations(path: Path, separator: str, encoding: str) -> Path:
    rows = [
        LOCATION_HEADER,
        ("AID20011", "Kwun Tong", "Kwun Tong Road", "觀塘道", "观塘道", "841093.1", "818740.6",
         "22.312050", "114.220110", "West", "270"),
        ("AID20011", "Kwun Tong", "Kwun Tong Road", "觀塘道", "观塘道", "841093.1", "818740.6",
         "22.312050", "114.220110", "West", "270"),
        ("AID20099", "Yau Tsim Mong", "Canton Road", "廣東道", "广东道", "835000.0", "817000.0",
         "not known", "114.168900", "North", "0"),
    ]  # fmt: skip
    lines = [separator.join(f"{value} " for value in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize(
    ("separator", "encoding", "found"),
    [
        ("\t", "utf-16", "UTF-16, tab"),
        (",", "utf-8-sig", "UTF-8 with BOM, comma"),
        (",", "utf-8", "UTF-8, comma"),
    ],
)
def test_location_list_is_read_in_either_published_encoding(
    tmp_path: Path, separator: str, encoding: str, found: str
) -> None:
    locations = read_locations(write_locations(tmp_path / "info.csv", separator, encoding))
    assert locations.encoding == found
    assert locations.detectors.rows() == [("AID20011", "Kwun Tong", "Kwun Tong Road", "West")]
    assert locations.quarantine.select("file", "line", "reason").rows() == [
        ("info.csv", 3, "AID_ID_Number appears more than once"),
        ("info.csv", 4, "Latitude is not a number"),
    ]
    assert (locations.health.rows_read, locations.health.rows_accepted) == (3, 1)


def test_location_lines_that_cannot_be_read_are_quarantined(tmp_path: Path) -> None:
    path = write_locations(tmp_path / "info.csv", ",", "utf-8-sig")
    lines = path.read_bytes().split(b"\r\n")
    lines[1] = lines[1].replace(b"Kwun Tong ,", b"Kwun\rTong ,", 1)  # a stray carriage return
    lines[2] = lines[2] + b",extra"
    lines[3] = lines[3].replace(b"Canton", b"Cant\xffon")
    path.write_bytes(b"\r\n".join(lines))
    locations = read_locations(path)
    assert locations.detectors.height == 0
    assert locations.quarantine.select("line", "reason").rows() == [
        (2, "the line cannot be split into fields (new-line character seen in unquoted field - "
         "do you need to open the file in universal-newline mode?)"),
        (3, "expected 11 fields, found 12"),
        (4, "not valid UTF-8"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "info.csv: file not found"),
        (b"\xef\xbb\xbf\r\n", "info.csv: the file is empty"),
        (b"AID_ID_Number,District,Road_EN\n", "info.csv, line 1: missing column(s) Latitude"),
    ],
)
def test_a_location_list_without_its_columns_is_a_data_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "info.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(message)):
        read_locations(path)
