"""Tests for the Kowloon East adapter on small hand-written files in the feeds' real formats.

``tests/golden/kowloon_east`` holds two areas (Kowloon East and Mong Kok) with two corridor
segments, two car parks and one detector each, and one snapshot per quirk:

- segments: 08:31 (Mong Kok's second segment offline, one outside every area, one without id),
  the same snapshot archived again at 08:40, 13:01 (off-peak; one speed ``abc``) and 18:31 (both
  corridors complete; an empty, an out-of-range speed and an unknown ``valid`` flag);
- detectors: the 00:00 file dated the day before, a morning file with a placeholder speed
  (volume 0), ``occupancy = -1``, an offline lane, a lane reading 0 km/h while vehicles passed,
  one at 141 km/h and a detector missing from the location list;
- car parks: a monthly entry before the hourly one, full and free counts, type B flags, a closed
  (type C) car park, an unknown (-1) and a stale reading, and one snapshot of damaged records;
- the lookup and the location list with a byte-order mark and trailing spaces.

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livinglab.errors import DataError
from pilots.aggregation import metric_values
from pilots.contract import OBSERVATION_SCHEMA, Observations
from pilots.kowloon_east.adapter import load_kowloon_east
from pilots.kowloon_east.metrics import CARPARK_FULL, JOURNEY_TIME, PEAK_SPEED
from tests.cli_helpers import FUZZ, Damage, damaged_copy, hkt

GOLDEN = Path(__file__).parent / "golden" / "kowloon_east"
KE, MK = "Kowloon East", "Mong Kok"
SEGMENTS = "irnAvgSpeed/*-irnAvgSpeed-all.xml (4 snapshots)"
VACANCY = "vacancy/vacancy_YYYYMMDD-HH.json (3 snapshots)"
DETECTORS = "rawSpeedVol/*-rawSpeedVol-all.xml (2 files)"


@pytest.fixture(scope="module")
def golden() -> Observations:
    return load_kowloon_east(GOLDEN)


def values(obs: Observations, field: str, unit: str) -> list[tuple[datetime, float]]:
    table = obs.table.collect().filter(pl.col("field") == field, pl.col("unit") == unit)
    return [
        (t, round(v, 6)) for t, v in table.sort("timestamp").select("timestamp", "value").rows()
    ]


def copy_golden(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(GOLDEN, data)
    return data


def test_observations_follow_the_schema_in_hong_kong_time(golden: Observations) -> None:
    table = golden.table.collect()
    assert table.schema == OBSERVATION_SCHEMA
    assert set(table["unit"]) == {KE, MK}


def test_corridor_speed_is_length_over_travel_time_when_every_segment_reports(
    golden: Observations,
) -> None:
    # 08:31: 0.8 km at 40 and 1.2 km at 30 km/h take 0.06 h, so 2 km / 0.06 h = 33.33 km/h.
    # 18:31: 0.8/36 + 1.2/24 = 0.07222 h -> 27.69 km/h. Mong Kok at 08:31 has an offline segment.
    assert values(golden, "peak_speed", KE) == [
        (hkt(2026, 5, 5, 8, 31), 33.333333),
        (hkt(2026, 5, 5, 18, 31), 27.692308),
    ]
    # 18:31: 0.6/25 + 0.9/30 = 0.054 h for 1.5 km.
    assert values(golden, "peak_speed", MK) == [(hkt(2026, 5, 5, 18, 31), 27.777778)]


def test_journey_time_is_minutes_over_the_corridor_in_the_peaks_only(golden: Observations) -> None:
    assert values(golden, "journey_time", KE) == [
        (hkt(2026, 5, 5, 8, 31), 3.6),
        (hkt(2026, 5, 5, 18, 31), 4.333333),
    ]
    assert values(golden, "journey_time", MK) == [(hkt(2026, 5, 5, 18, 31), 3.24)]


def test_off_peak_snapshot_is_kept_apart(golden: Observations) -> None:
    # 13:01: 0.8/50 + 1.2/40 = 0.046 h; Mong Kok's second speed reads "abc" (quarantined).
    assert values(golden, "offpeak_speed", KE) == [(hkt(2026, 5, 5, 13, 1), 43.478261)]
    assert values(golden, "offpeak_speed", MK) == []


def test_car_park_hours_full_free_closed_unknown_and_stale(golden: Observations) -> None:
    noon, evening, next_noon = hkt(2026, 5, 5, 12), hkt(2026, 5, 5, 19), hkt(2026, 5, 6, 12)
    # 101 full at noon (its hourly entry, not the monthly one listed first), 102 with 50 free;
    # in the evening 101 has 12 free and 102's reading is four hours old (stale).
    assert values(golden, "carpark_full", KE) == [
        (noon, 1.0),
        (noon, 0.0),
        (evening, 0.0),
        (next_noon, 0.0),
    ]
    assert [v for _, v in values(golden, "carpark_hour", KE)] == [1.0] * 4
    # Occupancy from counts and capacity: 400 full, 150 of 200, 388 of 400, 360 of 400.
    assert sorted(v for _, v in values(golden, "carpark_occupancy", KE)) == [
        75.0,
        90.0,
        97.0,
        100.0,
    ]
    # Mong Kok: 103 flags spaces (B = 1) at noon, full (B = 0) in the evening; 104 is closed.
    assert values(golden, "carpark_full", MK) == [(noon, 0.0), (evening, 1.0)]
    assert values(golden, "carpark_occupancy", MK) == []  # flags carry no count


def test_detector_periods_use_volume_weighted_speeds_without_placeholders(
    golden: Observations,
) -> None:
    # 08:30:00: (60 x 6 + 50 x 4) / 10 = 56; 08:30:30: the fast lane is offline, the middle lane
    # is quarantined, the slow lane reads 48 with 4 vehicles.
    assert values(golden, "detector_speed", KE)[1:] == [
        (hkt(2026, 5, 5, 8, 30), 56.0),
        (hkt(2026, 5, 5, 8, 30, 30), 48.0),
    ]
    # Mong Kok's fast lane at 08:30 saw no vehicle: its 70 km/h is the speed limit, not a reading.
    assert values(golden, "detector_speed", MK) == [
        (hkt(2026, 5, 5, 8, 30), 40.0),
        (hkt(2026, 5, 5, 8, 30, 30), 35.0),
    ]
    assert [v for _, v in values(golden, "detector_volume", MK)] == [5.0, 7.0]


def test_midnight_periods_dated_the_day_before_are_moved_to_their_day(golden: Observations) -> None:
    # The file archived at 00:07 on 5 May says <date>2026-05-04</date> for 00:00 and 00:00:30.
    assert values(golden, "detector_volume", KE)[:2] == [
        (hkt(2026, 5, 5, 0, 0), 1.0),
        (hkt(2026, 5, 5, 0, 0, 30), 0.0),
    ]
    assert values(golden, "detector_speed", KE)[0] == (hkt(2026, 5, 5, 0, 0), 62.0)
    assert golden.checks["detectors"]["midnight_periods_redated"] == 2


def test_units_are_areas_with_their_corridors_and_car_parks(golden: Observations) -> None:
    units = golden.units.select(
        "unit",
        "area",
        "district",
        "corridor_segments",
        "corridor_km",
        "car_parks",
        "private_car_spaces",
        "detectors",
    ).rows()
    # Trailing spaces and the byte-order mark of the lookup are gone.
    assert units == [
        (KE, KE, "Kwun Tong", 2, 2.0, 2, 600, 1),
        (MK, MK, "Yau Tsim Mong", 2, 1.5, 2, 550, 1),
    ]


def test_damaged_records_are_quarantined_with_file_index_and_reason(golden: Observations) -> None:
    rows = golden.quarantine.select("file", "line", "reason").rows()
    assert rows == [
        ("area_lookup.csv", 12, "feature_type is not one of segment, carpark, detector"),
        ("area_lookup.csv", 13, "feature is already mapped to an area on an earlier line"),
        ("area_lookup.csv", 14, "length_m is empty"),
        ("carpark_info.json", 6, "latitude is empty"),
        ("irnAvgSpeed/20260505-0838-irnAvgSpeed-all.xml", 6, "segment_id is empty"),
        *[
            (
                "irnAvgSpeed/20260505-0840-irnAvgSpeed-all.xml",
                i,
                "repeats an earlier reading for this segment and time",
            )
            for i in range(1, 6)
        ],
        ("irnAvgSpeed/20260505-0840-irnAvgSpeed-all.xml", 6, "segment_id is empty"),
        ("irnAvgSpeed/20260505-1308-irnAvgSpeed-all.xml", 4, "speed is not a number"),
        ("irnAvgSpeed/20260505-1838-irnAvgSpeed-all.xml", 5, "speed is empty on an online segment"),
        ("irnAvgSpeed/20260505-1838-irnAvgSpeed-all.xml", 6, "speed is outside 0 to 121 km/h"),
        (
            "irnAvgSpeed/20260505-1838-irnAvgSpeed-all.xml",
            7,
            "valid is not Y (online) or N (offline)",
        ),
        ("vacancy/vacancy_20260506-12.json", 2, "repeats this car park in the same snapshot"),
        (
            "vacancy/vacancy_20260506-12.json",
            3,
            "park_Id is empty (or the record is not a JSON object)",
        ),
        ("vacancy/vacancy_20260506-12.json", 4, "park_Id is not in carpark_info.json"),
        (
            "vacancy/vacancy_20260506-12.json",
            5,
            "privateCar vacancy_type is not A (count), B (flag) or C (closed)",
        ),
        (
            "vacancy/vacancy_20260506-12.json",
            6,
            "privateCar vacancy is not a whole number of spaces (-1 = unknown)",
        ),
        (
            "vacancy/vacancy_20260506-12.json",
            7,
            "privateCar lastupdate is not a time like 2026-05-05 12:00:00",
        ),
        (
            "rawSpeedVol/20260505-0838-rawSpeedVol-all.xml",
            7,
            "speed is 0 while vehicles passed (volume above 0)",
        ),
        (
            "rawSpeedVol/20260505-0838-rawSpeedVol-all.xml",
            9,
            "speed is not a whole number from 0 to 130 km/h",
        ),
        (
            "rawSpeedVol/20260505-0838-rawSpeedVol-all.xml",
            11,
            "detector_id is not in traffic_speed_volume_occ_info.csv",
        ),
    ]


def test_quarantine_keeps_the_raw_record(golden: Observations) -> None:
    raw = {(file, line): text for file, line, _, text in golden.quarantine.rows()}
    assert raw["vacancy/vacancy_20260506-12.json", 6] == (
        '{"park_Id": "103", "privateCar": [{"vacancy_type": "A", "vacancy": "N/A", '
        '"category": "HOURLY", "lastupdate": "2026-05-06 11:59:00"}]}'
    )
    assert raw["irnAvgSpeed/20260505-1308-irnAvgSpeed-all.xml", 4] == (
        "2026-05-05 13:01:00 <segment><segment_id>52121</segment_id><speed>abc</speed>"
        "<valid>Y</valid></segment>"
    )


def assert_counts_add_up(obs: Observations) -> None:
    """Per feed: read = accepted + quarantined, and the quarantine holds exactly those rows.

    An archive's quarantine rows name their file inside the archive's directory.
    """
    files = obs.quarantine["file"]
    for feed in obs.files:
        assert feed.rows_read >= feed.rows_accepted >= 0
        archive = feed.file.split("/")[0] + "/" if "/" in feed.file else None
        mine = files.str.starts_with(archive) if archive else files == feed.file
        assert int(mine.sum()) == feed.rows_quarantined, feed.file
    health = obs.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert health["rows_quarantined"] == obs.quarantine.height


def test_counts_add_up_per_feed(golden: Observations) -> None:
    files = {f.file: (f.rows_read, f.rows_accepted, f.rows_quarantined) for f in golden.files}
    assert files == {
        "area_lookup.csv": (13, 10, 3),
        "carpark_info.json": (6, 5, 1),
        SEGMENTS: (23, 12, 11),
        VACANCY: (18, 12, 6),
        "traffic_speed_volume_occ_info.csv": (3, 3, 0),
        DETECTORS: (15, 12, 3),
    }
    assert_counts_add_up(golden)


def test_checks_count_each_quirk(golden: Observations) -> None:
    parks = golden.checks["car_parks"]
    assert parks["opening_status"] == {"OPEN": 3, "unknown": 1, "CLOSED": 1}
    assert parks["opening_status_respelled"] == 1  # "open"
    assert (parks["unknown_vacancy"], parks["closed"], parks["stale"]) == (1, 2, 1)
    assert (parks["flag_only_type_b"], parks["no_hourly_private_car_entry"]) == (2, 1)
    assert parks["readings_outside_areas"] == 2  # car park 105 in Tung Chung
    segments = golden.checks["segments"]
    assert (segments["offline_readings"], segments["readings_outside_areas"]) == (1, 1)
    assert segments["area_snapshots_incomplete"] == 2
    detectors = golden.checks["detectors"]
    assert (detectors["offline_lanes"], detectors["placeholder_speeds_dropped"]) == (1, 4)
    assert detectors["lane_readings_outside_areas"] == 1


def test_operator_phone_numbers_never_leave_the_adapter(golden: Observations) -> None:
    text = " ".join(
        [
            golden.table.collect().write_csv(),
            golden.units.write_csv(),
            golden.quarantine.write_csv(),
        ]
    )
    for number in ("27123456", "23891234", "23961111", "29876543"):
        assert number not in text
    assert "contactNo" not in text


def test_a_truncated_info_document_keeps_phone_numbers_out_of_the_quarantine(
    tmp_path: Path,
) -> None:
    data = copy_golden(tmp_path)
    info = (data / "carpark_info.json").read_text()
    (data / "carpark_info.json").write_text(info[: info.index("29876543") + 4])
    obs = load_kowloon_east(data)
    assert obs.units.height == 2  # the car parks before the break are read
    tail = obs.quarantine.filter(pl.col("file") == "carpark_info.json")["raw"].to_list()
    assert tail
    assert not any("2987" in raw for raw in tail)


def test_expected_feeds_follow_the_archive_sampling(golden: Observations) -> None:
    expected = {feed.field: feed.per_day for feed in golden.expected}
    # Two peak snapshots on 5 May; vacancy 2 hours then 1 (median 1.5) x 2 car parks;
    # four detector periods on 5 May x 1 detector.
    assert expected == {"peak_speed": 2.0, "carpark_hour": 3.0, "detector_volume": 4.0}


def test_metrics_aggregate_to_weeks(golden: Observations) -> None:
    speed = metric_values(golden.table, PEAK_SPEED).collect()
    assert speed.filter(pl.col("unit") == KE)["value"].to_list() == pytest.approx(
        [(33.333333 + 27.692308) / 2]
    )
    full = metric_values(golden.table, CARPARK_FULL).collect()
    # Kowloon East: 1 full hour of 4 reporting; Mong Kok: 1 of 2.
    assert full.sort("unit")["value"].to_list() == pytest.approx([25.0, 50.0])
    journey = metric_values(golden.table, JOURNEY_TIME).collect().sort("unit")
    assert journey["value"].to_list() == pytest.approx([(3.6 + 4.333333) / 2, 3.24])


def test_truncated_and_garbage_snapshots_keep_what_they_can(tmp_path: Path) -> None:
    data = copy_golden(tmp_path)
    whole = (data / "irnAvgSpeed" / "20260505-1838-irnAvgSpeed-all.xml").read_text()
    cut = whole.index("<segment><segment_id>52121")
    (data / "irnAvgSpeed" / "20260505-1838-irnAvgSpeed-all.xml").write_text(whole[: cut + 30])
    (data / "irnAvgSpeed" / "20260506-0838-irnAvgSpeed-all.xml").write_text(
        "<html><body>503 Service Unavailable</body></html>"
    )
    vacancy = (data / "vacancy" / "vacancy_20260505-19.json").read_text()
    (data / "vacancy" / "vacancy_20260505-19.json").write_text(vacancy[: vacancy.index('"103"')])
    (data / "rawSpeedVol" / "20260506-0838-rawSpeedVol-all.xml").write_bytes(b"\x00\x01garbage")

    obs = load_kowloon_east(data)
    reasons = obs.quarantine.filter(pl.col("reason").str.contains("breaks off|not an"))
    assert sorted(reasons.select("file", "line", "reason").rows()) == [
        (
            "irnAvgSpeed/20260505-1838-irnAvgSpeed-all.xml",
            4,
            "the document breaks off or is not well-formed XML (truncated or damaged)",
        ),
        (
            "irnAvgSpeed/20260506-0838-irnAvgSpeed-all.xml",
            0,
            "not an irnAvgSpeed document: no <segment> inside <segment_speed_list>",
        ),
        (
            "rawSpeedVol/20260506-0838-rawSpeedVol-all.xml",
            1,
            "the document breaks off or is not well-formed XML (truncated or damaged)",
        ),
        (
            "vacancy/vacancy_20260505-19.json",
            3,
            "the document breaks off mid-record (truncated or not valid JSON)",
        ),
    ]
    # The segments before the cut still count; Mong Kok's 18:31 corridor is now incomplete.
    assert values(obs, "peak_speed", MK) == []
    assert values(obs, "peak_speed", KE)[-1] == (hkt(2026, 5, 5, 18, 31), 27.692308)
    # 101 and 102 came before the break in the evening snapshot; 102 is stale, 101 is read.
    assert (hkt(2026, 5, 5, 19), 0.0) in values(obs, "carpark_full", KE)
    assert_counts_add_up(obs)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("area_lookup.csv", "area_lookup.csv"),
        ("carpark_info.json", "carpark_info.json"),
        ("irnAvgSpeed", "irnAvgSpeed"),
        ("traffic_speed_volume_occ_info.csv", "traffic_speed_volume_occ_info.csv"),
    ],
)
def test_missing_required_file_is_a_data_error_naming_it(
    tmp_path: Path, missing: str, named: str
) -> None:
    data = copy_golden(tmp_path)
    target = data / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DataError, match=named):
        load_kowloon_east(data)


def test_missing_optional_archives_are_noted(tmp_path: Path) -> None:
    data = copy_golden(tmp_path)
    shutil.rmtree(data / "vacancy")
    shutil.rmtree(data / "rawSpeedVol")
    (data / "traffic_speed_volume_occ_info.csv").unlink()  # only needed with the detectors
    obs = load_kowloon_east(data)
    assert len(obs.checks["feeds_missing"]) == 2
    fields = set(obs.table.collect()["field"])
    assert fields == {"peak_speed", "offpeak_speed", "journey_time"}


def test_lookup_without_a_required_column_is_a_data_error(tmp_path: Path) -> None:
    data = copy_golden(tmp_path)
    (data / "area_lookup.csv").write_text("area,feature_id\nKowloon East,52011\n")
    with pytest.raises(DataError, match=r"area_lookup\.csv.*feature_type"):
        load_kowloon_east(data)


FILES = (
    "area_lookup.csv",
    "carpark_info.json",
    "traffic_speed_volume_occ_info.csv",
    "irnAvgSpeed/20260505-0838-irnAvgSpeed-all.xml",
    "irnAvgSpeed/20260505-1838-irnAvgSpeed-all.xml",
    "rawSpeedVol/20260505-0838-rawSpeedVol-all.xml",
    "vacancy/vacancy_20260505-12.json",
    "vacancy/vacancy_20260506-12.json",
)
DAMAGE = st.tuples(
    st.sampled_from(FILES),
    st.sampled_from(("insert", "delete_line", "truncate")),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=12) | st.text(max_size=12).map(str.encode),
)


@FUZZ
@given(damages=st.lists(DAMAGE, min_size=1, max_size=4))
def test_damaged_files_never_crash_the_adapter(tmp_path: Path, damages: list[Damage]) -> None:
    data = damaged_copy(GOLDEN, tmp_path / "fuzz", damages)
    try:
        obs = load_kowloon_east(data)
    except DataError as error:  # only a header or column the whole file depends on
        message = str(error)
    else:
        assert_counts_add_up(obs)
        assert obs.table.collect().schema == OBSERVATION_SCHEMA
        return
    assert "area_lookup.csv" in message or "occ_info.csv" in message
