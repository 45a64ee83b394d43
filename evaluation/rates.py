"""Event rates with exposure in a randomized trial: disengagements per 1,000 km, faults per 1,000 h.

Estimand: the difference between the treated and control arms' event rates per ``per`` (1,000
by default) exposure units after the start (treated minus control), with the rate ratio
alongside. Each arm's rate is its total events over its total exposure, so a route driven twice
as far counts twice as much.
Identification is by randomisation, as in ``evaluation.randomized``.

The model is a Poisson regression of each row's event count on an arm indicator with
``log(exposure)`` as offset (statsmodels ``GLM``); with one indicator its maximum-likelihood rate
ratio is exactly the ratio of the arms' events-per-exposure. Standard errors are cluster-robust
on the randomisation unit (unit, cluster, or switchback block) with the CR1 factor G/(G-1) x
(N-1)/(N-K), so they do not rely on the Poisson variance; intervals use t with G-1 degrees of
freedom as ``did`` does (Cameron & Miller 2015). When the Pearson statistic per residual degree of
freedom exceeds 1.5 the counts are overdispersed and a negative binomial (NB2) model with
estimated dispersion is fitted instead (Cameron & Trivedi 2013, ch. 3), with a warning; should it
fail to converge the Poisson fit is kept and that is said.

The headline effect is ``1000 (exp(b0 + b1) - exp(b0))`` with a delta-method standard error;
its p-value is the Wald test of that same difference, so the p-value and interval always agree.
The rate ratio ``exp(b1)``, its interval and Wald p-value are in ``details``; ``relative_effect``
is the rate ratio minus one. With randomization inference on, ``details["randomization_p_value"]``
holds Fisher's p-value for the sharp null of no effect on any unit's events, using the difference
of the arms' totals-based rates as statistic (Imbens & Rubin 2015, ch. 5). Pre-period rows and
CUPED play no part in a rate comparison.

References
----------
Cameron, A. C. & Trivedi, P. K. (2013). *Regression Analysis of Count Data*, 2nd ed., ch. 3.
Cambridge University Press.
Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317-372.
Imbens, G. W. & Rubin, D. B. (2015). *Causal Inference for Statistics, Social, and Biomedical
Sciences*, ch. 5. Cambridge University Press.
"""

from __future__ import annotations

import math
import warnings as python_warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

from evaluation.panel import Panel
from evaluation.randomized_inference import TIE, assignment_sums
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import series
from livinglab.errors import InputError

if TYPE_CHECKING:
    from evaluation.randomized import RandomizedConfig

METHOD = "randomized"
OVERDISPERSED = 1.5


