"""Hong Kong's event calendar: general holidays, warning signals and severe-weather days."""

from __future__ import annotations

import itertools
import random
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livinglab.errors import DataError
from pilots.calendar import (
    CALENDAR_SCHEMA,
    KNOWN_CODES,
    SEVERE_CODES,
    WeatherWarning,
    event_calendar,
    hong_kong_public_holidays,
    read_weather_warnings,
    severe_weather_days,
    simulate_weather_warnings,
    write_weather_warnings,
)
from pilots.contract import QUARANTINE_SCHEMA
from pilots.csv_reading import BLANK

PROPERTY = settings(max_examples=25, deadline=None)
# Worst last: the name a severe day carries is that of the worst warning in force that day.
SEVERITY = ["WRAINB", "TC8NE", "TC8SE", "TC8SW", "TC8NW", "TC9", "TC10"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def warning(code: str, issued: str, cancelled: str) -> WeatherWarning:
    return WeatherWarning(code, at(issued), at(cancelled))


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


minute_warnings = st.builds(
    lambda code, minute, minutes: WeatherWarning(
        code,
        datetime(2026, 6, 1) + timedelta(minutes=minute),
        datetime(2026, 6, 1) + timedelta(minutes=minute + minutes),
    ),
    st.sampled_from(sorted(KNOWN_CODES)),
    st.integers(0, 60 * 24 * 30),
    st.integers(1, 60 * 24 * 3),
)


# --- Public holidays --------------------------------------------------------------------------


def test_the_2026_general_holidays_fall_on_the_gazetted_dates() -> None:
    # Source: GovHK, "General holidays for 2026" (www.gov.hk/en/about/abouthk/holiday/2026.htm):
    # 17 days besides Sundays. Names are the ``holidays`` package's English ones.
    days = hong_kong_public_holidays(date(2026, 1, 1), date(2026, 12, 31))
    assert len(days) == 17
    assert days[date(2026, 1, 1)] == "New Year's Day"
    assert days[date(2026, 2, 17)] == "Chinese New Year"
    assert days[date(2026, 2, 18)] == "The second day of Chinese New Year"
    assert days[date(2026, 2, 19)] == "The third day of Chinese New Year"
    assert days[date(2026, 4, 3)] == "Good Friday"
    assert days[date(2026, 4, 4)] == "The day following Good Friday"
    assert days[date(2026, 7, 1)] == "Hong Kong S.A.R. Establishment Day"
    assert days[date(2026, 10, 1)] == "National Day"
    assert days[date(2026, 12, 25)] == "Christmas Day"
    assert days[date(2026, 12, 26)] == "The first weekday after Christmas Day"
    # Ching Ming (5 April) and Buddha's Birthday (24 May) fall on Sundays in 2026, so the
    # general holiday is the day after; the Sundays themselves are not listed.
    assert date(2026, 4, 6) in days
    assert date(2026, 5, 25) in days
    assert date(2026, 4, 5) not in days
    assert date(2026, 5, 24) not in days
    assert list(days) == sorted(days)


def test_holidays_are_listed_for_an_inclusive_range_that_may_cross_a_year() -> None:
    # 25 and 26 December 2025 (Thursday, Friday), then 1 January 2026: three days.
    crossing = hong_kong_public_holidays(date(2025, 12, 25), date(2026, 1, 1))
    assert list(crossing) == [date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1)]
    assert list(hong_kong_public_holidays(date(2026, 2, 17), date(2026, 2, 18))) == [
        date(2026, 2, 17),
        date(2026, 2, 18),
    ]
    assert hong_kong_public_holidays(date(2026, 2, 20), date(2026, 4, 2)) == {}


# --- Warnings and severe-weather days -----------------------------------------------------------


def test_only_signal_8_and_above_and_the_black_rainstorm_are_severe() -> None:
    severe = {"TC8NE", "TC8SE", "TC8SW", "TC8NW", "TC9", "TC10", "WRAINB"}
    for code in sorted(KNOWN_CODES):
        assert warning(code, "2026-07-18 10:00", "2026-07-18 11:00").severe == (code in severe)
    assert set(SEVERE_CODES) == severe


def test_a_warning_spanning_midnight_is_in_force_on_both_days() -> None:
    assert warning("TC8NE", "2026-07-18 21:40", "2026-07-19 13:20").days() == [
        date(2026, 7, 18),
        date(2026, 7, 19),
    ]
    # Issued 23:50 on the 18th, cancelled 00:10 on the 21st: the 18th, 19th, 20th and 21st.
    long = warning("TC10", "2026-07-18 23:50", "2026-07-21 00:10")
    assert long.days() == [date(2026, 7, 18 + i) for i in range(4)]


