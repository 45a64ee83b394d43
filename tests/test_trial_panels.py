"""Trial panels: staggered starts by unit, switchback schedules by period, and methods on them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.methods import run_method
from evaluation.panel import PANEL_SCHEMA, build_panel, build_switchback_panel

PROPERTY = settings(max_examples=25, deadline=None)
VALUES_SCHEMA = {
    "unit": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "value": pl.Float64,
}
# Eight Monday weeks, 5 January to 23 February 2026; the window ends Sunday 1 March.
WEEKS = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(8)]
WEEKLY_WINDOW = (WEEKS[0], date(2026, 3, 1))


def weekly(
    values: dict[str, list[float | None]], **covariates: dict[str, list[float]]
) -> pl.LazyFrame:
    """Weekly values per unit (``period_end`` the next Monday, exclusive) and covariates."""
    rows = [
        (unit, WEEKS[i], WEEKS[i] + timedelta(days=7), y)
        for unit, ys in values.items()
        for i, y in enumerate(ys)
    ]
    frame = pl.DataFrame(rows, schema=VALUES_SCHEMA, orient="row")
    for name, by_unit in covariates.items():
        frame = frame.with_columns(
            pl.Series(name, [x for unit in values for x in by_unit[unit]], pl.Float64)
        )
    return frame.lazy()


def assignment(starts: dict[str, date | None]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "unit": list(starts),
            "treated": [start is not None for start in starts.values()],
            "cluster": [f"route-{unit}" for unit in starts],
            "start": list(starts.values()),
        },
        schema={"unit": pl.String, "treated": pl.Boolean, "cluster": pl.String, "start": pl.Date},
    )


def column(frame: pl.DataFrame, unit: str, name: str) -> list[Any]:
    return frame.filter(pl.col("unit") == unit).sort("time")[name].to_list()


# --- Staggered starts -------------------------------------------------------------------------


STAGGERED = {
    "A": date(2026, 1, 26),  # a Monday: the week of 26 January is its first treated week
    "B": date(2026, 2, 11),  # a Wednesday: the week of 9 February straddles it
    "C": None,
    "D": None,
}


def test_staggered_cohorts_index_each_units_first_period_on_or_after_its_start() -> None:
    values = weekly(
        {unit: [float(i) for i in range(8)] for unit in STAGGERED},
        exposure={unit: [100.0 + i for i in range(8)] for unit in STAGGERED},
    )
    panel = build_panel(
        values,
        assignment(STAGGERED),
        outcome="collections",
        window=WEEKLY_WINDOW,
        covariates=("exposure",),
    )
    # The week of 9 February (period_start 9 Feb < 11 Feb < period_end 16 Feb) is dropped for
    # everyone; the week of 19 January ends on 26 January, so it does not straddle A's start.
    kept = [w for w in WEEKS if w != date(2026, 2, 9)]
    assert panel.times == tuple(kept)
    assert panel.notes == (
        "1 period(s) straddling a treatment start (2026-01-26, 2026-02-11) were left out",
    )
    frame = panel.frame
    assert frame.schema == pl.Schema({**PANEL_SCHEMA, "exposure": pl.Float64})
    assert panel.covariates == ("exposure",)
    assert panel.outcome == "collections"
    # 4 units x 7 kept weeks.
    assert frame.height == 28
    # Kept weeks 0..6 = 5, 12, 19, 26 Jan, 2, 16, 23 Feb. A starts 26 Jan: index 3. B starts
    # 11 Feb: its first week on or after is 16 Feb, index 5 once 9 Feb is gone.
    assert column(frame, "A", "cohort") == [3] * 7
    assert column(frame, "B", "cohort") == [5] * 7
    assert column(frame, "C", "cohort") == [None] * 7
    assert column(frame, "A", "post") == [False] * 3 + [True] * 4
    assert column(frame, "B", "post") == [False] * 5 + [True] * 2
    # Control units count as after from the earliest start, 26 January.
    assert column(frame, "D", "post") == [False] * 3 + [True] * 4
    assert column(frame, "A", "treated") == [True] * 7
    assert column(frame, "D", "treated") == [False] * 7
    assert column(frame, "B", "time") == list(range(7))
    # Outcomes and covariates travel with their week: week 5 (9 Feb) is missing.
    assert column(frame, "B", "y") == [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0]
    assert column(frame, "B", "exposure") == [100.0, 101.0, 102.0, 103.0, 104.0, 106.0, 107.0]
    assert column(frame, "C", "cluster") == ["route-C"] * 7
    assert set(frame["weight"]) == {1.0}
    assert panel.time_label(5) == "2026-02-16"


def test_a_start_on_a_period_boundary_drops_nothing() -> None:
    starts = {"A": date(2026, 1, 26), "B": date(2026, 2, 9), "C": None}
    values = weekly({unit: [1.0] * 8 for unit in starts})
    panel = build_panel(values, assignment(starts), outcome="y", window=WEEKLY_WINDOW)
    assert panel.times == tuple(WEEKS)
    assert panel.notes == ()
    # A: 26 Jan is week 3; B: 9 Feb is week 5.
    assert column(panel.frame, "A", "cohort") == [3] * 8
    assert column(panel.frame, "B", "cohort") == [5] * 8


def test_periods_outside_the_window_units_outside_the_trial_and_missing_values_are_left_out() -> (
    None
):
    starts = {"A": date(2026, 1, 26), "C": None}
    rows = [
        ("A", date(2025, 12, 29), date(2026, 1, 5), 9.0),  # before the window
        ("A", date(2026, 3, 2), date(2026, 3, 9), 9.0),  # after the window
        ("A", WEEKS[1], WEEKS[2], float("nan")),  # not a number
        ("A", WEEKS[2], WEEKS[3], None),  # missing
        ("Z", WEEKS[0], WEEKS[1], 9.0),  # not in the trial
    ]
    rows += [(unit, w, w + timedelta(days=7), 1.0) for unit in ("A", "C") for w in WEEKS]
    values = pl.DataFrame(rows, schema=VALUES_SCHEMA, orient="row")
    panel = build_panel(values.lazy(), assignment(starts), outcome="y", window=WEEKLY_WINDOW)
    frame = panel.frame
    assert set(frame["unit"]) == {"A", "C"}
    assert panel.times == tuple(WEEKS)
    # A: 8 good weeks; its NaN and null duplicates of weeks 1 and 2 are dropped. C: 8 weeks.
    assert frame.height == 16
    assert set(frame["y"]) == {1.0}


def test_a_common_start_gives_every_treated_unit_the_same_cohort() -> None:
    start = date(2026, 2, 4)  # a Wednesday: the week of 2 February straddles it
    starts = {"A": start, "B": start, "C": None}
    values = weekly({unit: [2.0] * 8 for unit in starts})
    panel = build_panel(values, assignment(starts), outcome="y", window=WEEKLY_WINDOW)
    assert panel.notes == ("1 period(s) straddling a treatment start (2026-02-04) were left out",)
    # Kept: 5, 12, 19, 26 Jan, 9, 16, 23 Feb; the first on or after 4 Feb is 9 Feb, index 4.
    assert set(panel.frame.filter("treated")["cohort"]) == {4}
    assert panel.frame.group_by("time").agg(pl.col("post").n_unique())["post"].max() == 1
    assert sorted(set(panel.frame.filter("post")["time"])) == [4, 5, 6]


@PROPERTY
@given(
    st.lists(st.integers(0, 55), min_size=1, max_size=4),
    st.integers(1, 3),
)
def test_every_unit_gets_a_cohort_no_earlier_than_its_start(
    offsets: list[int], controls: int
) -> None:
    starts: dict[str, date | None] = {
        f"T{i}": WEEKS[0] + timedelta(days=offset) for i, offset in enumerate(offsets)
    }
    starts |= {f"C{i}": None for i in range(controls)}
    values = weekly({unit: [float(i) for i in range(8)] for unit in starts})
    panel = build_panel(values, assignment(starts), outcome="y", window=WEEKLY_WINDOW)
    times = panel.times
    # No kept period straddles any start.
    for start in (s for s in starts.values() if s):
        assert not any(t < start < t + timedelta(days=7) for t in times)
    for unit, start in starts.items():
        rows = panel.frame.filter(pl.col("unit") == unit)
        assert rows.height == len(times)
        cohorts = set(rows["cohort"])
        if start is None:
            # Control units count as after the start from the earliest start.
            earliest = min(s for s in starts.values() if s)
            assert cohorts == {None}
            assert all(times[t] >= earliest for t in rows.filter("post")["time"])
            assert all(times[t] < earliest for t in rows.filter(~pl.col("post"))["time"])
            continue
        [cohort] = cohorts
        assert cohort == sum(1 for t in times if t < start)
        assert all(times[t] >= start for t in rows.filter("post")["time"])
        assert all(times[t] < start for t in rows.filter(~pl.col("post"))["time"])


# --- Switchback schedules -----------------------------------------------------------------------


DAYS = [date(2026, 4, 1) + timedelta(days=i) for i in range(10)]  # 1 to 10 April 2026
TRIAL_START = date(2026, 4, 4)


def daily(values: dict[str, list[float]], **covariates: dict[str, list[float]]) -> pl.LazyFrame:
    rows = [
        (unit, DAYS[i], DAYS[i] + timedelta(days=1), y)
        for unit, ys in values.items()
        for i, y in enumerate(ys)
    ]
    frame = pl.DataFrame(rows, schema=VALUES_SCHEMA, orient="row")
    for name, by_unit in covariates.items():
        frame = frame.with_columns(
            pl.Series(name, [x for unit in values for x in by_unit[unit]], pl.Float64)
        )
    return frame.lazy()


def schedule(days: dict[date, bool]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {"period_start": list(days), "treated": list(days.values())},
        schema={"period_start": pl.Date, "treated": pl.Boolean},
    )


def routes(*names: str) -> pl.LazyFrame:
    return pl.LazyFrame({"unit": list(names), "cluster": list(names)})


def test_the_switchback_arm_belongs_to_the_period_and_unscheduled_days_are_left_out() -> None:
    days = {
        date(2026, 4, 4): True,
        date(2026, 4, 5): False,
        date(2026, 4, 6): True,
        date(2026, 4, 7): False,
        # 8 April: not randomised
        date(2026, 4, 9): True,
        date(2026, 4, 10): False,
    }
    values = daily(
        {unit: [float(i) for i in range(10)] for unit in ("R1", "R2", "R3")},
        km={unit: [10.0 * i for i in range(10)] for unit in ("R1", "R2", "R3")},
    )
    panel = build_switchback_panel(
        values,
        schedule(days),
        routes("R1", "R2"),
        outcome="pickups",
        window=(DAYS[0], DAYS[-1]),
        trial_start=TRIAL_START,
        covariates=("km",),
    )
    assert panel.notes == (
        "1 period(s) from 2026-04-04 on are not in the switchback schedule and were left out",
    )
    # 1-3 April (pre), 4-7 and 9-10 April: 9 days; 9 April is index 7.
    assert panel.times == tuple(d for d in DAYS if d != date(2026, 4, 8))
    frame = panel.frame
    assert frame.schema == pl.Schema({**PANEL_SCHEMA, "km": pl.Float64})
    assert set(frame["unit"]) == {"R1", "R2"}  # R3 is not in the trial
    assert frame.height == 18  # 2 routes x 9 days
    for unit in ("R1", "R2"):
        assert column(frame, unit, "treated") == [False] * 3 + [True, False, True, False] + [
            True,
            False,
        ]
        assert column(frame, unit, "post") == [False] * 3 + [True] * 6
        assert column(frame, unit, "cohort") == [None] * 9
        assert column(frame, unit, "cluster") == [unit] * 9
    # The value of 9 April (day index 8 in DAYS) sits at time 7; its km with it.
    assert column(frame, "R1", "y")[7] == 8.0
    assert column(frame, "R1", "km")[7] == 80.0
    assert panel.time_label(7) == "2026-04-09"


def test_a_fully_scheduled_switchback_has_no_note() -> None:
    days = {d: i % 2 == 0 for i, d in enumerate(DAYS[3:])}
    panel = build_switchback_panel(
        daily({"R1": [1.0] * 10}),
        schedule(days),
        routes("R1"),
        outcome="y",
        window=(DAYS[0], DAYS[-1]),
        trial_start=TRIAL_START,
    )
    assert panel.notes == ()
    assert panel.times == tuple(DAYS)
    # 4 to 10 April alternate from treated: 4 treated (4, 6, 8, 10) and 3 control days.
    assert panel.frame.filter("treated").height == 4
    assert panel.frame.filter(pl.col("post") & ~pl.col("treated")).height == 3


# --- Methods on these panels --------------------------------------------------------------------


def test_the_staggered_method_recovers_a_constant_effect_from_a_staggered_panel() -> None:
    # y = unit level + common trend 3t + a wobble (t mod 3) - 4 once treated, no noise: every
    # ATT(g, t) after a cohort's start is exactly -4, so their weighted average is too.
    starts = {
        "A1": date(2026, 1, 26),
        "A2": date(2026, 1, 26),
        "B1": date(2026, 2, 16),
        "B2": date(2026, 2, 16),
        "C1": None,
        "C2": None,
        "C3": None,
    }
    level = {"A1": 10, "A2": 12, "B1": 20, "B2": 25, "C1": 5, "C2": 8, "C3": 30}
    values = weekly(
        {
            unit: [
                level[unit] + 3 * t + t % 3 - (4.0 if start and WEEKS[t] >= start else 0.0)
                for t in range(8)
            ]
            for unit, start in starts.items()
        }
    )
    panel = build_panel(values, assignment(starts), outcome="y", window=WEEKLY_WINDOW)
    assert column(panel.frame, "B1", "cohort") == [6] * 8
    estimate = run_method("staggered", panel)
    assert estimate.status == "ok"
    assert estimate.effect == pytest.approx(-4.0, abs=1e-9)
    post_cells = [
        cell["att"]
        for cell in estimate.details["att_gt"]
        if date.fromisoformat(cell["time"]) >= date.fromisoformat(cell["group"])
    ]
    # Cohort 26 Jan: 5 weeks from 26 Jan; cohort 16 Feb: 2 weeks. 7 post cells, all -4.
    assert post_cells == pytest.approx([-4.0] * 7, abs=1e-9)


def test_the_randomized_switchback_recovers_a_known_effect() -> None:
    # y = route level + day effect + 2.5 on treated days. The day effects average 1.5 on both
    # treated days (0, 2, 1, 3) and control days (1, 3, 0, 2), and every route is seen on every
    # day, so the difference in means is exactly 2.5.
    arms = [True, False, False, True, True, False, True, False]  # 4 to 11 April
    post_days = [date(2026, 4, 4) + timedelta(days=i) for i in range(8)]
    effect = dict(zip(post_days, [0, 1, 3, 2, 1, 0, 3, 2], strict=True))
    effect |= {date(2026, 4, 1): 1, date(2026, 4, 2): 0, date(2026, 4, 3): 2}
    all_days = sorted(effect)
    level = {"R1": 10.0, "R2": 20.0, "R3": 35.0}
    scheduled = dict(zip(post_days, arms, strict=True))
    rows = [
        (unit, d, d + timedelta(days=1), level[unit] + effect[d] + (2.5 if scheduled.get(d) else 0))
        for unit in level
        for d in all_days
    ]
    values = pl.DataFrame(rows, schema=VALUES_SCHEMA, orient="row").lazy()
    panel = build_switchback_panel(
        values,
        schedule(scheduled),
        routes(*level),
        outcome="y",
        window=(all_days[0], all_days[-1]),
        trial_start=TRIAL_START,
    )
    estimate = run_method("randomized", panel, design="switchback")
    assert estimate.status == "ok"
    assert estimate.effect == pytest.approx(2.5, abs=1e-9)
    assert estimate.details["unadjusted_effect"] == pytest.approx(2.5, abs=1e-9)
    # 3 routes x 8 days = 24 blocks after the start, 12 of them treated.
    assert (estimate.n_units, estimate.n_treated) == (24, 12)
    assert estimate.ci_low < 2.5 < estimate.ci_high
    assert 0 <= estimate.p_value < 0.05