def compare_rates(
    rows: pl.DataFrame,
    panel: Panel,
    config: RandomizedConfig,
    *,
    counts: dict[str, int],
    warnings: list[str],
    design: dict[str, Any],
) -> Estimate:
    """Rate comparison of post-period ``rows`` carrying ``ru`` (randomisation unit) and ``stratum``.

    Raises ``InputError`` when the exposure column is missing or counts are negative.
    """
    exposure = str(config.exposure)
    estimand = (
        f"difference in events per {config.per:,g} {exposure} after the start "
        "(treated minus control)"
    )
    if exposure not in panel.frame.columns:
        available = ", ".join(panel.covariates) or "none"
        raise InputError(
            f"exposure: column {exposure!r} is not in the panel of {panel.outcome!r}; "
            f"covariate columns: {available}"
        )
    negative = int((rows["y"] < 0).sum())
    if negative:
        raise InputError(
            f"{panel.outcome}: a rate comparison needs event counts of zero or more; "
            f"{negative} row(s) are negative"
        )
    usable = rows.filter(pl.col(exposure).is_not_null() & (pl.col(exposure) > 0))
    if usable.height < rows.height:
        warnings.append(
            f"{rows.height - usable.height} row(s) without positive {exposure} were left out"
        )
    totals = usable.group_by("treated").agg(
        pl.col("y").sum().alias("events"),
        pl.col(exposure).sum().alias("exposure"),
        pl.col("ru").n_unique().alias("units"),
    )
    arm = {t: (e, x, n) for t, e, x, n in totals.iter_rows()}
    for flag, label in ((True, "treated"), (False, "control")):
        events, _, units = arm.get(flag, (0.0, 0.0, 0))
        problem = None
        if units < 2:
            problem = f"only {units} {label} randomisation unit(s) have positive {exposure}"
        elif events == 0:
            problem = f"no events in the {label} arm, so the log rate ratio is not defined"
        if problem:
            return cannot_estimate(METHOD, estimand, problem, **counts, warnings=tuple(warnings))

    y = usable["y"].to_numpy().astype(float)
    offset = np.log(usable[exposure].to_numpy().astype(float))
    design_matrix = np.column_stack([np.ones_like(y), usable["treated"].to_numpy().astype(float)])
    groups = usable["ru"].rank("dense").to_numpy()
    cluster = {"groups": groups}
    poisson = sm.GLM(y, design_matrix, family=sm.families.Poisson(), offset=offset).fit(
        cov_type="cluster", cov_kwds=cluster
    )
    dispersion = float(poisson.pearson_chi2 / poisson.df_resid) if poisson.df_resid else 0.0
    fit, model, nb_alpha = poisson, "poisson", None
    if dispersion > OVERDISPERSED:
        with python_warnings.catch_warnings(record=True) as caught:
            python_warnings.simplefilter("always")
            negbin = sm.NegativeBinomial(y, design_matrix, offset=offset).fit(
                cov_type="cluster", cov_kwds=cluster, disp=0
            )
        failed = any(
            issubclass(w.category, ConvergenceWarning | HessianInversionWarning) for w in caught
        ) or not np.all(np.isfinite(negbin.bse))
        if failed:
            warnings.append(
                f"counts are overdispersed (Pearson chi2/df = {dispersion:.2f}) but the negative "
                "binomial fit did not converge; the Poisson fit with cluster-robust errors is used"
            )
        else:
            fit, model, nb_alpha = negbin, "negative_binomial", float(negbin.params[2])
            warnings.append(
                f"counts are overdispersed (Pearson chi2/df = {dispersion:.2f} > "
                f"{OVERDISPERSED}): a negative binomial model was used instead of Poisson"
            )

    params = np.asarray(fit.params)[:2]
    cov = np.asarray(fit.cov_params())[:2, :2]
    n_groups = int(np.unique(groups).size)
    df = n_groups - 1
    t_crit = float(stats.t.ppf(1 - config.alpha / 2, df))
    control_rate = config.per * math.exp(params[0])
    treated_rate = config.per * math.exp(params[0] + params[1])
    effect = treated_rate - control_rate
    gradient = np.array([effect, treated_rate])
    se = float(np.sqrt(gradient @ cov @ gradient))
    se_log_ratio = float(np.sqrt(cov[1, 1]))
    p_value = float(2 * stats.t.sf(abs(effect / se), df)) if se > 0 else float(effect == 0)
    rate_ratio = math.exp(params[1])
    fisher = (
        _fisher_rate_difference(usable, exposure, config)
        if config.randomization_inference
        else None
    )
    return Estimate(
        method=METHOD,
        estimand=estimand,
        effect=effect,
        se=se,
        ci_low=effect - t_crit * se,
        ci_high=effect + t_crit * se,
        p_value=p_value,
        relative_effect=rate_ratio - 1,
        **counts,
        warnings=tuple(warnings),
        details={
            **design,
            "model": model,
            "exposure": exposure,
            "per": config.per,
            "dispersion": dispersion,
            "negative_binomial_alpha": nb_alpha,
            "rate_ratio": rate_ratio,
            "rate_ratio_ci_low": math.exp(params[1] - t_crit * se_log_ratio),
            "rate_ratio_ci_high": math.exp(params[1] + t_crit * se_log_ratio),
            "rate_ratio_p_value": float(2 * stats.t.sf(abs(params[1] / se_log_ratio), df)),
            "treated_rate": treated_rate,
            "control_rate": control_rate,
            "counterfactual_mean": control_rate,
            "arms": {
                label: {"events": float(arm[flag][0]), "exposure": float(arm[flag][1])}
                for flag, label in ((True, "treated"), (False, "control"))
            },
            "n_clusters": n_groups,
            "df": df,
            "inference": "cluster-robust Wald (delta method)",
            "randomization_p_value": fisher[0] if fisher else None,
            "randomization_exact": fisher[1] if fisher else None,
            "series": _series(panel, exposure, config.per),
        },
    )


def _fisher_rate_difference(
    rows: pl.DataFrame, exposure: str, config: RandomizedConfig
) -> tuple[float, bool]:
    """Fisher p-value of the totals-based rate difference over re-randomised units."""
    units = (
        rows.group_by("ru")
        .agg(pl.col("stratum", "treated").first(), pl.col("y").sum(), pl.col(exposure).sum())
        .sort("ru")
    )
    values = units.select("y", exposure).to_numpy().astype(float)
    sums, exact = assignment_sums(
        units["treated"].to_numpy(),
        units["stratum"].rank("dense").to_numpy(),
        values,
        n_permutations=config.n_permutations,
        seed=config.seed,
    )
    rest = values.sum(axis=0) - sums
    statistic = np.abs(sums[:, 0] / sums[:, 1] - rest[:, 0] / rest[:, 1])
    extreme = statistic >= statistic[0] - TIE * statistic.max()
    return float(extreme.mean()), exact


def _series(panel: Panel, exposure: str, per: float) -> dict[str, list]:
    """Events per ``per`` exposure units per period in each arm (control as counterfactual)."""
    frame = panel.frame.filter(pl.col(exposure) > 0)
    if frame["time"].null_count():
        return series(panel, [], [], [])

    def rate(arm: bool) -> pl.Expr:
        inside = pl.col("treated") == arm
        return per * pl.col("y").filter(inside).sum() / pl.col(exposure).filter(inside).sum()

    rates = (
        frame.group_by("time")
        .agg(rate(True).alias("treated"), rate(False).alias("control"))
        .sort("time")
        .with_columns(pl.col("treated", "control").fill_nan(None))
    )
    return series(
        panel,
        observed=rates["treated"].to_list(),
        counterfactual=rates["control"].to_list(),
        times=rates["time"].to_list(),
    )
