"""Balance: were treated and control units alike before the start?

Null hypothesis: before the start, treated and control units were alike on average, in the
outcome's level and in every covariate. Each variable is first averaged per unit over the rows
before the earliest start (weighted by ``weight``), then compared between the arms by its
standardised mean difference (Austin 2009)::

    SMD = (mean_treated - mean_control) / sqrt((s2_treated + s2_control) / 2)

with sample variances across units. With a single treated unit its spread is unknown and the
control variance stands in for it, so the SMD is the treated unit's z-score among the controls.
An absolute SMD above 0.25 is the usual flag for imbalance (Stuart 2010, citing Rubin 2001): the
status is ``warn`` and the variables are named; otherwise ``pass``. The SMD is descriptive, not
a test, so there is no p-value: unlike a t-test it does not grow with the sample size.

Designs that compare trends (difference-in-differences, event studies) allow level differences
between the arms; large ones still make similar trends less plausible, and for randomized
designs they point to a failed randomization or chance imbalance worth adjusting for.

References
----------
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline covariates
between treatment groups in propensity-score matched samples. *Statistics in Medicine* 28(25),
3083-3107.
Stuart, E. A. (2010). Matching methods for causal inference: a review and a look forward.
*Statistical Science* 25(1), 1-21.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from evaluation.diagnostics.check import (
    CheckResult,
    DiagnosticsConfig,
    before_start,
    not_applicable,
    result,
    switching_arms,
)
from evaluation.panel import Panel
from evaluation.result import Estimate

MIN_CONTROLS = 2


class Balance:
    """Standardised mean differences of the pre-period outcome level and every covariate."""

    name = "balance"
    null_hypothesis = (
        "Treated and control units were alike before the start "
        "(same average outcome level and covariates)"
    )

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult:
        switching = switching_arms(panel.frame)
        if switching:
            return not_applicable(self, switching)
        columns = ["y", *panel.covariates]
        per_unit = (
            before_start(panel.frame)
            .group_by("unit")
            .agg(
                pl.col("treated").first(),
                *[
                    (pl.col(c) * pl.col("weight")).sum()
                    / pl.col("weight").filter(pl.col(c).is_not_null()).sum()
                    for c in columns
                ],
            )
        )
        n_treated = int(per_unit["treated"].sum())
        n_control = per_unit.height - n_treated
        if n_treated < 1 or n_control < MIN_CONTROLS:
            return not_applicable(
                self,
                f"Before the start there are {n_treated} treated and {n_control} control units "
                f"with data; balance needs at least 1 treated and {MIN_CONTROLS} control units.",
            )
        values = per_unit.select(columns).to_numpy().astype(float)
        arm = per_unit["treated"].to_numpy()
        table = _standardised_differences(values[arm], values[~arm])
        names = [f"{panel.outcome} (outcome)", *panel.covariates]
        rows = [
            {
                "variable": name,
                "kind": "outcome" if i == 0 else "covariate",
                "treated_mean": _number(table["treated_mean"][i]),
                "control_mean": _number(table["control_mean"][i]),
                "smd": _number(table["smd"][i]),
            }
            for i, name in enumerate(names)
        ]
        # A difference with no spread at all is infinitely standardised: imbalanced.
        flagged = [
            i
            for i, smd in enumerate(table["smd"])
            if abs(smd) > config.smd_threshold and not np.isnan(smd)
        ]
        finite = np.abs(table["smd"][np.isfinite(table["smd"])])
        largest = float(finite.max()) if finite.size else None
        details = {
            "variables": rows,
            "threshold": config.smd_threshold,
            "flagged": [names[i] for i in flagged],
            "n_treated": n_treated,
            "n_control": n_control,
        }
        if flagged:
            listed = ", ".join(f"{names[i]} ({_describe(table['smd'][i])})" for i in flagged)
            return result(
                self,
                "warn",
                f"Before the start, treated and control units differed by more than "
                f"{config.smd_threshold:g} standard deviations in: {listed}. Methods comparing "
                "trends allow level differences, but large ones make similar trends less "
                "plausible.",
                statistic=largest,
                details=details,
            )
        covariates = f" and {len(panel.covariates)} covariate(s)" if panel.covariates else ""
        return result(
            self,
            "pass",
            f"Before the start, treated and control units were within {config.smd_threshold:g} "
            f"standard deviations of each other on the outcome level{covariates} (largest "
            f"absolute standardised difference {largest or 0.0:.2f}).",
            statistic=largest,
            details=details,
        )


def _standardised_differences(treated: np.ndarray, control: np.ndarray) -> dict[str, np.ndarray]:
    """Per column: arm means and the SMD (NaN without data, +-inf with a gap but no spread)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        treated_mean = _nanmean(treated)
        control_mean = _nanmean(control)
        control_var = _nanvar(control)
        treated_var = np.where(np.sum(~np.isnan(treated), axis=0) > 1, _nanvar(treated), np.nan)
        treated_var = np.where(np.isnan(treated_var), control_var, treated_var)
        gap = treated_mean - control_mean
        spread = np.sqrt((treated_var + control_var) / 2)
        smd = np.where(gap == 0, 0.0, gap / spread)
    return {"treated_mean": treated_mean, "control_mean": control_mean, "smd": smd}


def _nanmean(values: np.ndarray) -> np.ndarray:
    count = np.sum(~np.isnan(values), axis=0)
    return np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)


def _nanvar(values: np.ndarray) -> np.ndarray:
    """Sample variance per column ignoring NaN; NaN with fewer than two values."""
    count = np.sum(~np.isnan(values), axis=0)
    deviations = np.where(np.isnan(values), 0.0, values - _nanmean(values))
    return np.where(count > 1, (deviations**2).sum(axis=0) / np.maximum(count - 1, 1), np.nan)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _describe(smd: float) -> str:
    return f"{smd:+.2f}" if np.isfinite(smd) else "a gap with no spread within the arms"
