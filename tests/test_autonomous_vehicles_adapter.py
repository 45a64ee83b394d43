"""Tests for the autonomous-shuttle adapter on hand-written files in the pilot's real layouts.

The golden directory ``tests/golden/autonomous_vehicles`` holds one fleet register, a trip log
with a day of AV service (2026-06-01, logged in UTC) and a day of minibus service (2026-06-05),
two DMV disengagement reports with the header styles of different reporting years, a DMV
mileage return in km and a weather-warning file. Every line that should be quarantined is
named below with its reason, so each quirk is tested exactly.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livinglab.errors import DataError
from pilots.aggregation import metric_values
from pilots.autonomous_vehicles.adapter import load_autonomous_vehicles
from pilots.autonomous_vehicles.dmv_csv import UNBALANCED, normalise_header
from pilots.autonomous_vehicles.metrics import METRICS
from pilots.contract import OBSERVATION_SCHEMA, Observations
from tests.cli_helpers import FUZZ, Damage, damaged_copy

GOLDEN = Path(__file__).parent / "golden" / "autonomous_vehicles"
HKT = ZoneInfo("Asia/Hong_Kong")
DATE_REASON = (
    "DATE is not a date like 06/03/2026, 06/03/26, 2026.06.03. 14:22:05, 2026-06-03 "
    "or 2026-06-03T14:22:05+08:00"
)
# Every identifier in the golden files, including the mistyped and unknown ones.
IDENTIFIERS = (
    "LHA4B2C39T1000017",
    "LHA4B2C39T1000028",
    "LGB8F5D21R2000311",
    "LGB8F5D21R2000322",
    "LGB8F5D21R200033",
    "LHA4B2C39T1000099",
    "XK 2931",
    "XK 2932",
    "XK2932",
    "PJ 418",
    "PJ 419",
    "PJ 7777",
    "PJ 777",
    "XY 1234",
)


@pytest.fixture(scope="module")
def golden() -> Observations:
    return load_autonomous_vehicles(GOLDEN)


def quarantined(obs: Observations, file: str) -> dict[int, str]:
    rows = obs.quarantine.filter(pl.col("file") == file).select("line", "reason").rows()
    return dict(rows)


def daily(obs: Observations, name: str) -> dict[date, float]:
    metric = next(m for m in METRICS if m.name == name)
    values = metric_values(obs.table, metric).collect()
    return {row["period_start"]: round(row["value"], 4) for row in values.iter_rows(named=True)}


def test_files_are_counted_read_equals_accepted_plus_quarantined(golden: Observations) -> None:
    assert golden.health()["files"] == {
        "fleet.csv": {"rows_read": 5, "rows_accepted": 4, "rows_quarantined": 1},
        "trip_log.csv": {"rows_read": 17, "rows_accepted": 8, "rows_quarantined": 9},
        "disengagements_2025.csv": {"rows_read": 2, "rows_accepted": 2, "rows_quarantined": 0},
        "disengagements_2026.csv": {"rows_read": 11, "rows_accepted": 5, "rows_quarantined": 6},
        "mileage_2026.csv": {"rows_read": 4, "rows_accepted": 2, "rows_quarantined": 2},
    }
    assert golden.quarantine.height == golden.health()["rows_quarantined"] == 18
    assert golden.table.collect_schema() == OBSERVATION_SCHEMA


def test_trip_log_quirks_are_quarantined_with_line_and_reason(golden: Observations) -> None:
    assert quarantined(golden, "trip_log.csv") == {
        6: "start_ts is not an ISO-8601 timestamp with offset, e.g. 2026-01-05T08:00:00+08:00",
        10: "passengers is not a number",
        11: "end_ts is not after start_ts",
        12: "km_auto is above 0 for a conventional vehicle",
        13: "vehicle_type is not autonomous or conventional",
        14: "vehicle_id is not in fleet.csv",
        15: "expected 14 fields, found 15",
        17: "trip_id repeats an earlier trip",
        18: "expected 14 fields, found 7",  # the last line, cut off mid-write
    }


def test_a_corrected_resend_after_a_bad_line_is_kept(golden: Observations) -> None:
    """Line 6 lost its offset; line 7 resends the same trip properly and is the one kept."""
    journeys = golden.table.filter(pl.col("field") == "journey_time_min").collect()
    assert journeys.filter(pl.col("timestamp") == datetime(2026, 6, 1, 7, 30, tzinfo=HKT))[
        "value"
    ].to_list() == [10.0]


def test_utc_and_hong_kong_offsets_become_hong_kong_departures(golden: Observations) -> None:
    """The AV logs UTC: 2026-05-31T23:00Z departs at 07:00 on 1 June in Hong Kong."""
    trips = (
        golden.table.filter(pl.col("field") == "journey_time_min")
        .sort("timestamp", "value")
        .collect()
    )
    assert trips.select("timestamp", "value").rows() == [
        (datetime(2026, 6, 1, 7, 0, tzinfo=HKT), 10.5),
        (datetime(2026, 6, 1, 7, 0, tzinfo=HKT), 12.0),
        (datetime(2026, 6, 1, 7, 15, tzinfo=HKT), 9.75),
        (datetime(2026, 6, 1, 7, 15, tzinfo=HKT), 10.0),
        (datetime(2026, 6, 1, 7, 30, tzinfo=HKT), 10.0),
        (datetime(2026, 6, 5, 7, 0, tzinfo=HKT), 9.0),
        (datetime(2026, 6, 5, 7, 2, 30, tzinfo=HKT), 11.5),
        (datetime(2026, 6, 5, 7, 45, tzinfo=HKT), 9.0),
    ]
    assert set(trips["unit"]) == {"AS1"}


def test_daily_metrics_from_the_golden_trips(golden: Observations) -> None:
    """Hand-computed from the accepted lines (on_time Y/Yes/1 all count as on time)."""
    assert daily(golden, "journey_time_min") == {
        date(2026, 6, 1): round(52.25 / 5, 4),
        date(2026, 6, 5): round(29.5 / 3, 4),
    }
    assert daily(golden, "on_time_share") == {date(2026, 6, 1): 80.0, date(2026, 6, 5): 66.6667}
    assert daily(golden, "passengers_per_hour") == {
        date(2026, 6, 1): round(39 / (52.25 / 60), 4),
        date(2026, 6, 5): round(44 / (29.5 / 60), 4),
    }
    assert daily(golden, "safety_events_per_1000_km") == {
        date(2026, 6, 1): round(1000 * 1 / 23.0, 4),
        date(2026, 6, 5): round(1000 * 2 / 13.8, 4),
    }
    # Three disengagements on 1 June over 22.5 automated km; none on the minibus day, which
    # has no automated km and so no rate; days without trips have no exposure either.
    assert daily(golden, "disengagements_per_1000_km") == {
        date(2026, 6, 1): round(1000 * 3 / 22.5, 4),
    }


def test_headers_of_both_reporting_years_are_matched(golden: Observations) -> None:
    assert normalise_header("DISENGAGEMENT INITIATED BY\n(AV System,  Test Driver)") == (
        "DISENGAGEMENT INITIATED BY (AV SYSTEM, TEST DRIVER)"
    )
    events = golden.table.filter(pl.col("field") == "disengagement").collect()
    assert events["timestamp"].to_list() == [
        datetime(2025, 11, 18, tzinfo=HKT),  # 11/18/25, the 2025 file's one-line header
        datetime(2025, 11, 19, tzinfo=HKT),
        datetime(2026, 6, 1, tzinfo=HKT),  # 06/01/2026: a date without a time is its midnight
        datetime(2026, 6, 1, 7, 5, 10, tzinfo=HKT),  # 2026.06.01. 07:05:10
        datetime(2026, 6, 1, 8, 20, tzinfo=HKT),  # 2026-06-01T00:20:00Z
        datetime(2026, 6, 2, tzinfo=HKT),  # 2026-06-02
        datetime(2026, 6, 2, 18, 45, tzinfo=HKT),  # naive 2026-06-02 18:45:00 is Hong Kong time
    ]
    assert set(events["unit"]) == {"AS1"}


def test_disengagement_report_quirks(golden: Observations) -> None:
    assert quarantined(golden, "disengagements_2026.csv") == {
        11: DATE_REASON,  # TBD
        12: DATE_REASON,  # 06/31/2026
        13: "VIN NUMBER is not an autonomous vehicle in fleet.csv",  # mistyped
        14: "VIN NUMBER is not an autonomous vehicle in fleet.csv",  # the minibus
        15: "DISENGAGEMENT INITIATED BY is not AV System, Test Driver, Remote Operator or "
        "Passenger",
        16: UNBALANCED,  # a stray quote costs its own line, not the lines after it
    }
    checks = golden.checks["disengagements"]
    assert checks["by_initiator"] == {"AV System": 3, "Remote Operator": 1, "Test Driver": 3}
    assert checks["date_formats"] == {
        "ISO-8601 with offset": 1,
        "MM/DD/YY": 1,
        "MM/DD/YYYY": 2,
        "YYYY-MM-DD": 1,
        "YYYY-MM-DD HH:MM:SS": 1,
        "YYYY.MM.DD. HH:MM:SS": 1,
    }
    assert checks["padding_rows_skipped"] == 2
    assert checks["reported"] == 7
    assert checks["in_trip_log"] == 1
    assert checks["vehicle_days_report_and_log_disagree"] == 5
    assert checks["unreadable_files"] == {}


def test_mileage_return_reconciles_with_the_trip_log_in_km(golden: Observations) -> None:
    assert quarantined(golden, "mileage_2026.csv") == {
        4: "VIN NUMBER is not in fleet.csv",
        5: "MAY 2026 is not a distance in km like 1,234",
    }
    checks = golden.checks["mileage"]
    assert checks["unit"] == "km"
    assert checks["by_month"] == [
        {"month": "2026-05", "returned_km": 12.0, "trip_log_km": 0.0},
        {"month": "2026-06", "returned_km": 2354.5, "trip_log_km": 22.5},  # "JUNE 2026" header
    ]
    assert checks["annual_totals_not_the_sum_of_months"] == 1  # 12 + 1,150.5 is not 1,170
    assert checks["annual_disengagements_returned"] == 5
    assert checks["disengagements_reported"] == 7


def test_service_and_licence_checks(golden: Observations) -> None:
    assert golden.checks["service"] == {
        "route_days": {"autonomous_only": 1, "conventional_only": 1, "mixed": 0},
        "av_trips": 5,
        "av_trips_over_50_kmh": 1,
        "automated_km_share": round(22.5 / 36.8, 4),
    }
    assert golden.checks["severe_weather"] == {
        "severe_weather_days": 1,
        "trips_on_those_days": 0,
        "av_trips_on_those_days": 0,
    }
    assert quarantined(golden, "fleet.csv") == {
        6: "vin is not 17 letters and digits (no I, O or Q)"
    }


def test_units_are_routes_and_the_trip_feed_is_declared(golden: Observations) -> None:
    assert golden.units.rows(named=True) == [
        {"unit": "AS1", "route": "AS1", "autonomous_vehicles": 2, "conventional_vehicles": 2}
    ]
    (feed,) = golden.expected
    assert (feed.field, feed.per_day) == ("journey_time_min", 128)


def test_vins_and_registration_marks_appear_nowhere(golden: Observations) -> None:
    texts = [
        *golden.quarantine["raw"].to_list(),
        *golden.quarantine["reason"].to_list(),
        json.dumps(golden.health(), default=str),
        golden.units.write_csv(),
        golden.table.collect().write_csv(),
    ]
    for identifier in IDENTIFIERS:
        assert not any(identifier.upper() in text.upper() for text in texts), identifier
    raw = dict(golden.quarantine.select(pl.concat_str("file", "line"), "raw").rows())
    assert raw["fleet.csv6"] == "CS-09,[VIN],[mark],conventional,AS1,19"
    assert raw["disengagements_2026.csv15"].endswith("behind taxi [mark]")


def test_missing_required_files_are_data_errors_naming_them(tmp_path: Path) -> None:
    for required in ("fleet.csv", "trip_log.csv", "disengagements_2025.csv"):
        directory = tmp_path / required
        shutil.copytree(GOLDEN, directory)
        (directory / required).unlink()
        if required.startswith("disengagements"):
            (directory / "disengagements_2026.csv").unlink()
        with pytest.raises(DataError, match=required.split("_")[0]):
            load_autonomous_vehicles(directory)


def test_optional_files_may_be_absent(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    shutil.copytree(GOLDEN, directory)
    (directory / "mileage_2026.csv").unlink()
    (directory / "weather_warnings.csv").unlink()
    obs = load_autonomous_vehicles(directory)
    assert "not reconciled" in obs.checks["mileage"]["note"]
    assert "cannot be checked" in obs.checks["severe_weather"]["note"]


def test_trip_log_without_a_required_column_is_a_data_error(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    shutil.copytree(GOLDEN, directory)
    path = directory / "trip_log.csv"
    path.write_text(path.read_text().replace("passengers", "pax", 1))
    with pytest.raises(DataError, match=r"trip_log\.csv, line 1: missing column\(s\) passengers"):
        load_autonomous_vehicles(directory)


def test_truncated_and_garbage_reports_are_reported_not_fatal(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    shutil.copytree(GOLDEN, directory)
    report = directory / "disengagements_2026.csv"
    text = report.read_text()
    report.write_text(text[: text.index("handed control")])  # cut inside a quoted description
    (directory / "mileage_2026.csv").write_bytes(b"\x00\xff\xfe garbage\nmore, garbage\n")
    obs = load_autonomous_vehicles(directory)
    files = obs.health()["files"]
    assert files["disengagements_2026.csv"] == {
        "rows_read": 2,
        "rows_accepted": 1,
        "rows_quarantined": 1,
    }
    assert quarantined(obs, "disengagements_2026.csv") == {7: UNBALANCED}
    assert files["mileage_2026.csv"]["rows_accepted"] == 0
    assert obs.checks["mileage"]["unreadable_files"] == {
        "mileage_2026.csv": "no header naming VIN NUMBER, ANNUAL TOTAL OF DISENGAGEMENTS, "
        "ANNUAL TOTAL: the file was not read"
    }
    assert files["trip_log.csv"]["rows_accepted"] == 8  # the rest of the data is untouched


FILES = ("trip_log.csv", "disengagements_2026.csv", "mileage_2026.csv", "fleet.csv")
PAYLOAD = st.one_of(st.binary(max_size=30), st.text(max_size=30).map(str.encode))
DAMAGE = st.tuples(
    st.sampled_from(FILES),
    st.sampled_from(("insert", "delete_line", "replace_line", "truncate")),
    st.floats(0, 1),
    PAYLOAD,
)


@FUZZ
@given(damages=st.lists(DAMAGE, min_size=1, max_size=4))
def test_damaged_files_never_crash_the_adapter(tmp_path: Path, damages: list[Damage]) -> None:
    """Inserted bytes, deleted or replaced lines and truncation: only a header lost from the
    fleet register or trip log is a DataError; otherwise every count adds up and no identifier
    leaks."""
    directory = damaged_copy(GOLDEN, tmp_path / "fuzz", damages)
    try:
        obs = load_autonomous_vehicles(directory)
    except DataError as error:
        failure = str(error)
    else:
        failure = None
    if failure is not None:
        assert "fleet.csv" in failure or "trip_log.csv" in failure
        return
    health = obs.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    for file, counts in health["files"].items():
        assert counts["rows_quarantined"] == obs.quarantine.filter(pl.col("file") == file).height
    table = obs.table.collect()
    assert table.schema == OBSERVATION_SCHEMA
    trips = table.filter(pl.col("field") == "journey_time_min").height
    assert trips == health["files"]["trip_log.csv"]["rows_accepted"]
    raw = "\n".join(obs.quarantine["raw"].to_list())
    for identifier in ("LHA4B2C39T1000017", "XK 2931", "PJ 418"):
        assert identifier not in raw