def test_a_warning_cancelled_exactly_at_midnight_does_not_mark_the_next_day() -> None:
    assert warning("WRAINB", "2026-07-18 21:00", "2026-07-19 00:00").days() == [date(2026, 7, 18)]
    # One minute later it was still in force at 00:00 on the 19th.
    assert warning("WRAINB", "2026-07-18 21:00", "2026-07-19 00:01").days() == [
        date(2026, 7, 18),
        date(2026, 7, 19),
    ]
    # Issued exactly at midnight, it marks that day.
    assert warning("WRAINB", "2026-07-19 00:00", "2026-07-19 02:00").days() == [date(2026, 7, 19)]


def test_severe_days_name_the_worst_warning_and_ignore_lesser_signals() -> None:
    warnings = [
        warning("TC1", "2026-07-17 08:00", "2026-07-18 09:00"),
        warning("TC3", "2026-07-18 09:00", "2026-07-18 21:40"),
        warning("TC8NE", "2026-07-18 21:40", "2026-07-19 13:20"),
        warning("TC9", "2026-07-19 13:20", "2026-07-19 18:00"),
        warning("WRAINA", "2026-08-02 06:00", "2026-08-02 07:00"),
        warning("WRAINR", "2026-08-02 07:00", "2026-08-02 08:00"),
        warning("WRAINB", "2026-08-02 08:00", "2026-08-03 00:00"),
        warning("WRAINR", "2026-08-10 01:00", "2026-08-10 03:00"),
    ]
    # 17th: TC1 only; 18th: TC8NE from 21:40; 19th: TC8NE then TC9 (worse); 2 Aug: black until
    # midnight, so not the 3rd; 10 Aug: red only.
    assert severe_weather_days(warnings) == {
        date(2026, 7, 18): "tropical cyclone signal 8",
        date(2026, 7, 19): "tropical cyclone signal 9",
        date(2026, 8, 2): "black rainstorm warning",
    }
    assert severe_weather_days([]) == {}


def test_signal_10_outranks_a_black_rainstorm_on_the_same_day() -> None:
    warnings = [
        warning("TC10", "2026-09-01 01:00", "2026-09-01 05:00"),
        warning("WRAINB", "2026-09-01 06:00", "2026-09-01 09:00"),
    ]
    assert severe_weather_days(warnings) == {date(2026, 9, 1): "tropical cyclone signal 10"}
    assert severe_weather_days(warnings[::-1]) == {date(2026, 9, 1): "tropical cyclone signal 10"}


@PROPERTY
@given(st.lists(minute_warnings, max_size=8), st.randoms(use_true_random=False))
def test_severe_days_are_the_days_a_severe_warning_overlaps_in_any_order(
    warnings: list[WeatherWarning], shuffler: random.Random
) -> None:
    # Oracle: day d is severe when some severe warning's [issued, cancelled) meets
    # [d 00:00, d+1 00:00); its name is that of the worst such warning.
    expected: dict[date, str] = {}
    for day in (date(2026, 6, 1) + timedelta(days=i) for i in range(40)):
        midnight = datetime.combine(day, datetime.min.time())
        codes = [
            w.code
            for w in warnings
            if w.severe and w.issued < midnight + timedelta(days=1) and w.cancelled > midnight
        ]
        if codes:
            worst = max(codes, key=SEVERITY.index)
            expected[day] = (
                "black rainstorm warning"
                if worst == "WRAINB"
                else f"tropical cyclone signal {worst[2:].rstrip('NESW')}"
            )
    shuffled = list(warnings)
    shuffler.shuffle(shuffled)
    assert severe_weather_days(warnings) == expected
    assert severe_weather_days(shuffled) == expected


# --- Reading and writing weather_warnings.csv ---------------------------------------------------


