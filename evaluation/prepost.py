"""Before/after comparison of the treated group: a segmented (interrupted) time-series regression.

Estimand: the average change in the treated units' mean outcome after the start, relative to
what the pre-period level and trend predict. Assumes that, without treatment, the pre-period
trend would have continued, and that nothing else changed at the start; unlike
difference-in-differences there is no control group to absorb common shocks, so this is the
weakest design and is used only when no control exists.

The treated units are averaged per period and fitted with ``y_t = b0 + b1 t + b2 post_t +
b3 (t - t0) post_t`` (Bernal, Cummins & Gasparrini 2017). The effect is the average over the
post periods of ``b2 + b3 (t - t0)``; its standard error uses Newey-West (HAC) covariance with
``floor(4 (T/100)^(2/9))`` lags (Newey & West 1987), because period means are autocorrelated.
With fewer than three pre periods the trend cannot be estimated and only the level change is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import group_means, series

METHOD = "prepost"
ESTIMAND = "average change in the treated group's mean after the start vs its pre-period trend"
MIN_PRE_FOR_TREND = 3


@dataclass(frozen=True)
class PrepostConfig(MethodConfig):
    """``trend``: model a pre-period linear trend and a slope change (segmented regression)."""

    trend: bool = True


def estimate_prepost(panel: Panel, config: PrepostConfig | None = None) -> Estimate:
    config = config or PrepostConfig()
    treated = panel.frame.filter("treated")
    counts = {
        "n_obs": treated.height,
        "n_units": treated["unit"].n_unique(),
        "n_treated": treated["unit"].n_unique(),
    }
    means = group_means(treated).select("time", "post", pl.col("treated_mean").alias("y"))
    n_pre = int((~means["post"]).sum())
    n_post = int(means["post"].sum())
    if treated.height == 0:
        return cannot_estimate(METHOD, ESTIMAND, "no treated units have outcomes", **counts)
    if n_pre < 2 or n_post < 1:
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            f"a before/after comparison needs at least 2 periods before and 1 after the start; "
            f"found {n_pre} before and {n_post} after",
            **counts,
        )
    warnings = list(panel.notes)
    use_trend = config.trend and n_pre >= MIN_PRE_FOR_TREND
    if config.trend and not use_trend:
        warnings.append(
            f"only {n_pre} pre periods: the trend was not modelled, only the level change"
        )

    y = means["y"].to_numpy()
    post = means["post"].cast(pl.Float64).to_numpy()
    time = means["time"].to_numpy().astype(float)
    since_start = np.where(post == 1, time - time[post == 1][0], 0.0)
    # A slope change needs two post periods; with one, the trend model keeps only the level.
    slope_change = use_trend and n_post >= 2
    columns = [np.ones_like(y), post]
    if use_trend:
        columns = [np.ones_like(y), time, post] + ([since_start] if slope_change else [])
    design = np.column_stack(columns)
    lags = math.floor(4 * (len(y) / 100) ** (2 / 9))
    fit = sm.OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    contrast = np.zeros(design.shape[1])
    if use_trend:
        contrast[2] = 1.0
        if slope_change:
            contrast[3] = since_start[post == 1].mean()
    else:
        contrast[1] = 1.0
    effect = float(contrast @ fit.params)
    se = float(np.sqrt(contrast @ fit.cov_params() @ contrast))
    df = len(y) - design.shape[1]
    if df < 1:
        return cannot_estimate(
            METHOD, ESTIMAND, "too few periods to estimate the model and its error", **counts
        )
    t_crit = float(stats.t.ppf(1 - config.alpha / 2, df))
    p_value = float(2 * stats.t.sf(abs(effect / se), df)) if se > 0 else float(effect == 0)
    baseline = design.copy()
    baseline[:, 2 if use_trend else 1 :] = 0.0
    counterfactual = baseline @ fit.params
    counterfactual_mean = float(counterfactual[post == 1].mean())
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=se,
        ci_low=effect - t_crit * se,
        ci_high=effect + t_crit * se,
        p_value=p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            "trend": use_trend,
            "hac_lags": lags,
            "df": df,
            "counterfactual_mean": counterfactual_mean,
            "series": series(panel, y.tolist(), counterfactual.tolist(), means["time"].to_list()),
        },
    )
