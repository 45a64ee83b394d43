"""The contract every diagnostic follows: a named check, its null hypothesis, and one result.

A diagnostic asks whether the data support the assumptions behind an effect estimate. Each one
states, in plain words, the null hypothesis it examines, and returns a ``CheckResult`` pairing
its number (a statistic, a p-value) with one or two sentences for a reader who is not a
statistician. ``status`` says how to read it:

- ``pass``: the data give no reason to doubt the assumption;
- ``warn``: borderline evidence against it (a p-value between ``alpha`` and ``warn_level``, or a
  descriptive measure past its rule-of-thumb threshold);
- ``fail``: clear evidence against it (a p-value below ``alpha``);
- ``informational``: a number to read, with no pass/fail rule (a placebo distribution);
- ``not_applicable``: the check cannot say anything about this design; ``message`` says why.

Failing to reject a null hypothesis does not prove it: with few units or periods a check has
little power, which is why ``pass`` means "no evidence against", never "confirmed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol

import numpy as np
import polars as pl

from evaluation.panel import Panel
from evaluation.result import Estimate, json_safe
from livinglab.errors import InputError, SpecError

Status = Literal["pass", "warn", "fail", "informational", "not_applicable"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "informational", "not_applicable")

# Failures caused by the data (a singular design, a model that cannot be fitted), not by code:
# a check hitting one reports "not_applicable" instead of stopping the whole report.
DATA_FAILURES: tuple[type[Exception], ...] = (np.linalg.LinAlgError, InputError)


@dataclass(frozen=True)
class DiagnosticsConfig:
    """Settings shared by every check.

    ``alpha``: below it a test fails; ``warn_level``: between ``alpha`` and it, a test warns.
    ``seed``: for the methods' resampling and the placebo subsample. ``max_placebos``: at most
    this many control clusters play the treated role in the placebo in space.
    ``smd_threshold``: the absolute standardised mean difference above which balance warns.
    ``fit_threshold``: the pre-period RMSPE, as a share of the treated series' standard
    deviation, above which the fit warns. ``method_options``: passed to the method whenever a
    check re-runs it (for example ``{"bootstrap_draws": 999}`` for ``did``).
    """

    alpha: float = 0.05
    seed: int = 0
    warn_level: float = 0.10
    max_placebos: int = 50
    smd_threshold: float = 0.25
    fit_threshold: float = 0.5
    method_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise SpecError(f"alpha: {self.alpha} is not allowed; use a number between 0 and 1")
        if not self.alpha <= self.warn_level < 1:
            raise SpecError(
                f"warn_level: {self.warn_level} is not allowed; use a number from alpha "
                f"({self.alpha}) up to, but not including, 1"
            )
        if self.max_placebos < 1:
            raise SpecError(f"max_placebos: {self.max_placebos} is not allowed; use 1 or more")
        for name in ("smd_threshold", "fit_threshold"):
            if not getattr(self, name) > 0:
                raise SpecError(f"{name}: {getattr(self, name)} is not allowed; use a number > 0")


@dataclass(frozen=True)
class CheckResult:
    """What one check found: its status, its numbers, and a plain-words reading of them."""

    name: str
    null_hypothesis: str
    status: Status
    statistic: float | None
    p_value: float | None
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; non-finite numbers become ``None``."""
        return json_safe({f.name: getattr(self, f.name) for f in fields(self)})


class Check(Protocol):
    """A diagnostic: ``run`` never raises for a design it does not fit, it says so instead."""

    name: str
    null_hypothesis: str

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult: ...


def result(
    check: Check,
    status: Status,
    message: str,
    *,
    statistic: float | None = None,
    p_value: float | None = None,
    details: Mapping[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        name=check.name,
        null_hypothesis=check.null_hypothesis,
        status=status,
        statistic=statistic,
        p_value=p_value,
        message=message,
        details=details or {},
    )


def not_applicable(check: Check, reason: str) -> CheckResult:
    """The neutral result of a check that cannot speak to this design; ``reason`` says why."""
    return result(check, "not_applicable", reason, details={"reason": reason})


def judged_by_p(p_value: float, config: DiagnosticsConfig) -> Status:
    """``fail`` below ``alpha``, ``warn`` below ``warn_level``, otherwise ``pass``."""
    if p_value < config.alpha:
        return "fail"
    return "warn" if p_value < config.warn_level else "pass"


def first_start(frame: pl.DataFrame) -> int | None:
    """The earliest treatment start (cohort) of any treated unit; None when none is known."""
    start = frame.filter("treated")["cohort"].min()
    return None if start is None else int(start)  # type: ignore[arg-type]


def switching_arms(frame: pl.DataFrame) -> str | None:
    """Why there are no fixed treated and control units (a switchback design), or None."""
    switching = frame.group_by("unit").agg(pl.col("treated").n_unique() > 1)["treated"].sum()
    if switching == 0:
        return None
    return (
        f"Treatment switches on and off within {switching} unit(s) (a switchback design), so "
        "there are no fixed treated and control units for this check."
    )


def before_start(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows before any unit was treated: before the earliest start, or the pre rows without time.

    Cutting at the earliest start compares both arms over the same calendar periods, which a
    per-unit ``post`` flag would not do when units start at different times.
    """
    start = first_start(frame)
    if frame["time"].null_count() or start is None:
        return frame.filter(~pl.col("post"))
    return frame.filter(pl.col("time") < start)
