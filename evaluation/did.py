"""Difference-in-differences: the 2x2 design and two-way fixed effects.

Estimand: the average effect of treatment on the treated (ATT), identified by parallel trends:
without treatment, treated units' outcomes would have moved as the controls' did.

- ``2x2`` (one treatment start; panels or pooled cross-sections): the coefficient on
  ``treated x post`` in ``y ~ treated + post + treated:post (+ covariates)``; without
  covariates it is exactly the difference of the four cell means.
- ``twfe`` (panels): the coefficient on ``D = treated and time >= cohort`` with unit and time
  fixed effects (+ covariates). With staggered timing TWFE weights cohorts oddly and can even
  flip sign (Goodman-Bacon 2021); a warning points to the ``staggered`` method.

Standard errors cluster where treatment was assigned (Bertrand, Duflo & Mullainathan 2004), with
R fixest's small-sample conventions (see ``evaluation.regression``). With fewer than 30 clusters
the p-value and interval come from the wild cluster restricted bootstrap with Webb weights
(``evaluation.wild_bootstrap``) and a warning says so; ``se`` stays the analytic CR1 value.
When every observation is its own cluster, HC1 errors are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.regression import LinearFit, Nuisance, codes, fit_linear
from evaluation.result import Estimate, cannot_estimate, point_only, t_inference
from evaluation.series import parallel_trends_series
from evaluation.wild_bootstrap import wild_cluster_bootstrap
from livinglab.errors import require_one_of

METHOD = "did"
ESTIMAND = "ATT: average effect on treated units after the start (difference-in-differences)"
FEW_CLUSTERS = 30
Model = Literal["auto", "2x2", "twfe"]
StandardErrors = Literal["auto", "hetero", "cluster", "wild"]


@dataclass(frozen=True)
class DidConfig(MethodConfig):
    """``model``: ``auto`` is 2x2 with one start date and TWFE with staggered starts.
    ``se``: ``auto`` clusters, switching to the wild bootstrap below 30 clusters.
    """

    model: Model = "auto"
    se: StandardErrors = "auto"
    bootstrap_draws: int = 9999

    def __post_init__(self) -> None:
        super().__post_init__()
        require_one_of("model", self.model, ("auto", "2x2", "twfe"))
        require_one_of("se", self.se, ("auto", "hetero", "cluster", "wild"))


def estimate_did(panel: Panel, config: DidConfig | None = None) -> Estimate:
    config = config or DidConfig()
    frame = panel.frame.drop_nulls(["y", *panel.covariates])
    counts = {
        "n_obs": frame.height,
        "n_units": frame["unit"].n_unique(),
        "n_treated": frame.filter("treated")["unit"].n_unique(),
    }
    cohorts = frame.filter("treated")["cohort"].drop_nulls().unique()
    model = config.model
    if model == "auto":
        model = "twfe" if cohorts.len() > 1 else "2x2"
    if model == "twfe" and frame["time"].null_count():
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            "two-way fixed effects need a time column",
            **counts,
            warnings=panel.notes,
        )
    problem = _design_problem(frame, model)
    if problem:
        return cannot_estimate(METHOD, ESTIMAND, problem, **counts, warnings=panel.notes)

    warnings = list(panel.notes)
    if model == "twfe" and cohorts.len() > 1:
        warnings.append(
            f"treatment starts at {cohorts.len()} different times: two-way fixed effects can "
            "weight cohorts negatively (Goodman-Bacon 2021); compare with the staggered method"
        )
    treatment = (pl.col("treated") & pl.col("post")).cast(pl.Float64)
    if model == "twfe":
        treatment = (pl.col("time") >= pl.col("cohort")).fill_null(False).cast(pl.Float64)
    regressors = frame.select(treatment.alias("D"), *panel.covariates).to_numpy().astype(float)
    scale = np.sqrt(frame["weight"].to_numpy())
    cluster_codes = codes(frame["cluster"])
    n_clusters = int(cluster_codes.max()) + 1
    se_kind = config.se
    if se_kind == "auto":
        se_kind = "wild" if n_clusters < FEW_CLUSTERS else "cluster"
    if n_clusters == frame.height:
        se_kind = "hetero"  # one observation per cluster: nothing to cluster
    if model == "twfe":
        nuisance = Nuisance(
            (codes(frame["unit"]), frame["time"].to_numpy().astype(np.int64)),
            None,
            scale,
        )
    else:
        base = frame.select(
            pl.lit(1.0), pl.col("treated").cast(pl.Float64), pl.col("post").cast(pl.Float64)
        ).to_numpy()
        nuisance = Nuisance((), base, scale)
    fit = fit_linear(
        frame["y"].to_numpy(),
        regressors,
        nuisance,
        se="hetero" if se_kind == "hetero" else "cluster",
        clusters=None if se_kind == "hetero" else cluster_codes,
    )
    if float(fit.x[:, 0] @ fit.x[:, 0]) <= 1e-10 * frame.height:
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            "the treatment indicator is collinear with the fixed effects "
            "and covariates: nothing varies to identify an effect",
            **counts,
            warnings=panel.notes,
        )
    effect, se = float(fit.coef[0]), float(fit.se[0])
    no_inference = _inference_problem(frame, se_kind)
    if no_inference is None and (fit.df < 1 or not np.isfinite(se)):
        no_inference = (
            f"{fit.n_obs} observations for {fit.n_params} parameters: the effect is identified, "
            "but no degrees of freedom are left for its uncertainty"
        )
    if no_inference:
        return point_only(
            METHOD,
            ESTIMAND,
            effect,
            no_inference,
            **counts,
            warnings=panel.notes,
            details={"model": model, "coefficients": [{"term": "D", "estimate": effect}]},
        )
    inference_t = t_inference(effect, se, fit.df, config.alpha)
    p_value, ci_low, ci_high = inference_t.p_value, inference_t.ci_low, inference_t.ci_high
    inference = {"hetero": "HC1", "cluster": "CR1, t with G-1 df", "wild": ""}[se_kind]
    if se_kind == "wild":
        boot = wild_cluster_bootstrap(
            fit.x[:, 0],
            _without_others(fit, fit.y),
            cluster_codes,
            lambda m: _without_others(fit, nuisance.project_out(m)),
            small_sample=_cr1_factor(fit),
            alpha=config.alpha,
            draws=config.bootstrap_draws,
            seed=config.seed,
        )
        p_value, ci_low, ci_high = boot.p_value, boot.ci_low, boot.ci_high
        inference = f"wild cluster restricted bootstrap, Webb weights, {boot.draws} draws"
        if config.se == "auto":
            warnings.append(
                f"only {n_clusters} clusters: cluster-robust errors over-reject with fewer than "
                f"{FEW_CLUSTERS}, so the p-value and interval come from the wild cluster bootstrap"
            )
    elif se_kind == "cluster" and n_clusters < FEW_CLUSTERS:
        warnings.append(
            f"only {n_clusters} clusters: cluster-robust errors can be too small with fewer "
            f"than {FEW_CLUSTERS}; consider se='wild'"
        )
    treated_post = frame.filter(treatment.cast(pl.Boolean))["y"]
    counterfactual_mean = float(treated_post.mean()) - effect  # type: ignore[arg-type]
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=se,
        ci_low=float(min(ci_low, effect)),
        ci_high=float(max(ci_high, effect)),
        p_value=float(min(max(p_value, 0.0), 1.0)),
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            "model": model,
            "inference": inference,
            "coefficients": _coefficients(fit, ["D", *panel.covariates]),
            "n_clusters": n_clusters,
            "df": fit.df,
            "counterfactual_mean": counterfactual_mean,
            "series": parallel_trends_series(panel.with_frame(frame)),
        },
    )


def _design_problem(frame: pl.DataFrame, model: str) -> str | None:
    arms = frame.group_by("treated").agg(pl.col("cluster").n_unique()).rows()
    present = dict(arms)
    for arm, label in ((True, "treated"), (False, "control")):
        if arm not in present:
            return f"no {label} units with outcomes; difference-in-differences needs both"
    if model == "2x2":
        cells = set(frame.select("treated", "post").unique().iter_rows())
        for (arm, period), label in {
            (True, False): "treated units before the start",
            (True, True): "treated units after the start",
            (False, False): "control units before the start",
            (False, True): "control units after the start",
        }.items():
            if (arm, period) not in cells:
                return f"no outcomes for {label}; difference-in-differences needs all four"
    return None


def _inference_problem(frame: pl.DataFrame, se_kind: str) -> str | None:
    if se_kind == "hetero":
        return None
    clusters = dict(frame.group_by("treated").agg(pl.col("cluster").n_unique()).rows())
    for arm, label in ((True, "treated"), (False, "control")):
        if clusters[arm] < 2:
            return (
                f"only {clusters[arm]} {label} cluster: the effect is identified, but "
                "cluster-robust inference needs at least two clusters in each arm"
            )
    return None


def _without_others(fit: LinearFit, values: np.ndarray) -> np.ndarray:
    """Project ``values`` off the other regressors of interest (covariates), by FWL."""
    others = fit.x[:, 1:]
    if others.shape[1] == 0:
        return values
    coef, *_ = np.linalg.lstsq(others, values, rcond=None)
    return values - others @ coef


def _cr1_factor(fit: LinearFit) -> float:
    g, n, k = fit.n_clusters or fit.n_obs, fit.n_obs, fit.n_params
    return g / (g - 1) * (n - 1) / (n - k)


def _coefficients(fit: LinearFit, names: list[str]) -> list[dict[str, float | str]]:
    rows = []
    for index, name in enumerate(names):
        estimate, se = float(fit.coef[index]), float(fit.se[index])
        t_value = estimate / se if se > 0 else float("nan")
        rows.append(
            {
                "term": name,
                "estimate": estimate,
                "se": se,
                "t": t_value,
                "p_value": float(2 * stats.t.sf(abs(t_value), fit.df)),
            }
        )
    return rows
