"""Pre-trends: did treated and control units move alike before the start?

Null hypothesis: before the start, treated and control units followed parallel trends, so every
lead coefficient of the event study (the treated-control gap e periods before the start,
relative to the period just before it) is zero. The statistic is the event study's joint
cluster-robust Wald test of the leads (F with G-1 denominator degrees of freedom; see
``evaluation.event_study``), whatever method produced the headline estimate: parallel trends is
the assumption of every comparison-group design here (did, event_study, staggered, and the
trend-matching of synthetic control), so it is tested the same way for all of them.

Status: ``fail`` when p < alpha, ``warn`` when alpha <= p < warn_level, else ``pass``. A pass
is weak evidence: pre-trend tests have low power with few units or periods, and conditioning on
passing one distorts later inference (Roth 2022), so a pass means "no evidence against", not
"parallel trends holds".

Not applicable without never-treated units (the event study's reference group) or with fewer
than two periods before the start (the period just before is the reference; a lead needs
another).

References
----------
Roth, J. (2022). Pretest with caution: event-study estimates after testing for parallel trends.
*American Economic Review: Insights* 4(3), 305-322.
Sun, L. and Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
heterogeneous treatment effects. *Journal of Econometrics* 225(2), 175-199.
"""

from __future__ import annotations

import math

import polars as pl

from evaluation.diagnostics.check import (
    CheckResult,
    DiagnosticsConfig,
    judged_by_p,
    not_applicable,
    result,
    switching_arms,
)
from evaluation.event_study import EventStudyConfig, estimate_event_study
from evaluation.panel import Panel
from evaluation.result import Estimate

MIN_PRE_PERIODS = 2


class PreTrends:
    """The event study's joint test that every lead is zero."""

    name = "pre_trends"
    null_hypothesis = (
        "Before the start, treated and control units followed parallel trends "
        "(every event-study lead is zero)"
    )

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult:
        switching = switching_arms(panel.frame)
        if switching:
            return not_applicable(self, switching)
        frame = panel.frame.drop_nulls(["y"])
        if frame["time"].null_count():
            return not_applicable(self, "The data have no time periods, so there is no trend.")
        if frame.filter(pl.col("cohort").is_null()).height == 0:
            return not_applicable(
                self,
                "There are no never-treated units, so there is no control trend to compare the "
                "treated units' trend with.",
            )
        event_time = pl.col("time") - pl.col("cohort")
        pre_periods = frame.filter(event_time < 0).select(event_time.n_unique()).item()
        if pre_periods < MIN_PRE_PERIODS:
            return not_applicable(
                self,
                f"The treated units have {pre_periods} period(s) before the start; a pre-trend "
                f"test needs at least {MIN_PRE_PERIODS} (the reference period and one more).",
            )
        # The headline method's own window applies when it is the event study itself.
        options = dict(config.method_options) if method == "event_study" else {}
        study = estimate_event_study(
            panel, EventStudyConfig(alpha=config.alpha, seed=config.seed, **options)
        )
        if not study.ok:
            return not_applicable(self, f"The event study could not be estimated: {study.message}")
        test = study.details["pre_trend_test"]
        if test is None or not math.isfinite(test["p_value"]):
            return not_applicable(
                self, "The event study has no lead coefficient to test, so no pre-trend test."
            )
        p_value, statistic = float(test["p_value"]), float(test["f_statistic"])
        status = judged_by_p(p_value, config)
        numbers = (
            f"F = {statistic:.2f} on {test['df_num']} and {test['df_den']} degrees of freedom, "
            f"p = {p_value:.3f}"
        )
        reading = {
            "pass": "no evidence that treated and control units were drifting apart before the "
            "start, as the comparison assumes (with few units the test has little power).",
            "warn": "weak evidence that treated and control units were already drifting apart "
            "before the start; read the effect with care.",
            "fail": "treated and control units were already drifting apart before the start, so "
            "the effect may partly reflect that trend rather than the pilot.",
        }[status]
        leads = [row for row in study.details["event_times"] if row["event_time"] < -1]
        return result(
            self,
            status,
            f"The event study compared treated and control units in each period before the "
            f"start ({numbers}): {reading}",
            statistic=statistic,
            p_value=p_value,
            details={
                "pre_trend_test": dict(test),
                "leads": sorted(leads, key=lambda row: row["event_time"]),
                "pre_periods": int(pre_periods),
            },
        )
