"""Data health of a trial: how much of the expected data arrived, in each arm and period.

A pilot declares its regular feeds (``ExpectedReadings``: so many rows of a field per unit and
day). For every unit-day of the trial window the share of expected rows that arrived is its
coverage (capped at 1). From it:

- coverage by arm and period (before / after the start): the share of expected readings present;
- outages: unit-days with no reading at all, and the spells of consecutive such days;
- the sensor ratio mismatch check, by analogy with an A/B test's sample ratio mismatch: when
  availability after the start differs between the arms, the comparison of outcomes can be
  biased by what went missing rather than by the treatment (sensors on converted lampposts
  reporting more often, say). Coverage is compared between arms by Welch's t-test over the
  level at which arms were assigned (units, or service days in a switchback); the check flags
  a difference of at least ``MISMATCH_POINTS`` percentage points that is also significant at
  ``MISMATCH_ALPHA``. With a single unit per arm there is nothing to test and that is said.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from scipy import stats

from pilots.contract import ExpectedReadings

MISMATCH_POINTS = 5.0
MISMATCH_ALPHA = 0.01


def unit_days(units: pl.DataFrame, window: tuple[date, date]) -> pl.DataFrame:
    """Every ``unit, day`` of the window for the given units (``unit`` plus their columns)."""
    days = pl.date_range(window[0], window[1], "1d", eager=True).alias("day")
    return units.join(days.to_frame(), how="cross")


def coverage_report(
    table: pl.LazyFrame,
    expected: tuple[ExpectedReadings, ...],
    frame: pl.DataFrame,
    units: pl.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """One entry per expected feed; ``frame`` has ``unit, day, arm, period, level``.

    ``arm`` is ``treated`` or ``control``, ``period`` is ``pre`` or ``post`` and ``level`` names
    the assignment level the mismatch test compares (the unit, or the day in a switchback).
    ``units`` (the adapter's unit attributes) restricts a feed with ``units_with`` to the units
    that carry its device.
    """
    if not expected or frame.height == 0:
        return []
    counts = (
        table.filter(pl.col("field").is_in([feed.field for feed in expected]))
        .group_by("field", "unit", pl.col("timestamp").dt.date().alias("day"))
        .len()
        .collect()
    )
    return [
        _feed_report(
            feed, counts.filter(pl.col("field") == feed.field), _reporting(frame, feed, units)
        )
        for feed in expected
    ]


def _reporting(
    frame: pl.DataFrame, feed: ExpectedReadings, units: pl.DataFrame | None
) -> pl.DataFrame:
    """The unit-days expected to report ``feed``: only units carrying its device, if it says."""
    if feed.units_with is None or units is None:
        return frame
    equipped = units.filter(pl.col(feed.units_with).is_not_null()).select("unit")
    return frame.join(equipped, on="unit", how="semi")


def _feed_report(
    feed: ExpectedReadings, counts: pl.DataFrame, frame: pl.DataFrame
) -> dict[str, Any]:
    days = frame.join(counts.drop("field"), on=["unit", "day"], how="left").with_columns(
        pl.col("len").fill_null(0),
        (pl.col("len").fill_null(0) / feed.per_day).clip(upper_bound=1.0).alias("coverage"),
    )
    by_arm = (
        days.group_by("arm", "period")
        .agg(
            pl.col("coverage").mean().alias("coverage"),
            (pl.col("len") == 0).sum().alias("outage_days"),
            pl.len().alias("unit_days"),
        )
        .sort("arm", "period")
    )
    return {
        "feed": feed.field,
        "label": feed.label,
        "expected_per_unit_day": feed.per_day,
        "coverage": round(float(days["coverage"].mean()), 4),
        "by_arm_and_period": [
            {
                key: round(value, 4) if isinstance(value, float) else value
                for key, value in row.items()
            }
            for row in by_arm.iter_rows(named=True)
        ],
        "outages": _outages(days),
        "sensor_ratio_mismatch": _mismatch(days.filter(pl.col("period") == "post")),
    }


def _outages(days: pl.DataFrame) -> dict[str, Any]:
    """Spells of consecutive unit-days without any reading."""
    dark = days.sort("unit", "day").with_columns(
        (pl.col("len") == 0).alias("dark"),
    )
    spells = (
        dark.with_columns(
            (pl.col("dark") != pl.col("dark").shift(1).over("unit"))
            .fill_null(True)
            .cum_sum()
            .over("unit")
            .alias("spell")
        )
        .filter("dark")
        .group_by("unit", "spell")
        .agg(pl.len().alias("days"), pl.col("arm").first())
    )
    longest = spells.sort("days", descending=True).head(1)
    return {
        "unit_days_without_data": int(dark["dark"].sum()),
        "spells": spells.height,
        "units_affected": spells["unit"].n_unique(),
        "longest_days": int(longest["days"][0]) if longest.height else 0,
        "longest_unit": longest["unit"][0] if longest.height else None,
    }


def _mismatch(post: pl.DataFrame) -> dict[str, Any]:
    levels = post.group_by("arm", "level").agg(pl.col("coverage").mean())
    treated = levels.filter(pl.col("arm") == "treated")["coverage"].to_numpy()
    control = levels.filter(pl.col("arm") == "control")["coverage"].to_numpy()
    if len(treated) == 0 or len(control) == 0:
        return {"flag": False, "message": "no post-period data in one arm: nothing to compare"}
    difference = 100 * (treated.mean() - control.mean())
    result: dict[str, Any] = {
        "treated_coverage": round(float(treated.mean()), 4),
        "control_coverage": round(float(control.mean()), 4),
        "difference_points": round(float(difference), 2),
    }
    if min(len(treated), len(control)) < 2:
        return result | {
            "p_value": None,
            "flag": bool(abs(difference) >= MISMATCH_POINTS),
            "message": "one assignment unit in an arm: the difference is shown but not tested",
        }
    if treated.var() + control.var() > 0:
        p_value = float(stats.ttest_ind(treated, control, equal_var=False).pvalue)
    else:  # every unit equally covered within each arm: any difference is exact
        p_value = 1.0 if difference == 0 else 0.0
    flag = bool(abs(difference) >= MISMATCH_POINTS and p_value < MISMATCH_ALPHA)
    message = (
        f"availability differs between arms by {difference:+.1f} points after the start "
        f"(p = {p_value:.3g}): missing data may bias the comparison"
        if flag
        else "availability after the start is similar in both arms"
    )
    return result | {"p_value": round(p_value, 6), "flag": flag, "message": message}
