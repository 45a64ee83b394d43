"""Event study: effects by time relative to treatment, with leads, lags and a pre-trend test.

Estimand: for each event time e = t - cohort, the average effect on treated units e periods
after (e >= 0) or before (e < 0) treatment began, relative to the period just before (e = -1).
Leads (e < -1) estimate nothing causal: under parallel trends and no anticipation they are zero,
which the joint pre-trend test checks (H0: every lead coefficient is 0; a cluster-robust Wald
test, F with G-1 denominator degrees of freedom).

The regression is two-way fixed effects on event-time indicators, never-treated units as the
reference (all indicators zero). The endpoints are binned: event times beyond ``window`` on
either side share one indicator, so far-out periods do not drop silently. With staggered timing
these coefficients can mix effects across cohorts (Sun & Abraham 2021): a warning says so.

The headline effect is the average of the post-treatment coefficients (e = 0 .. window), with
its standard error from their covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.regression import Nuisance, codes, fit_linear
from evaluation.result import Estimate, cannot_estimate, t_inference
from evaluation.series import parallel_trends_series

METHOD = "event_study"
ESTIMAND = "average effect over event times 0..window after treatment (event-study TWFE)"
REFERENCE = -1


@dataclass(frozen=True)
class EventStudyConfig(MethodConfig):
    """``window``: event times -window..window get their own coefficient; beyond are binned."""

    window: int = 4


def estimate_event_study(panel: Panel, config: EventStudyConfig | None = None) -> Estimate:
    config = config or EventStudyConfig()
    frame = panel.frame.drop_nulls(["y", "time", *panel.covariates])
    counts = {
        "n_obs": frame.height,
        "n_units": frame["unit"].n_unique(),
        "n_treated": frame.filter(pl.col("cohort").is_not_null())["unit"].n_unique(),
    }
    event_time = (pl.col("time") - pl.col("cohort")).clip(-config.window, config.window)
    frame = frame.with_columns(event_time.alias("event_time"))
    observed = sorted(frame["event_time"].drop_nulls().unique().to_list())
    leads = [e for e in observed if e < REFERENCE]
    lags = [e for e in observed if e >= 0]
    problem = _problem(frame, observed, lags)
    if problem:
        return cannot_estimate(METHOD, ESTIMAND, problem, **counts, warnings=panel.notes)

    terms = leads + lags
    indicators = frame.select(
        [
            (pl.col("event_time") == e).fill_null(False).cast(pl.Float64).alias(f"e{e}")
            for e in terms
        ]
    ).to_numpy()
    covariates = frame.select(panel.covariates).to_numpy().astype(float)
    clusters = codes(frame["cluster"])
    fit = fit_linear(
        frame["y"].to_numpy(),
        np.column_stack([indicators, covariates]) if panel.covariates else indicators,
        Nuisance(
            (codes(frame["unit"]), frame["time"].to_numpy().astype(np.int64)),
            None,
            np.sqrt(frame["weight"].to_numpy()),
        ),
        se="cluster",
        clusters=clusters,
    )
    if fit.df < 1 or not np.all(np.isfinite(fit.se[: len(terms)])):
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            "too few clusters or observations for the event-time coefficients",
            **counts,
            warnings=panel.notes,
        )
    t_crit = float(stats.t.ppf(1 - config.alpha / 2, fit.df))  # for every event time
    post = np.array([e >= 0 for e in terms])
    contrast = np.where(post, 1.0 / post.sum(), 0.0)
    effect = float(contrast @ fit.coef[: len(terms)])
    se = float(np.sqrt(contrast @ fit.cov[: len(terms), : len(terms)] @ contrast))
    headline = t_inference(effect, se, fit.df, config.alpha)
    pre_trend = _pre_trend_test(
        fit.coef, fit.cov, [i for i, e in enumerate(terms) if e < 0], fit.df
    )
    warnings = list(panel.notes)
    if frame.filter(pl.col("cohort").is_not_null())["cohort"].n_unique() > 1:
        warnings.append(
            "treatment starts at different times: event-study coefficients from two-way fixed "
            "effects can mix cohorts' effects (Sun & Abraham 2021); compare with staggered"
        )
    if pre_trend and pre_trend["p_value"] < config.alpha:
        warnings.append(
            f"pre-trends: the leads are jointly different from zero (p = "
            f"{pre_trend['p_value']:.3f}); parallel trends is doubtful"
        )
    treated_post = frame.filter(pl.col("event_time") >= 0)["y"]
    counterfactual_mean = float(treated_post.mean()) - effect  # type: ignore[arg-type]
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND.replace("window", str(config.window)),
        effect=effect,
        se=se,
        ci_low=headline.ci_low,
        ci_high=headline.ci_high,
        p_value=headline.p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            "event_times": [
                {
                    "event_time": int(e),
                    "estimate": float(fit.coef[i]),
                    "se": float(fit.se[i]),
                    "ci_low": float(fit.coef[i] - t_crit * fit.se[i]),
                    "ci_high": float(fit.coef[i] + t_crit * fit.se[i]),
                    "binned": abs(e) == config.window,
                }
                for i, e in enumerate(terms)
            ]
            + [
                {
                    "event_time": REFERENCE,
                    "estimate": 0.0,
                    "se": 0.0,
                    "ci_low": 0.0,
                    "ci_high": 0.0,
                    "binned": False,
                }
            ],
            "reference_period": REFERENCE,
            "pre_trend_test": pre_trend,
            "n_clusters": int(clusters.max()) + 1,
            "df": fit.df,
            "series": parallel_trends_series(
                panel.with_frame(
                    frame.with_columns(pl.col("cohort").is_not_null().alias("treated"))
                )
            ),
        },
    )


def _problem(frame: pl.DataFrame, observed: list[int], lags: list[int]) -> str | None:
    if frame.filter(pl.col("cohort").is_null()).height == 0:
        return "no never-treated units to compare with; an event study needs a reference group"
    if not observed:
        return "no treated units with outcomes"
    if REFERENCE not in observed:
        return "no treated outcomes in the period just before treatment (event time -1)"
    if not lags:
        return "no treated outcomes after treatment began"
    return None


def _pre_trend_test(
    coef: np.ndarray, cov: np.ndarray, leads: list[int], df: int
) -> dict[str, float | int | str] | None:
    """Joint Wald test that every lead is zero; None when there are no leads."""
    if not leads:
        return None
    b = coef[leads]
    v = cov[np.ix_(leads, leads)]
    statistic = float(b @ np.linalg.pinv(v) @ b) / len(leads)
    return {
        "null_hypothesis": "before treatment, treated and control units trended alike "
        "(every lead coefficient is zero)",
        "f_statistic": statistic,
        "df_num": len(leads),
        "df_den": df,
        "p_value": float(stats.f.sf(statistic, len(leads), df)),
    }
