"""Data health: coverage of the expected feeds by arm and period, outages, sensor ratio mismatch."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.data_health import MISMATCH_POINTS, coverage_report, unit_days
from pilots.contract import HONG_KONG, OBSERVATION_SCHEMA, ExpectedReadings

PROPERTY = settings(max_examples=25, deadline=None)
FILL = ExpectedReadings("fill", 4, "fill-level readings")


def observations(counts: dict[tuple[str, date], int], field: str = "fill") -> pl.LazyFrame:
    """``count`` readings of ``field`` for each ``(unit, day)``, spread through the day."""
    rows = [
        (unit, datetime.combine(day, datetime.min.time()) + timedelta(minutes=10 * i), field, 1.0)
        for (unit, day), count in counts.items()
        for i in range(count)
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "unit": pl.String,
            "timestamp": pl.Datetime("us"),
            "field": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )
    table = frame.with_columns(pl.col("timestamp").dt.replace_time_zone(HONG_KONG))
    assert table.schema == OBSERVATION_SCHEMA
    return table.lazy()


def unit_frame(
    arms: dict[str, str], window: tuple[date, date], start: date, *, level: str = "unit"
) -> pl.DataFrame:
    """``unit, day, arm, period, level`` for units assigned by unit, all starting at ``start``."""
    units = pl.DataFrame({"unit": list(arms), "arm": list(arms.values())})
    return unit_days(units, window).select(
        "unit",
        "day",
        "arm",
        pl.when(pl.col("day") < start)
        .then(pl.lit("pre"))
        .otherwise(pl.lit("post"))
        .alias("period"),
        pl.col("unit" if level == "unit" else "day").cast(pl.String).alias("level"),
    )


def days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


# --- unit_days ----------------------------------------------------------------------------------


def test_unit_days_lists_every_unit_on_every_day_of_the_window_with_its_columns() -> None:
    units = pl.DataFrame({"unit": ["B01", "B02"], "arm": ["treated", "control"]})
    grid = unit_days(units, (date(2026, 2, 27), date(2026, 3, 2)))
    # 27 Feb to 2 Mar 2026 is 4 days (2026 is not a leap year): 2 units x 4 days = 8 rows.
    assert grid.height == 8
    assert grid.columns == ["unit", "arm", "day"]
    assert grid.filter(pl.col("unit") == "B02")["day"].to_list() == days(date(2026, 2, 27), 4)
    assert set(grid.filter(pl.col("unit") == "B01")["arm"]) == {"treated"}


# --- Coverage -----------------------------------------------------------------------------------


def test_coverage_by_arm_and_period_is_the_share_of_expected_readings_capped_at_one() -> None:
    d1, d2, d3, d4 = days(date(2026, 3, 1), 4)
    counts = {
        ("A", d1): 4,  # 4/4 = 1
        ("A", d2): 1,  # 1/4 = 0.25
        ("A", d3): 4,  # 1
        # ("A", d4): nothing, coverage 0 and an outage day
        ("B", d1): 4,  # 1
        ("B", d2): 4,  # 1
        ("B", d3): 3,  # 0.75
        ("B", d4): 6,  # 6/4 capped at 1
        ("Z", d1): 4,  # not in the trial: ignored
    }
    table = pl.concat(
        [
            observations(counts),
            observations({("A", d4): 9}, field="battery"),  # another field: not a fill reading
        ]
    )
    frame = unit_frame({"A": "treated", "B": "control"}, (d1, d4), d3)
    [report] = coverage_report(table, (FILL,), frame)
    assert report["feed"] == "fill"
    assert report["label"] == "fill-level readings"
    assert report["expected_per_unit_day"] == 4
    # All eight unit-days: (1 + 0.25 + 1 + 0 + 1 + 1 + 0.75 + 1) / 8 = 6 / 8.
    assert report["coverage"] == 0.75
    assert report["by_arm_and_period"] == [
        # B after: (0.75 + 1) / 2 = 0.875; before: (1 + 1) / 2 = 1.
        {"arm": "control", "period": "post", "coverage": 0.875, "outage_days": 0, "unit_days": 2},
        {"arm": "control", "period": "pre", "coverage": 1.0, "outage_days": 0, "unit_days": 2},
        # A after: (1 + 0) / 2 = 0.5; before: (1 + 0.25) / 2 = 0.625.
        {"arm": "treated", "period": "post", "coverage": 0.5, "outage_days": 1, "unit_days": 2},
        {"arm": "treated", "period": "pre", "coverage": 0.625, "outage_days": 0, "unit_days": 2},
    ]


def test_readings_count_on_their_hong_kong_day() -> None:
    # 00:30 on 2 March in Hong Kong is 16:30 UTC on 1 March: it belongs to 2 March.
    utc = pl.DataFrame(
        {
            "unit": ["A"] * 2,
            "timestamp": [datetime(2026, 3, 1, 16, 30), datetime(2026, 3, 1, 16, 40)],
            "field": ["fill"] * 2,
            "value": [1.0, 1.0],
        }
    ).with_columns(pl.col("timestamp").dt.replace_time_zone("UTC").dt.convert_time_zone(HONG_KONG))
    frame = unit_frame({"A": "treated"}, (date(2026, 3, 1), date(2026, 3, 2)), date(2026, 3, 2))
    expected = ExpectedReadings("fill", 2, "fill")
    [report] = coverage_report(utc.lazy(), (expected,), frame)
    by_period = {row["period"]: row["coverage"] for row in report["by_arm_and_period"]}
    assert by_period == {"pre": 0.0, "post": 1.0}


def test_each_expected_feed_gets_its_own_report_in_order() -> None:
    d1, d2 = days(date(2026, 3, 1), 2)
    table = pl.concat(
        [
            observations({("A", d1): 2, ("A", d2): 2}),
            observations({("A", d1): 10, ("A", d2): 5}, field="temperature"),
        ]
    )
    frame = unit_frame({"A": "treated"}, (d1, d2), d2)
    feeds = (ExpectedReadings("temperature", 10, "air"), ExpectedReadings("fill", 8, "fill"))
    reports = coverage_report(table, feeds, frame)
    assert [r["feed"] for r in reports] == ["temperature", "fill"]
    # temperature: (10/10 + 5/10) / 2 = 0.75; fill: (2/8 + 2/8) / 2 = 0.25.
    assert [r["coverage"] for r in reports] == [0.75, 0.25]


def test_no_expected_feeds_or_no_unit_days_give_no_report() -> None:
    d1 = date(2026, 3, 1)
    table = observations({("A", d1): 4})
    frame = unit_frame({"A": "treated"}, (d1, d1), d1)
    assert coverage_report(table, (), frame) == []
    assert coverage_report(table, (FILL,), frame.clear()) == []


# --- Outages ------------------------------------------------------------------------------------


def test_outage_spells_are_runs_of_consecutive_dark_days_per_unit() -> None:
    window = days(date(2026, 3, 1), 10)
    dark = {
        "U1": {1, 2, 3, 6},  # days 2-4 (a 3-day spell) and day 7: two spells
        "U2": {8, 9},  # the last two days: one spell of 2
        "U3": set(),  # never dark
    }
    counts = {
        (unit, day): 4 for unit, off in dark.items() for i, day in enumerate(window) if i not in off
    }
    frame = unit_frame(
        {"U1": "treated", "U2": "control", "U3": "control"}, (window[0], window[-1]), window[5]
    )
    [report] = coverage_report(observations(counts), (FILL,), frame)
    assert report["outages"] == {
        "unit_days_without_data": 6,  # 4 + 2 + 0
        "spells": 3,  # 2 + 1 + 0
        "units_affected": 2,
        "longest_days": 3,
        "longest_unit": "U1",
    }


def test_a_unit_dark_all_trial_is_one_spell_as_long_as_the_window() -> None:
    window = days(date(2026, 3, 1), 5)
    counts = {("A", day): 4 for day in window}
    frame = unit_frame({"A": "treated", "B": "control"}, (window[0], window[-1]), window[2])
    [report] = coverage_report(observations(counts), (FILL,), frame)
    assert report["outages"] == {
        "unit_days_without_data": 5,
        "spells": 1,
        "units_affected": 1,
        "longest_days": 5,
        "longest_unit": "B",
    }
    # B is dark on all 5 days: coverage (5 x 1 + 5 x 0) / 10 = 0.5.
    assert report["coverage"] == 0.5


def test_full_data_has_no_outages() -> None:
    window = days(date(2026, 3, 1), 3)
    counts = {(unit, day): 4 for unit in ("A", "B") for day in window}
    frame = unit_frame({"A": "treated", "B": "control"}, (window[0], window[-1]), window[1])
    [report] = coverage_report(observations(counts), (FILL,), frame)
    assert report["outages"] == {
        "unit_days_without_data": 0,
        "spells": 0,
        "units_affected": 0,
        "longest_days": 0,
        "longest_unit": None,
    }
    assert report["coverage"] == 1.0


@PROPERTY
@given(st.lists(st.lists(st.booleans(), min_size=8, max_size=8), min_size=1, max_size=4))
def test_outages_agree_with_a_run_length_count(patterns: list[list[bool]]) -> None:
    window = days(date(2026, 3, 1), 8)
    units = [f"U{i}" for i in range(len(patterns))]
    counts = {
        (unit, day): 4
        for unit, pattern in zip(units, patterns, strict=True)
        for day, is_dark in zip(window, pattern, strict=True)
        if not is_dark
    }
    frame = unit_frame(dict.fromkeys(units, "treated"), (window[0], window[-1]), window[4])
    [report] = coverage_report(observations(counts), (FILL,), frame)
    runs = [
        [sum(1 for _ in run) for is_dark, run in groupby(pattern) if is_dark]
        for pattern in patterns
    ]
    outages = report["outages"]
    assert outages["unit_days_without_data"] == sum(sum(p) for p in patterns)
    assert outages["spells"] == sum(len(r) for r in runs)
    assert outages["units_affected"] == sum(1 for r in runs if r)
    assert outages["longest_days"] == max((max(r) for r in runs if r), default=0)
    if outages["longest_days"]:
        longest = runs[units.index(outages["longest_unit"])]
        assert max(longest) == outages["longest_days"]


# --- Sensor ratio mismatch ----------------------------------------------------------------------


def many_units(treated_post: list[int], control_post: list[int], per_day: int) -> dict[str, Any]:
    """Ten post days and two pre days per unit; full data before the start."""
    window = days(date(2026, 3, 1), 12)
    start = window[2]
    counts: dict[tuple[str, date], int] = {}
    arms: dict[str, str] = {}
    for arm, readings in (("treated", treated_post), ("control", control_post)):
        for i, n in enumerate(readings):
            unit = f"{arm[0].upper()}{i:02d}"
            arms[unit] = arm
            for day in window:
                counts[(unit, day)] = per_day if day < start else n
    return {
        "table": observations(counts),
        "frame": unit_frame(arms, (window[0], window[-1]), start),
    }


def test_treated_units_losing_thirty_percent_of_readings_are_flagged() -> None:
    # Ten readings expected a day. Treated units get 7 or 6 after the start (coverage 0.7 or
    # 0.6, mean 0.65); control units 10 or 9 (1.0 or 0.9, mean 0.95).
    data = many_units([7, 6] * 5, [10, 9] * 5, per_day=10)
    expected = ExpectedReadings("fill", 10, "fill")
    [report] = coverage_report(data["table"], (expected,), data["frame"])
    mismatch = report["sensor_ratio_mismatch"]
    assert mismatch["treated_coverage"] == 0.65
    assert mismatch["control_coverage"] == 0.95
    # 100 x (0.65 - 0.95) = -30 points.
    assert mismatch["difference_points"] == -30.0
    # Welch's t: both arms have sd 0.0527 over 10 units, t = -0.30 / 0.0236 = -12.7 on 18 df,
    # p = 1.9e-10, which rounds to 0 at six places.
    assert mismatch["p_value"] == 0.0
    assert mismatch["flag"] is True
    assert "-30.0 points after the start" in mismatch["message"]
    assert "missing data may bias the comparison" in mismatch["message"]


def test_similar_availability_in_both_arms_is_not_flagged() -> None:
    data = many_units([10, 9] * 5, [9, 10] * 5, per_day=10)
    [report] = coverage_report(data["table"], (ExpectedReadings("fill", 10, "f"),), data["frame"])
    mismatch = report["sensor_ratio_mismatch"]
    # Five units at 1.0 and five at 0.9 in each arm: difference 0, t = 0, p = 1.
    assert mismatch["difference_points"] == 0.0
    assert mismatch["p_value"] == 1.0
    assert mismatch["flag"] is False
    assert mismatch["message"] == "availability after the start is similar in both arms"
    # With 4 expected a day every unit-day is capped at full coverage: nothing differs either.
    [capped] = coverage_report(data["table"], (FILL,), data["frame"])
    assert capped["sensor_ratio_mismatch"]["difference_points"] == 0.0
    assert capped["sensor_ratio_mismatch"]["flag"] is False


def test_a_significant_difference_under_five_points_is_not_flagged() -> None:
    # 50 expected; treated get 49 (0.98) on every day, control 50 (1.0): exact, so p = 0, but
    # 100 x (0.98 - 1.0) = -2 points is under the 5-point threshold.
    data = many_units([49] * 3, [50] * 3, per_day=50)
    [report] = coverage_report(data["table"], (ExpectedReadings("fill", 50, "f"),), data["frame"])
    mismatch = report["sensor_ratio_mismatch"]
    assert mismatch["difference_points"] == -2.0
    assert abs(mismatch["difference_points"]) < MISMATCH_POINTS
    assert mismatch["p_value"] == 0.0
    assert mismatch["flag"] is False


def test_a_difference_before_the_start_does_not_count_as_a_mismatch() -> None:
    window = days(date(2026, 3, 1), 6)
    start = window[3]
    counts = {}
    for unit, pre in (("T1", 1), ("T2", 2), ("C1", 4), ("C2", 4)):
        for day in window:
            counts[(unit, day)] = pre if day < start else 4
    arms = {"T1": "treated", "T2": "treated", "C1": "control", "C2": "control"}
    frame = unit_frame(arms, (window[0], window[-1]), start)
    [report] = coverage_report(observations(counts), (FILL,), frame)
    mismatch = report["sensor_ratio_mismatch"]
    assert mismatch["treated_coverage"] == 1.0
    assert mismatch["control_coverage"] == 1.0
    assert mismatch["flag"] is False


def test_one_unit_per_arm_shows_the_difference_without_a_test() -> None:
    d1, d2, d3, d4 = days(date(2026, 3, 1), 4)
    counts = {("A", d1): 4, ("A", d2): 4, ("A", d3): 2, ("B", d1): 4, ("B", d2): 4}
    counts |= {("B", d3): 4, ("B", d4): 4}
    frame = unit_frame({"A": "treated", "B": "control"}, (d1, d4), d3)
    [report] = coverage_report(observations(counts), (FILL,), frame)
    # A after the start: (2/4 + 0) / 2 = 0.25; B: 1. 100 x (0.25 - 1) = -75 points.
    assert report["sensor_ratio_mismatch"] == {
        "treated_coverage": 0.25,
        "control_coverage": 1.0,
        "difference_points": -75.0,
        "p_value": None,
        "flag": True,
        "message": "one assignment unit in an arm: the difference is shown but not tested",
    }


def test_an_arm_without_post_period_days_has_nothing_to_compare() -> None:
    d1, d2 = days(date(2026, 3, 1), 2)
    frame = unit_frame({"A": "treated", "B": "control"}, (d1, d2), d2).filter(
        (pl.col("arm") == "treated") | (pl.col("period") == "pre")
    )
    [report] = coverage_report(observations({("A", d2): 4}), (FILL,), frame)
    assert report["sensor_ratio_mismatch"] == {
        "flag": False,
        "message": "no post-period data in one arm: nothing to compare",
    }


def test_a_switchback_compares_service_days_not_units() -> None:
    # One route, eight service days after two pre days; the level is the day. Treated days get
    # 6 or 7 of 10 readings (mean 0.65), control days 9 or 10 (mean 0.95): -30 points over 4
    # days per arm.
    window = days(date(2026, 3, 1), 10)
    post = window[2:]
    treated_days = {post[0], post[2], post[5], post[7]}
    readings = {post[0]: 6, post[2]: 7, post[5]: 6, post[7]: 7}
    readings |= {post[1]: 10, post[3]: 9, post[4]: 10, post[6]: 9}
    counts = {("R1", day): readings.get(day, 10) for day in window}
    frame = unit_days(pl.DataFrame({"unit": ["R1"]}), (window[0], window[-1])).select(
        "unit",
        "day",
        pl.when(pl.col("day").is_in(list(treated_days)))
        .then(pl.lit("treated"))
        .otherwise(pl.lit("control"))
        .alias("arm"),
        pl.when(pl.col("day") < post[0])
        .then(pl.lit("pre"))
        .otherwise(pl.lit("post"))
        .alias("period"),
        pl.col("day").cast(pl.String).alias("level"),
    )
    [report] = coverage_report(observations(counts), (ExpectedReadings("fill", 10, "f"),), frame)
    mismatch = report["sensor_ratio_mismatch"]
    assert mismatch["treated_coverage"] == 0.65
    assert mismatch["control_coverage"] == 0.95
    assert mismatch["difference_points"] == -30.0
    # Welch's t over days: sd 0.0577 in each arm, t = -0.30 / 0.0408 = -7.35 on 6 df, p = 0.000325.
    assert mismatch["p_value"] == 0.000325
    assert mismatch["flag"] is True


def test_a_feed_only_some_units_carry_is_expected_only_from_them() -> None:
    d1, d2 = days(date(2026, 3, 1), 2)
    weather = ExpectedReadings("fill", 4, "weather records", units_with="station")
    units = pl.DataFrame({"unit": ["A", "B", "C"], "station": ["WS1", None, "WS2"]})
    # A delivers everything, C half; B has no station, so its silence is no outage.
    table = observations({("A", d1): 4, ("A", d2): 4, ("C", d1): 2, ("C", d2): 2})
    frame = unit_frame({"A": "treated", "B": "treated", "C": "control"}, (d1, d2), d2)
    [report] = coverage_report(table, (weather,), frame, units)
    assert report["coverage"] == 0.75  # (1 + 1 + 0.5 + 0.5) / 4 equipped unit-days
    assert report["outages"]["unit_days_without_data"] == 0
    [unrestricted] = coverage_report(table, (FILL,), frame, units)
    assert unrestricted["coverage"] == 0.5  # B's two dark days count when every unit reports