def test_readable_warnings_are_accepted_and_the_rest_quarantined_with_reasons(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "weather_warnings.csv",
        "code,issued,cancelled\n"
        "TC8NE,2026-07-18 21:40,2026-07-19 13:20\n"  # 2: fine
        " WRAINB , 2026-08-02 08:00 ,2026-08-02 11:05\n"  # 3: fine once stripped
        "TC5,2026-07-18 21:40,2026-07-19 13:20\n"  # 4: no such signal
        ",2026-07-18 21:40,2026-07-19 13:20\n"  # 5: empty code
        "TC3,2026-07-18T21:40,2026-07-19 13:20\n"  # 6: ISO 'T' is not the format
        "TC3,2026-07-18 21:40,tomorrow\n"  # 7: not a time
        "TC1,2026-07-18 21:40,2026-07-18 21:40\n"  # 8: cancelled when issued
        "TC1,2026-07-18 21:40,2026-07-18 09:00\n"  # 9: cancelled before issued
        "\n"  # 10: blank, skipped but counted
        "TC1,2026-07-18 21:40\n"  # 11: a field short
        "WRAINA,2026-05-01 06:00,2026-05-01 07:00\n",  # 12: fine
    )
    warnings, quarantine = read_weather_warnings(path)
    assert warnings == [
        warning("TC8NE", "2026-07-18 21:40", "2026-07-19 13:20"),
        warning("WRAINB", "2026-08-02 08:00", "2026-08-02 11:05"),
        warning("WRAINA", "2026-05-01 06:00", "2026-05-01 07:00"),
    ]
    assert quarantine.schema == QUARANTINE_SCHEMA
    assert set(quarantine["file"]) == {"weather_warnings.csv"}
    reasons = dict(zip(quarantine["line"], quarantine["reason"], strict=True))
    assert reasons == {
        4: "code is not a Hong Kong Observatory warning code (e.g. TC8NE, WRAINB)",
        5: "code is empty",
        6: "issued is not a time like 2026-07-18 21:40",
        7: "cancelled is not a time like 2026-07-19 13:20",
        8: "cancelled is not after issued",
        9: "cancelled is not after issued",
        11: "expected 3 fields, found 2",
    }
    assert quarantine.filter(pl.col("line") == 4)["raw"].item() == (
        "TC5,2026-07-18 21:40,2026-07-19 13:20"
    )
    # Lines read = accepted + quarantined: the 10 non-blank lines after the header (2-9, 11
    # and 12) = 3 accepted + 7 quarantined.
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip(BLANK)
    ]
    assert len(lines) == 10
    assert len(warnings) + quarantine.height == len(lines)


def test_a_file_with_only_a_header_has_no_warnings(tmp_path: Path) -> None:
    warnings, quarantine = read_weather_warnings(
        write_csv(tmp_path / "w.csv", "code,issued,cancelled\n")
    )
    assert warnings == []
    assert quarantine.height == 0


def test_a_missing_file_or_column_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_weather_warnings(tmp_path / "absent.csv")
    with pytest.raises(DataError, match=r"missing column\(s\) cancelled"):
        read_weather_warnings(
            write_csv(tmp_path / "w.csv", "code,issued\nTC8NE,2026-07-18 21:40\n")
        )


def test_hand_written_warnings_round_trip_through_the_file(tmp_path: Path) -> None:
    warnings = [
        warning("TC1", "2026-07-17 08:00", "2026-07-18 09:00"),
        warning("TC10", "2026-07-18 09:00", "2026-07-19 00:00"),
        warning("WRAINB", "2026-08-02 08:00", "2026-08-02 11:05"),
    ]
    path = tmp_path / "weather_warnings.csv"
    write_weather_warnings(path, warnings)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "code,issued,cancelled",
        "TC1,2026-07-17 08:00,2026-07-18 09:00",
        "TC10,2026-07-18 09:00,2026-07-19 00:00",
        "WRAINB,2026-08-02 08:00,2026-08-02 11:05",
    ]
    read, quarantine = read_weather_warnings(path)
    assert read == warnings
    assert quarantine.height == 0


