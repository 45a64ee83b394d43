"""Typed parsing of string columns, with the reason a value is unreadable as an expression.

Each ``*_problem`` function returns a string expression that is null when the value is fine and
otherwise names the column and says what would be valid. Reasons do not repeat the value: the
quarantine keeps the raw line beside them, and equal reasons group into readable counts.
"""

from __future__ import annotations

import polars as pl

ISO_WITH_OFFSET = "%Y-%m-%dT%H:%M:%S%.f%:z"
_EXAMPLE_TIME = "2026-01-05T08:00:00+08:00"


def number(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)


def iso_timestamp_utc(column: str) -> pl.Expr:
    """ISO-8601 timestamps with an offset (``Z`` or ``+hh:mm``), converted to UTC."""
    text = pl.col(column).str.strip_chars().str.replace(r"Z$", "+00:00")
    return text.str.to_datetime(ISO_WITH_OFFSET, time_zone="UTC", strict=False)


def missing_problem(column: str) -> pl.Expr:
    return pl.when(_blank(column)).then(pl.lit(f"{column} is empty"))


def number_problem(column: str, low: float, high: float) -> pl.Expr:
    """Null when ``column`` holds a number within [low, high]; otherwise the reason."""
    value = number(column)
    return (
        pl.when(_blank(column))
        .then(pl.lit(f"{column} is empty"))
        .when(value.is_null() | value.is_nan())
        .then(pl.lit(f"{column} is not a number"))
        .when((value < low) | (value > high))
        .then(pl.lit(f"{column} is outside {low:g} to {high:g}"))
    )


def timestamp_problem(column: str) -> pl.Expr:
    return (
        pl.when(_blank(column))
        .then(pl.lit(f"{column} is empty"))
        .when(iso_timestamp_utc(column).is_null())
        .then(pl.lit(f"{column} is not an ISO-8601 timestamp with offset, e.g. {_EXAMPLE_TIME}"))
    )


def membership_problem(column: str, allowed: pl.Series, where: str) -> pl.Expr:
    return pl.when(~pl.col(column).is_in(allowed.implode())).then(
        pl.lit(f"{column} is not in {where}")
    )


def duplicate_problem(key: str, instant: pl.Expr) -> pl.Expr:
    """Flags every repeat of an earlier row's ``key`` at the same instant; the first is kept.

    Instants are compared after parsing, so ``...T08:00:00+08:00`` repeats ``...T00:00:00Z``.
    """
    repeat = instant.is_not_null() & ~pl.struct(pl.col(key), instant).is_first_distinct()
    return pl.when(repeat).then(pl.lit(f"repeats an earlier reading for this {key} and time"))


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
