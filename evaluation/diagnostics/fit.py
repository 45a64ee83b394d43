"""Pre-period fit: did the method's counterfactual follow the treated units before the start?

A counterfactual that misses the treated series before the pilot, when both should agree, gives
little reason to trust it afterwards (Abadie, Diamond & Hainmueller 2010). The measure is the
root mean squared prediction error over the periods before the earliest start,

    RMSPE = sqrt(mean_t (observed_t - counterfactual_t)^2),

read from the method's ``details["series"]`` (see ``evaluation.series``) and divided by the
standard deviation of the observed treated series over the same periods (population form, so
that a counterfactual that is just the pre-period mean scores exactly 1, and the square of the
ratio is the share of the series' variance left unexplained). Null hypothesis, in words: before
the start, the counterfactual tracked the observed treated outcome. A ratio above
``fit_threshold`` (0.5: more than a quarter of the variance missed) gives ``warn``, otherwise
``pass``; the ratio is descriptive, so there is no p-value.

``informational`` when the method reports no series, or when its counterfactual equals the
observed series before the start by construction (Callaway & Sant'Anna's counterfactual is the
observed mean minus the effect, which is zero there), so that the fit says nothing.

References
----------
Abadie, A., Diamond, A. and Hainmueller, J. (2010). Synthetic control methods for comparative
case studies. *JASA* 105(490), 493-505.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation.diagnostics.check import (
    CheckResult,
    DiagnosticsConfig,
    first_start,
    not_applicable,
    result,
)
from evaluation.panel import Panel
from evaluation.result import Estimate

MIN_PRE_PERIODS = 2
# Relative size below which observed and counterfactual count as identical (float round-off).
IDENTICAL = 1e-10


class PrePeriodFit:
    """Pre-period RMSPE of the counterfactual, relative to the treated series' spread."""

    name = "pre_period_fit"
    null_hypothesis = (
        "Before the start, the method's counterfactual tracked the treated units' observed outcome"
    )

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult:
        path = estimate.details.get("series") or {}
        if not path.get("observed"):
            return result(
                self,
                "informational",
                f"The {method} method reports no observed and counterfactual series, so its "
                "fit before the start cannot be shown.",
            )
        start = first_start(panel.frame)
        if start is None or not panel.times:
            return not_applicable(
                self, "The data have no treatment start in time, so there is no pre-period."
            )
        position = {label: i for i, label in enumerate(panel.time_labels(range(len(panel.times))))}
        before = np.array([position.get(label, start) < start for label in path["period"]])
        observed = _floats(path["observed"])
        counterfactual = _floats(path["counterfactual"])
        keep = before & np.isfinite(observed) & np.isfinite(counterfactual)
        if keep.sum() < MIN_PRE_PERIODS:
            return not_applicable(
                self,
                f"The series has {int(keep.sum())} period(s) before the start with both paths; "
                f"the fit needs at least {MIN_PRE_PERIODS}.",
            )
        observed, counterfactual = observed[keep], counterfactual[keep]
        rmspe = float(np.sqrt(np.mean((observed - counterfactual) ** 2)))
        spread = float(np.std(observed))
        details = {"rmspe": rmspe, "sd_observed": spread, "pre_periods": int(keep.sum())}
        if rmspe <= IDENTICAL * max(1.0, float(np.abs(observed).max())):
            return result(
                self,
                "informational",
                f"The {method} method's counterfactual equals the observed treated series "
                "before the start (by construction), so the pre-period fit says nothing.",
                statistic=0.0,
                details=details,
            )
        if spread == 0.0:
            return not_applicable(
                self,
                "The treated series is constant before the start, so there is no variation "
                "to measure the fit against.",
            )
        ratio = rmspe / spread
        details |= {"ratio": ratio, "threshold": config.fit_threshold}
        told = (
            f"Before the start, the counterfactual missed the observed treated outcome by "
            f"{rmspe:.3g} on average (root mean square), {ratio:.2f} times the outcome's own "
            f"standard deviation over those {int(keep.sum())} periods"
        )
        if ratio > config.fit_threshold:
            return result(
                self,
                "warn",
                f"{told}. The counterfactual does not follow the treated units closely even "
                "before the pilot, so its values afterwards are less trustworthy.",
                statistic=ratio,
                details=details,
            )
        return result(
            self,
            "pass",
            f"{told}: the method reproduces the period before the pilot well.",
            statistic=ratio,
            details=details,
        )


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)
