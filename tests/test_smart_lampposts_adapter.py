"""Tests for the smart-lampposts adapter on small hand-written files in the pilot's real formats.

The golden data set (tests/golden/smart_lampposts) holds five lampposts on 1-2 March 2026:
CA1011 (phase P1, weather station), CA1013 (conventional, nothing), WC1043 (P2, detector
AID20031), TS2019 (conventional, weather station and detector AID20054) and KT3041 (P3,
detector AID20011), plus inventory rows that must be quarantined. Every file plays its format's
quirks, so each expected value below can be checked by hand.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livinglab.errors import DataError
from pilots.aggregation import metric_values
from pilots.contract import OBSERVATION_SCHEMA, Observations
from pilots.smart_lampposts.adapter import load_smart_lampposts
from pilots.smart_lampposts.metrics import ENERGY, REPAIR_HOURS, SENSOR_AVAILABILITY
from tests.cli_helpers import FUZZ, hkt

GOLDEN = Path(__file__).parent / "golden" / "smart_lampposts"
WEATHER = "hko_weather/smart_lamppost_weather_20260302.json"
MIDNIGHT = "td_detectors/rawSpeedVol_SLP-all_20260302-0000.xml"
MORNING = "td_detectors/rawSpeedVol_SLP-all_20260302-0800.xml"
PERSONAL = ("9123 4567", "6123 8888", "5123 4567", "9876 5432", "chan.tm@example.com", "Mr Chan")


def copy_golden(directory: Path) -> Path:
    shutil.copytree(GOLDEN, directory, ignore=shutil.ignore_patterns("location_list_*"))
    return directory


def values_of(obs: Observations, field: str, unit: str | None = None) -> list[tuple[Any, ...]]:
    """``(unit, timestamp, value)`` rows of one field, sorted."""
    table = obs.table.collect().filter(pl.col("field") == field)
    if unit is not None:
        table = table.filter(pl.col("unit") == unit)
    return table.sort("unit", "timestamp").select("unit", "timestamp", "value").rows()


def reasons(obs: Observations, file: str) -> dict[int, str]:
    rows = obs.quarantine.filter(pl.col("file") == file).select("line", "reason").rows()
    return dict(rows)


def assert_counts_add_up(obs: Observations) -> None:
    health = obs.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    for file, counts in health["files"].items():
        assert counts["rows_quarantined"] == obs.quarantine.filter(pl.col("file") == file).height
        assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_quarantined"]
        assert counts["rows_quarantined"] >= 0
    assert set(obs.quarantine["file"]) <= set(health["files"])


@pytest.fixture(scope="module")
def golden() -> Observations:
    return load_smart_lampposts(GOLDEN)


def test_units_come_from_the_inventory_with_their_phase_and_devices(golden: Observations) -> None:
    units = golden.units.select("unit", "phase", "weather_device", "detector_id").rows()
    assert units == [
        ("CA1011", "P1", "01", None),
        ("CA1013", "conventional", None, None),
        ("KT3041", "P3", None, "AID20011"),  # blank device and a trailing space in the file
        ("TS2019", "conventional", "01", "AID20054"),
        ("WC1043", "P2", None, "AID20031"),
    ]
    assert reasons(golden, "lamppost_inventory.csv") == {
        7: "lamppost_id is not a LandsD lamppost number "
        "(one or two capital letters and four digits, e.g. DF1020)",
        8: "lamppost_id appears more than once",
        9: "lat is outside 22.1 to 22.6",
        10: "phase is not a conversion phase (P1, P2, ...) or conventional",
    }


def test_every_file_reports_read_accepted_and_quarantined(golden: Observations) -> None:
    files = {
        name: (c["rows_read"], c["rows_accepted"]) for name, c in golden.health()["files"].items()
    }
    assert files == {
        "lamppost_inventory.csv": (9, 5),
        "energy_readings.csv": (14, 6),
        "work_orders.csv": (8, 3),
        "traffic_speed_volume_occ_info-slp.csv": (4, 3),
        WEATHER: (16, 7),
        MIDNIGHT: (12, 11),
        MORNING: (15, 12),
    }
    assert_counts_add_up(golden)
    assert golden.table.collect().schema == OBSERVATION_SCHEMA


def test_energy_readings_are_stamped_at_the_evening_their_night_began(
    golden: Observations,
) -> None:
    assert values_of(golden, "kwh") == [
        ("CA1011", hkt(2026, 3, 1, 18), 3.21),
        ("CA1011", hkt(2026, 3, 2, 18), 2.24),
        ("CA1013", hkt(2026, 3, 1, 18), 3.18),
        ("CA1013", hkt(2026, 3, 2, 18), 3.2),  # " 3.20 " in the file
        ("KT3041", hkt(2026, 3, 1, 18), 2.95),
        ("WC1043", hkt(2026, 3, 1, 18), 1.95),
    ]
    assert reasons(golden, "energy_readings.csv") == {
        5: "meter_id is not the meter lamppost_inventory.csv lists for this lamppost",
        6: "expected 4 fields, found 5",
        8: "repeats an earlier reading for this lamppost_id and time",
        11: "kwh is empty",
        12: "kwh is not a number",
        13: "night_date is not a date like 2026-03-02",
        14: "kwh is outside 0 to 30",
        15: "lamppost_id is not in lamppost_inventory.csv",
    }


def test_work_orders_give_faults_and_hours_to_repair_open_ones_without(
    golden: Observations,
) -> None:
    assert values_of(golden, "fault") == [
        ("CA1011", hkt(2026, 3, 2, 19, 2), 1.0),
        ("CA1013", hkt(2026, 3, 1, 21, 15), 1.0),
        ("WC1043", hkt(2026, 3, 2, 22, 10), 1.0),
    ]
    assert values_of(golden, "repair_hours") == [
        ("CA1011", hkt(2026, 3, 2, 19, 2), 4.5),
        ("CA1013", hkt(2026, 3, 1, 21, 15), 17.5),
    ]
    assert golden.health()["work_orders"] == {"work_orders": 3, "open_work_orders": 1}
    assert reasons(golden, "work_orders.csv") == {
        5: "repaired_at is before fault_reported_at",
        6: "work_order_id appears more than once",
        7: "fault_reported_at is not a Hong Kong time like 2026-03-02 21:15",
        8: "fault_type is not one of lamp out, day burning, flickering, cable fault, "
        "lantern damaged",
        9: "expected 6 fields, found 7",
    }


def test_reporters_contacts_never_leave_the_adapter(golden: Observations) -> None:
    texts = [
        golden.quarantine.write_csv(),
        golden.units.write_csv(),
        golden.table.collect().write_csv(),
        str(golden.health()),
    ]
    for text in texts:
        for personal in PERSONAL:
            assert personal not in text
    quarantined = golden.quarantine.filter(pl.col("file") == "work_orders.csv")
    raw = dict(quarantined.select("line", "raw").rows())
    assert raw[6] == "LM26000001,TS2019,2026-03-02 10:00,2026-03-02 12:00,lamp out,[removed]"
    assert raw[8].endswith(',vandalism,[removed], [removed]"')  # a quoted name and number


def test_weather_strings_become_numbers_and_failed_qc_is_missing_not_zero(
    golden: Observations,
) -> None:
    assert values_of(golden, "air_temperature") == [
        ("CA1011", hkt(2026, 3, 2, 10), 18.4),
        ("CA1011", hkt(2026, 3, 2, 11), 19.0),
        ("TS2019", hkt(2026, 3, 2, 0), 15.2),
        ("TS2019", hkt(2026, 3, 2, 10), 19.1),
    ]
    # CA1011 at 10:00 reported RH as "////": the record is kept, its humidity is absent.
    assert values_of(golden, "relative_humidity", "CA1011") == [
        ("CA1011", hkt(2026, 3, 2, 11), 76.5)
    ]
    assert golden.health()["weather_archive"]["weather_readings_failed_qc"] == 5


def test_older_w0_key_is_read_as_wind_speed(golden: Observations) -> None:
    assert values_of(golden, "wind_speed", "TS2019") == [
        ("TS2019", hkt(2026, 3, 2, 0), 6.0),
        ("TS2019", hkt(2026, 3, 2, 10), 4.0),
    ]


def test_no_record_found_is_an_answer_without_data(golden: Observations) -> None:
    assert golden.health()["weather_archive"]["weather_no_record_responses"] == 2
    assert reasons(golden, WEATHER) == {
        7: "repeats an earlier record for this PI and BODY.HKO.TS (no new observation)",
        9: "PI is not a lamppost with a weather device in lamppost_inventory.csv",
        10: "DI is not the weather device lamppost_inventory.csv lists for this lamppost",
        11: "BODY.HKO.T0 is not a number or ////",
        12: "BODY.HKO.RH is outside 0 to 100",
        13: "BODY.HKO.TS is not a Hong Kong time YYYYMMDDHHmmss",
        14: "BODY.HKO is missing or not an object",
        15: "the response is not a JSON object",
        16: "the response has neither PI nor the message No record found",
    }


def test_midnight_period_is_moved_to_the_day_it_belongs_to(golden: Observations) -> None:
    assert values_of(golden, "traffic_volume", "WC1043") == [
        ("WC1043", hkt(2026, 3, 1, 23, 59, 30), 3.0),
        ("WC1043", hkt(2026, 3, 2, 0, 0, 0), 1.0),  # published under <date>2026-03-01</date>
        ("WC1043", hkt(2026, 3, 2, 7, 59, 30), 10.0),
        ("WC1043", hkt(2026, 3, 2, 8, 0, 0), 7.0),  # a repeated Fast Lane reading is left out
    ]
    assert golden.health()["detector_archive"]["detector_midnight_periods_redated"] == 1


def test_speed_limit_placeholder_at_zero_volume_is_not_a_speed(golden: Observations) -> None:
    # Lanes with volume 0 repeat the 50 km/h limit; they are left out of the mean speed.
    assert values_of(golden, "traffic_speed", "KT3041") == [
        ("KT3041", hkt(2026, 3, 2, 7, 59, 30), 39.0),
        ("KT3041", hkt(2026, 3, 2, 8, 0, 0), 47.0),
    ]
    ts2019 = values_of(golden, "traffic_speed", "TS2019")
    assert ts2019[0] == ("TS2019", hkt(2026, 3, 1, 23, 59, 30), pytest.approx((41 * 3 + 38) / 4))
    checks = golden.health()["detector_archive"]
    assert checks["detector_speed_placeholders_read_as_missing"] == 3


def test_offline_detector_gives_no_measurement(golden: Observations) -> None:
    # AID20011 (KT3041) was valid=N before 08:00; AID20054 (TS2019) at 08:00.
    assert [row[1] for row in values_of(golden, "traffic_volume", "KT3041")] == [
        hkt(2026, 3, 2, 7, 59, 30),
        hkt(2026, 3, 2, 8, 0, 0),
    ]
    assert hkt(2026, 3, 2, 8) not in [
        row[1] for row in values_of(golden, "traffic_volume", "TS2019")
    ]
    assert golden.health()["detector_archive"]["detector_offline_lane_readings"] == 7


def test_unreadable_lane_readings_are_quarantined_by_lane(golden: Observations) -> None:
    assert reasons(golden, MIDNIGHT) == {
        12: "detector_id is not in traffic_speed_volume_occ_info-slp.csv"
    }
    assert reasons(golden, MORNING) == {
        4: "volume is not a whole number from 0 to 200",
        6: "valid is not Y or N",
        9: "repeats an earlier reading for this detector, lane and period",
    }
    raw = golden.quarantine.filter(pl.col("file") == MORNING)["raw"][0]
    assert raw.startswith("rawSpeedVol_SLP-all_20260302-0800.xml: 2026-03-02 07:59:30-08:00:00")


def test_sensor_availability_is_per_equipped_lamppost_and_day(golden: Observations) -> None:
    """Weather: records with a reading out of 24 hourly polls; detectors: online periods out of
    the periods the archive holds that day (1 on 1 March, 3 on 2 March); averaged per lamppost."""
    expected = [
        ("CA1011", hkt(2026, 3, 2), 100 * 2 / 24),
        ("KT3041", hkt(2026, 3, 1), 0.0),
        ("KT3041", hkt(2026, 3, 2), 100 * 2 / 3),
        ("TS2019", hkt(2026, 3, 1), 100.0),  # no weather file for 1 March: the detector alone
        ("TS2019", hkt(2026, 3, 2), 100 * (1 / 3 + 2 / 24) / 2),
        ("WC1043", hkt(2026, 3, 1), 100.0),
        ("WC1043", hkt(2026, 3, 2), 100.0),
    ]
    actual = values_of(golden, "sensor_availability")
    assert [row[:2] for row in actual] == [row[:2] for row in expected]
    assert [row[2] for row in actual] == pytest.approx([row[2] for row in expected])


def test_metrics_are_lamppost_weeks(golden: Observations) -> None:
    energy = metric_values(golden.table, ENERGY).collect()
    assert energy.filter(pl.col("unit") == "CA1011").select("period_start", "value").rows() == [
        (date(2026, 2, 23), 3.21),
        (date(2026, 3, 2), 2.24),
    ]
    repairs = metric_values(golden.table, REPAIR_HOURS).collect()
    week = repairs.filter(pl.col("period_start") == date(2026, 3, 2))
    assert dict(week.select("unit", "value").rows()) == {
        "CA1011": 4.5,
        "CA1013": 0.0,
        "KT3041": 0.0,
        "TS2019": 0.0,
        "WC1043": 0.0,  # its fault is still open
    }
    availability = metric_values(golden.table, SENSOR_AVAILABILITY).collect()
    assert set(availability["unit"]) == {"CA1011", "KT3041", "TS2019", "WC1043"}


def test_daily_zip_archive_is_read_like_loose_snapshots(
    tmp_path: Path, golden: Observations
) -> None:
    data = copy_golden(tmp_path / "data")
    folder = data / "td_detectors"
    with zipfile.ZipFile(folder / "rawSpeedVol_SLP-all_20260302.zip", "w") as archive:
        for name in (MIDNIGHT, MORNING):
            archive.write(data / name, Path(name).name)
            (data / name).unlink()
        archive.writestr("rawSpeedVol_SLP-all_20260302-1300.xml", "<raw_speed_volume_list><date>")
    obs = load_smart_lampposts(data)

    zipped = "td_detectors/rawSpeedVol_SLP-all_20260302.zip"
    assert obs.health()["files"][zipped] == {
        "rows_read": 28,
        "rows_accepted": 23,
        "rows_quarantined": 5,
    }
    assert reasons(obs, zipped) == {
        12: "detector_id is not in traffic_speed_volume_occ_info-slp.csv",
        16: "volume is not a whole number from 0 to 200",
        18: "valid is not Y or N",
        21: "repeats an earlier reading for this detector, lane and period",
        28: "the document breaks off or is not well-formed XML (truncated or damaged)",
    }
    for field in ("traffic_volume", "traffic_speed", "sensor_availability"):
        assert values_of(obs, field) == values_of(golden, field)
    assert_counts_add_up(obs)


def test_corrupt_zip_and_cut_short_snapshot_are_reported_not_fatal(tmp_path: Path) -> None:
    data = copy_golden(tmp_path / "data")
    folder = data / "td_detectors"
    (folder / "rawSpeedVol_SLP-all_20260303.zip").write_bytes(b"PK\x03\x04 not really a zip")
    morning = (data / MORNING).read_text()
    (data / MORNING).write_text(morning[: len(morning) // 2])
    obs = load_smart_lampposts(data)

    assert reasons(obs, "td_detectors/rawSpeedVol_SLP-all_20260303.zip") == {
        1: "the archive or this snapshot in it cannot be unzipped"
    }
    # The seven lanes of 07:59:30 closed before the cut and are read; the break comes after.
    assert reasons(obs, MORNING) == {
        4: "volume is not a whole number from 0 to 200",
        6: "valid is not Y or N",
        8: "the document breaks off or is not well-formed XML (truncated or damaged)",
    }
    assert obs.health()["detector_archive"]["detector_snapshots_unreadable"] == 2
    assert values_of(obs, "traffic_volume", "WC1043") == [
        ("WC1043", hkt(2026, 3, 1, 23, 59, 30), 3.0),
        ("WC1043", hkt(2026, 3, 2, 0, 0, 0), 1.0),
        ("WC1043", hkt(2026, 3, 2, 7, 59, 30), 10.0),
    ]
    assert_counts_add_up(obs)


def test_weather_file_cut_short_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    data = copy_golden(tmp_path / "data")
    text = (data / WEATHER).read_text()
    cut = text.index(
        '{"PI":"CA1011","DI":"01","BD":"00","GI":"00","TS":"0","BODY":{"HKO":{"T0":"19.0"'
    )
    (data / WEATHER).write_text(text[: cut + 40])
    obs = load_smart_lampposts(data)

    assert obs.health()["files"][WEATHER] == {
        "rows_read": 5,
        "rows_accepted": 4,
        "rows_quarantined": 1,
    }
    assert reasons(obs, WEATHER) == {5: "the file ends early or is not JSON from this element on"}
    assert len(values_of(obs, "air_temperature")) == 3


def test_weather_file_that_is_not_an_array_is_reported(tmp_path: Path) -> None:
    data = copy_golden(tmp_path / "data")
    (data / WEATHER).write_text('{"message": "No record found"}')
    obs = load_smart_lampposts(data)
    assert reasons(obs, WEATHER) == {1: "the file is not a JSON array of API responses"}
    assert values_of(obs, "air_temperature") == []
    assert_counts_add_up(obs)


@pytest.mark.parametrize("edition", ["2023-12 UTF-16 tab", "2024-01 UTF-8 BOM comma"])
def test_detector_location_list_is_read_in_either_encoding(tmp_path: Path, edition: str) -> None:
    data = copy_golden(tmp_path / "data")
    if edition.startswith("2023"):
        utf16 = GOLDEN / "location_list_2023-12" / "traffic_speed_volume_occ_info-slp.csv"
        shutil.copy(utf16, data / "traffic_speed_volume_occ_info-slp.csv")
    obs = load_smart_lampposts(data)

    checks = obs.health()["detector_archive"]
    assert checks["location_list_encoding"] == (
        "UTF-16, tab" if edition.startswith("2023") else "UTF-8 with BOM, comma"
    )
    assert checks["detectors_listed"] == 3  # values carry trailing spaces, stripped
    assert reasons(obs, "traffic_speed_volume_occ_info-slp.csv") == {5: "Latitude is not a number"}
    assert len(values_of(obs, "traffic_volume")) == 8


@pytest.mark.parametrize(
    "name", ["lamppost_inventory.csv", "energy_readings.csv", "work_orders.csv"]
)
def test_missing_required_file_is_a_data_error_naming_it(tmp_path: Path, name: str) -> None:
    data = copy_golden(tmp_path / "data")
    (data / name).unlink()
    with pytest.raises(DataError, match=re.escape(name)):
        load_smart_lampposts(data)


def test_snapshots_without_the_location_list_are_a_data_error(tmp_path: Path) -> None:
    data = copy_golden(tmp_path / "data")
    (data / "traffic_speed_volume_occ_info-slp.csv").unlink()
    with pytest.raises(DataError, match=re.escape("traffic_speed_volume_occ_info-slp.csv")):
        load_smart_lampposts(data)


def test_a_site_without_sensor_archives_has_no_availability(tmp_path: Path) -> None:
    data = copy_golden(tmp_path / "data")
    shutil.rmtree(data / "hko_weather")
    shutil.rmtree(data / "td_detectors")
    (data / "traffic_speed_volume_occ_info-slp.csv").unlink()
    obs = load_smart_lampposts(data)
    assert values_of(obs, "sensor_availability") == []
    assert len(values_of(obs, "kwh")) == 6
    assert_counts_add_up(obs)


FUZZED = ["energy_readings.csv", "work_orders.csv", WEATHER, MIDNIGHT, MORNING]
SNIPPETS = st.one_of(
    st.sampled_from(
        [b",", b'"', b"\n", b"////", b"<lane>", b"</detector>", b"{", b"]", b"\x00", b"\xff\xfe"]
    ),
    st.binary(max_size=30),
    st.text(max_size=30).map(str.encode),
)


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, int, int, bytes]:
    """Which file, what to do, where, how much, and what to insert."""
    name = draw(st.sampled_from(FUZZED))
    action = draw(st.sampled_from(["insert", "delete", "truncate"]))
    return (
        name,
        action,
        draw(st.integers(0, 4000)),
        draw(st.integers(1, 400)),
        draw(SNIPPETS),
    )


@FUZZ
@given(damages=st.lists(damage(), min_size=1, max_size=3))
def test_damaged_files_never_crash_the_adapter_and_counts_add_up(
    tmp_path_factory: pytest.TempPathFactory, damages: list[tuple[str, str, int, int, bytes]]
) -> None:
    """Bytes inserted, records deleted or files cut short anywhere after a CSV header."""
    data = copy_golden(tmp_path_factory.mktemp("fuzz") / "data")
    for name, action, where, size, snippet in damages:
        path = data / name
        raw = path.read_bytes()
        header = raw.index(b"\n") + 1 if name.endswith(".csv") else 0
        at = header + where % max(len(raw) - header, 1)
        raw = {
            "insert": raw[:at] + snippet + raw[at:],
            "delete": raw[:at] + raw[at + size :],
            "truncate": raw[:at],
        }[action]
        path.write_bytes(raw)

    obs = load_smart_lampposts(data)

    assert_counts_add_up(obs)
    table = obs.table.collect()
    assert table.schema == OBSERVATION_SCHEMA
    assert table["value"].is_finite().all()
