"""Difference-in-differences for a 2x2 design: treated vs control, before vs after.

Estimand: the average effect of treatment on the treated units' outcomes after the start (ATT),
identified by parallel trends: without treatment, the treated group's mean would have moved as
the control group's did.

The estimate is the coefficient on ``treated x post`` in the saturated regression
``y ~ treated + post + treated:post`` on unit-period rows, which equals the difference of the four
cell means. Standard errors are cluster-robust at the level treatment was assigned (Bertrand,
Duflo & Mullainathan 2004: serially correlated outcomes need clustering), with the CR1
small-sample factor G/(G-1) x (N-1)/(N-K) and t critical values with G-1 degrees of freedom, as
R's fixest and Stata do (Cameron & Miller 2015). With fewer than 30 clusters a warning says that
these can still be too small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import group_means, series

METHOD = "did"
ESTIMAND = "ATT: average effect on treated units after the start (difference-in-differences)"
FEW_CLUSTERS = 30


@dataclass(frozen=True)
class DidConfig(MethodConfig):
    """2x2 difference-in-differences; standard errors cluster on the panel's ``cluster``."""


def estimate_did(panel: Panel, config: DidConfig | None = None) -> Estimate:
    config = config or DidConfig()
    frame = panel.frame
    n_units = frame["unit"].n_unique()
    n_treated = frame.filter("treated")["unit"].n_unique()
    counts = {"n_obs": frame.height, "n_units": n_units, "n_treated": n_treated}
    problem = _design_problem(frame)
    if problem:
        return cannot_estimate(METHOD, ESTIMAND, problem, **counts, warnings=panel.notes)

    treated = frame["treated"].cast(pl.Float64).to_numpy()
    post = frame["post"].cast(pl.Float64).to_numpy()
    design = np.column_stack([np.ones_like(treated), treated, post, treated * post])
    clusters = frame["cluster"].cast(pl.Categorical).to_physical().to_numpy()
    n_clusters = int(np.unique(clusters).size)
    fit = sm.OLS(frame["y"].to_numpy(), design).fit(
        cov_type="cluster", cov_kwds={"groups": clusters, "use_correction": True}
    )
    df = n_clusters - 1
    effect = float(fit.params[3])
    se = float(fit.bse[3])
    t_crit = float(stats.t.ppf(1 - config.alpha / 2, df))
    p_value = float(2 * stats.t.sf(abs(effect / se), df)) if se > 0 else float(effect == 0)
    treated_post_mean = float(frame.filter("treated", "post")["y"].mean())  # type: ignore[arg-type]
    counterfactual_mean = treated_post_mean - effect

    warnings = list(panel.notes)
    if n_clusters < FEW_CLUSTERS:
        warnings.append(
            f"only {n_clusters} clusters: cluster-robust standard errors can be too small with "
            f"fewer than {FEW_CLUSTERS}; intervals use t with {df} degrees of freedom"
        )
    names = ["intercept", "treated", "post", "treated:post"]
    t_values = fit.params / fit.bse
    coefficients = [
        {
            "term": name,
            "estimate": float(fit.params[i]),
            "se": float(fit.bse[i]),
            "t": float(t_values[i]),
            "p_value": float(2 * stats.t.sf(abs(t_values[i]), df)),
        }
        for i, name in enumerate(names)
    ]
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
            "coefficients": coefficients,
            "n_clusters": n_clusters,
            "df": df,
            "counterfactual_mean": counterfactual_mean,
            "series": _series(panel),
        },
    )


def _design_problem(frame: pl.DataFrame) -> str | None:
    cells = frame.group_by("treated", "post").agg(pl.len(), pl.col("cluster").n_unique())
    present = {(t, p): (n, g) for t, p, n, g in cells.iter_rows()}
    for (arm, period), label in {
        (True, False): "treated units before the start",
        (True, True): "treated units after the start",
        (False, False): "control units before the start",
        (False, True): "control units after the start",
    }.items():
        if (arm, period) not in present:
            return f"no outcomes for {label}; difference-in-differences needs all four"
    for arm, label in ((True, "treated"), (False, "control")):
        clusters = frame.filter(pl.col("treated") == arm)["cluster"].n_unique()
        if clusters < 2:
            return (
                f"only {clusters} {label} cluster: cluster-robust inference needs at least two "
                "clusters in each arm"
            )
    return None


def _series(panel: Panel) -> dict[str, list]:
    """Treated mean per period and its counterfactual: the control mean plus the pre-period gap."""
    means = group_means(panel.frame)
    pre = means.filter(~pl.col("post"))
    gap = float(pre["treated_mean"].mean() - pre["control_mean"].mean())  # type: ignore[operator]
    return series(
        panel,
        observed=means["treated_mean"].to_list(),
        counterfactual=(means["control_mean"] + gap).to_list(),
        times=means["time"].to_list(),
        control=means["control_mean"].to_list(),
    )
