"""Before/after comparison of the treated group: a segmented (interrupted) time-series regression.

Estimand: the average change in the treated units' mean outcome after the start, relative to
what the pre-period level, trend and season predict. Assumes that, without treatment, the
pre-period pattern would have continued and nothing else changed at the start. Without a control
series nothing absorbs shocks that hit everyone at the start, so this is the weakest design.

The treated units are averaged per period and fitted with ``y_t = b0 + b1 t + b2 post_t +
b3 (t - t0) post_t`` (Bernal, Cummins & Gasparrini 2017), plus season dummies (``t mod s``) and,
when control units exist, their mean per period as a regressor (a comparative interrupted time
series). The effect is the average over the post periods of ``b2 + b3 (t - t0)``. Period means
are autocorrelated, so errors are AR(1), fitted by iterated Prais-Winsten (statsmodels GLSAR);
``errors="hac"`` uses Newey-West covariance with ``floor(4 (T/100)^(2/9))`` lags instead (Newey
& West 1987). In our calibration study (docs/calibration.md) the AR(1) errors covered the truth
in 80-88% of trials and Newey-West in 60-80%: short series with persistent shocks defeat both,
so every result carries a warning that its interval is indicative. With fewer than three pre
periods the trend cannot be estimated and only the level change is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate, t_inference
from evaluation.series import group_means, series
from livinglab.errors import SpecError, require_one_of

METHOD = "prepost"
ESTIMAND = "average change in the treated group's mean after the start vs its pre-period trend"
MIN_PRE_FOR_TREND = 3
AR1_ITERATIONS = 200
MIN_AR1_DF = 3
INDICATIVE = (
    "one before/after series cannot tell the pilot from persistent shocks that start with it: "
    "in the calibration study (docs/calibration.md) these 95% intervals held the truth only "
    "about 80-88% of the time; treat them as indicative"
)


@dataclass(frozen=True)
class PrepostConfig(MethodConfig):
    """``trend``: model a pre-period linear trend and a slope change (segmented regression);
    ``seasonal_period``: add a dummy per season (e.g. 52 for weekly data with a yearly cycle);
    ``control_series``: add the control units' mean per period as a regressor, when there are
    control units, so that shocks common to both are not mistaken for effects.
    """

    trend: bool = True
    seasonal_period: int | None = None
    control_series: bool = True
    errors: Literal["ar1", "hac"] = "ar1"

    def __post_init__(self) -> None:
        super().__post_init__()
        require_one_of("errors", self.errors, ("ar1", "hac"))
        if self.seasonal_period is not None and self.seasonal_period < 2:
            raise SpecError(
                f"seasonal_period: {self.seasonal_period} is not allowed; use 2 or more, or none"
            )


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
    columns: dict[str, np.ndarray] = {"intercept": np.ones_like(y)}
    if use_trend:
        columns["trend"] = time
    columns["level_change"] = post
    if slope_change:
        columns["slope_change"] = since_start
    if config.seasonal_period:
        for season in range(1, config.seasonal_period):
            columns[f"season_{season}"] = (time % config.seasonal_period == season).astype(float)
    for name, values in _covariate_series(treated, means["time"], panel.covariates).items():
        columns[name] = values
    control = _control_series(panel.frame, means["time"])
    pre_terms = len(columns) - (2 if slope_change else 1)
    if config.control_series and control is not None and n_pre >= pre_terms + 2:
        columns["control_mean"] = control
    elif config.control_series and control is not None:
        warnings.append(f"only {n_pre} pre periods: the control series was not used")
    if n_pre <= len(columns) - (2 if slope_change else 1):
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            f"{n_pre} pre periods cannot fit {len(columns)} terms ({', '.join(columns)}); "
            "use fewer (no trend, seasonality or control series) or a longer pre-period",
            **counts,
        )
    names = list(columns)
    design = np.column_stack(list(columns.values()))
    lags = math.floor(4 * (len(y) / 100) ** (2 / 9))
    # Prais-Winsten loses a period to the AR(1) and needs a few more to estimate it.
    errors = config.errors
    if errors == "ar1" and len(y) - design.shape[1] - 1 < MIN_AR1_DF:
        errors = "hac"
        warnings.append(f"only {len(y)} periods: Newey-West errors instead of AR(1)")
    if errors == "hac":
        fit = sm.OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    else:
        with np.errstate(divide="ignore", invalid="ignore"):  # an exact fit has zero params
            fit = sm.GLSAR(y, design, rho=1).iterative_fit(maxiter=AR1_ITERATIONS, rtol=1e-12)
    warnings.append(INDICATIVE)
    contrast = np.zeros(design.shape[1])
    contrast[names.index("level_change")] = 1.0
    if slope_change:
        contrast[names.index("slope_change")] = since_start[post == 1].mean()
    effect = float(contrast @ fit.params)
    se = float(np.sqrt(contrast @ fit.cov_params() @ contrast))
    df = len(y) - design.shape[1]
    if df < 1:
        return cannot_estimate(
            METHOD, ESTIMAND, "too few periods to estimate the model and its error", **counts
        )
    inference = t_inference(effect, se, df, config.alpha)
    baseline = design.copy()
    baseline[:, [names.index(n) for n in ("level_change", "slope_change") if n in names]] = 0.0
    counterfactual = baseline @ fit.params
    counterfactual_mean = float(counterfactual[post == 1].mean())
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=se,
        ci_low=inference.ci_low,
        ci_high=inference.ci_high,
        p_value=inference.p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            "trend": use_trend,
            "coefficients": {n: float(b) for n, b in zip(names, fit.params, strict=True)},
            "errors": errors,
            "hac_lags": lags if errors == "hac" else None,
            "ar1_rho": float(fit.model.rho[0]) if errors == "ar1" else None,
            "df": df,
            "counterfactual_mean": counterfactual_mean,
            "series": series(panel, y.tolist(), counterfactual.tolist(), means["time"].to_list()),
        },
    )


def _covariate_series(
    treated: pl.DataFrame, times: pl.Series, covariates: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Each covariate's treated mean at each of ``times``, where it varies over time."""
    if not covariates:
        return {}
    means = treated.group_by("time").agg(pl.col(c).mean() for c in covariates)
    aligned = pl.DataFrame({"time": times}).join(means, on="time", how="left")
    return {
        name: aligned[name].fill_null(0.0).to_numpy().astype(float)
        for name in covariates
        if aligned[name].drop_nulls().n_unique() > 1
    }


def _control_series(frame: pl.DataFrame, times: pl.Series) -> np.ndarray | None:
    """The control units' mean outcome at each of ``times``; None unless observed at all."""
    controls = frame.filter(~pl.col("treated"))
    if controls.height == 0:
        return None
    means = controls.group_by("time").agg(pl.col("y").mean())
    aligned = pl.DataFrame({"time": times}).join(means, on="time", how="left")["y"]
    return None if aligned.null_count() else aligned.to_numpy()