@PROPERTY
@given(st.lists(minute_warnings, max_size=10))
def test_any_warnings_to_the_minute_round_trip_through_the_file(
    warnings: list[WeatherWarning],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weather_warnings.csv"
        write_weather_warnings(path, warnings)
        read, quarantine = read_weather_warnings(path)
    assert read == warnings
    assert quarantine.height == 0


@PROPERTY
@given(st.integers(0, 2**32 - 1))
def test_simulated_warnings_round_trip_through_the_file(seed: int) -> None:
    """A simulator writes its warnings and the adapter reads them back: both must agree.

    Fails today: simulated durations carry seconds and microseconds that the ``HH:MM`` file
    format drops, so a black rainstorm cancelled at 00:00:44 marks a day in the simulation
    that the file does not (seed 45 over 2026: 14 September 2026).
    """
    warnings = simulate_weather_warnings(
        np.random.default_rng(seed), date(2026, 1, 1), date(2026, 12, 31)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weather_warnings.csv"
        write_weather_warnings(path, warnings)
        read, quarantine = read_weather_warnings(path)
    assert quarantine.height == 0
    assert read == warnings
    assert severe_weather_days(read) == severe_weather_days(warnings)


# --- The event calendar ---------------------------------------------------------------------


def test_the_calendar_has_a_row_per_day_with_flags_and_the_reasons() -> None:
    warnings = [
        warning("WRAINB", "2026-06-30 22:00", "2026-07-01 03:00"),
        warning("TC8SE", "2026-07-02 12:00", "2026-07-02 20:00"),
        warning("TC3", "2026-07-03 12:00", "2026-07-03 20:00"),
    ]
    calendar = event_calendar(date(2026, 6, 29), date(2026, 7, 3), warnings)
    assert calendar.schema == CALENDAR_SCHEMA
    # 29 June to 3 July: five days.
    assert calendar.rows() == [
        (date(2026, 6, 29), False, False, None),
        (date(2026, 6, 30), False, True, "black rainstorm warning"),
        (
            date(2026, 7, 1),
            True,
            True,
            "Hong Kong S.A.R. Establishment Day; black rainstorm warning",
        ),
        (date(2026, 7, 2), False, True, "tropical cyclone signal 8"),
        (date(2026, 7, 3), False, False, None),
    ]


def test_a_one_day_calendar_without_warnings_flags_only_the_holiday() -> None:
    calendar = event_calendar(date(2026, 12, 25), date(2026, 12, 25), [])
    assert calendar.rows() == [(date(2026, 12, 25), True, False, "Christmas Day")]


# --- Simulated seasons ----------------------------------------------------------------------


def episodes(warnings: list[WeatherWarning]) -> list[list[WeatherWarning]]:
    """Split a simulated list into storms: each begins with TC1 or amber (WRAINA)."""
    storms: list[list[WeatherWarning]] = []
    for w in warnings:
        if w.code in ("TC1", "WRAINA"):
            storms.append([w])
        else:
            storms[-1].append(w)
    return storms


@PROPERTY
@given(st.integers(0, 2**32 - 1))
def test_a_simulated_season_climbs_the_signal_ladders_within_the_season(seed: int) -> None:
    start, end = date(2026, 3, 1), date(2026, 11, 30)
    warnings = simulate_weather_warnings(np.random.default_rng(seed), start, end)
    assert warnings == simulate_weather_warnings(np.random.default_rng(seed), start, end)
    assert all(w.code in KNOWN_CODES for w in warnings)
    assert all(w.cancelled > w.issued for w in warnings)
    assert all(start <= w.issued.date() <= end for w in warnings)
    peaks = {"TC8NE", "TC8SE", "TC9", "TC10"}
    for storm in episodes(warnings):
        codes = [w.code for w in storm]
        first = storm[0].issued.date()
        if codes[0] == "TC1":  # typhoons June to October: TC1, TC3, then maybe 8 or higher
            assert 6 <= first.month <= 10
            assert codes[:2] == ["TC1", "TC3"]
            assert len(codes) == 2 or (len(codes) == 3 and codes[2] in peaks)
        else:  # rainstorms April to September: amber, then maybe red, then maybe black
            assert 4 <= first.month <= 9
            assert codes in (["WRAINA"], ["WRAINA", "WRAINR"], ["WRAINA", "WRAINR", "WRAINB"])
        # Each signal replaces the one before it: no gap, no overlap.
        for before, after in itertools.pairwise(storm):
            assert after.issued == before.cancelled


def test_simulated_warnings_depend_only_on_the_seed_and_stay_out_of_the_dry_season() -> None:
    # November to March is outside both seasons: nothing is ever raised.
    for seed in range(5):
        rng = np.random.default_rng(seed)
        assert simulate_weather_warnings(rng, date(2026, 11, 1), date(2027, 3, 31)) == []
    one = simulate_weather_warnings(np.random.default_rng(1), date(2026, 1, 1), date(2026, 12, 31))
    two = simulate_weather_warnings(np.random.default_rng(2), date(2026, 1, 1), date(2026, 12, 31))
    # With about 150 typhoon and 180 rainstorm days at 2.5% and 2%, a year has some warnings.
    assert one
    assert two
    assert one != two
