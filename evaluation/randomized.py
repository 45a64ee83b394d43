"""Randomized comparisons: individual, cluster-randomised and switchback trials.

Estimand: the average effect of assignment to treatment on the outcome after the start
(intention to treat), averaged over the units of the trial. Randomisation alone identifies it:
the arms differ only by chance and by treatment, so no parallel-trends or model assumption is
needed. Interference between units (a treated bin emptied changes a neighbour's route) is
assumed away except, in switchback designs, carry-over into the next few periods, handled by
``washout``.

Designs (``RandomizedConfig.design``), each analysed at the level that was randomised:

- ``individual``: every unit is randomised. A unit's post-period rows are averaged first, so each
  unit counts once however many periods it was observed.
- ``cluster``: whole clusters (the panel's ``cluster``) are randomised. Unit means are averaged
  within each cluster and cluster means are weighted by their number of units, so the estimate is
  still the unit-level difference in means while its uncertainty comes from the clusters.
- ``switchback``: each row is a time block of a route (``unit``) that was randomised to an arm;
  blocks are re-randomised within their route. With ``washout = m`` the block in which a route
  switched arm and the next ``m - 1`` are dropped, so that effects carried over from the previous
  arm do not contaminate the comparison (Bojinov, Simchi-Levi & Zhao 2023). A route's first
  block is not a switch.

The estimate is the weighted difference in arm means. With ``adjustment="cuped"`` each outcome is
first adjusted by its own pre-period mean ``X``: ``Y - theta (X - mean X)`` (Deng, Xu, Kohavi &
Walker 2013), which leaves the estimand unchanged and removes the part of the outcome variance the
pre-period predicts. ``theta`` is the within-arm slope ``cov(Y, X) / var(X)`` pooled over the two
arms rather than Deng et al.'s slope over all units: the estimate is then the coefficient on the
arm in the regression of ``Y`` on the arm and ``X`` (ANCOVA; Yang & Tsiatis 2001), the two differ
only by chance imbalance in ``X``, and shifting the treated outcomes by ``d`` shifts the estimate
by exactly ``d``. Units without pre-period rows keep their outcome unadjusted; without any
pre-period data the comparison is unadjusted, with a warning. The standard error is Welch's,
with Welch-Satterthwaite degrees of freedom; for weighted cluster means each arm's variance is
the ratio-estimator variance ``G/(G-1) sum_g (w_g / W)^2 (y_g - mean)^2``, which is Welch's
``s^2 / G`` when all weights are equal. CUPED's theta is treated as known, as in Deng et al.

Inference is by randomisation (``randomized_inference``, Imbens & Rubin 2015 ch. 5): the headline
p-value is Fisher's for the sharp null of no effect on any unit and the interval inverts that test
over constant additive effects, so the two always agree; with very few possible assignments the
interval can be unbounded, which is said. With ``randomization_inference=False`` both are
Welch's. Welch's numbers are always in ``details["welch"]``.

With ``exposure`` set the outcome is an event count and the analysis is a comparison of rates
per 1,000 exposure units (``evaluation.rates``). The panel's ``weight`` column is not used.

References
----------
Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online controlled
experiments by utilizing pre-experiment data. *WSDM '13*, 123-132.
Bojinov, I., Simchi-Levi, D. & Zhao, J. (2023). Design and analysis of switchback experiments.
*Management Science* 69(7), 3759-3777.
Imbens, G. W. & Rubin, D. B. (2015). *Causal Inference for Statistics, Social, and Biomedical
Sciences*, ch. 5-6. Cambridge University Press.
Yang, L. & Tsiatis, A. A. (2001). Efficiency study of estimators for a treatment effect in a
pretest-posttest trial. *The American Statistician* 55(4), 314-321.
Welch, B. L. (1947). The generalization of "Student's" problem when several different population
variances are involved. *Biometrika* 34(1-2), 28-35.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import polars as pl
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.randomized_inference import fisher_difference_in_means
from evaluation.rates import compare_rates
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import group_means, series
from livinglab.errors import SpecError, require_one_of

METHOD = "randomized"
ESTIMAND = "average effect of assignment to treatment on the outcome after the start (ITT)"
Design = Literal["individual", "cluster", "switchback"]
Adjustment = Literal["none", "cuped"]
LEVEL = {"individual": "unit", "cluster": "cluster", "switchback": "block"}


@dataclass(frozen=True)
class RandomizedConfig(MethodConfig):
    """Options of a randomized comparison.

    ``design``: what was randomised (units, clusters, or time blocks of routes). ``adjustment``:
    CUPED adjustment by the pre-period mean, or none. ``randomization_inference``: headline
    p-value and interval by Fisher randomization inference rather than Welch's t.
    ``n_permutations``: exact enumeration up to this many assignments, else this many random
    draws. ``washout``: switchback periods dropped after each switch. ``exposure``: covariate
    column with each row's exposure (km, hours); the outcome is then an event count, compared
    as events per ``per`` units of exposure (1,000 km, or 1 hour for passengers per hour).
    """

    design: Design = "individual"
    adjustment: Adjustment = "cuped"
    randomization_inference: bool = True
    n_permutations: int = 10_000
    washout: int = 0
    exposure: str | None = None
    per: float = 1000.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.per > 0:
            raise SpecError(f"per: {self.per} is not allowed; use a positive number of units")
        require_one_of("design", self.design, get_args(Design))
        require_one_of("adjustment", self.adjustment, get_args(Adjustment))
        if self.n_permutations < 1:
            raise SpecError(f"n_permutations: {self.n_permutations} is not allowed; use 1 or more")
        if self.washout < 0:
            raise SpecError(f"washout: {self.washout} is not allowed; use 0 or more periods")
        if self.washout and self.design != "switchback":
            raise SpecError(
                f"washout: {self.washout} applies only to design 'switchback', not {self.design!r}"
            )


def estimate_randomized(panel: Panel, config: RandomizedConfig | None = None) -> Estimate:
    config = config or RandomizedConfig()
    frame = panel.frame
    warnings = list(panel.notes)
    rows = frame.filter("post")
    counts = _counts(rows, config.design)
    if rows.height == 0:
        return cannot_estimate(METHOD, ESTIMAND, "no outcomes after the start", **counts)
    problem = _assignment_problem(rows, config.design)
    if problem:
        return cannot_estimate(METHOD, ESTIMAND, problem, **counts, warnings=tuple(warnings))
    dropped = 0
    if config.washout:
        rows, dropped = _apply_washout(rows, config.washout)
        counts = _counts(rows, config.design)
        warnings.append(
            f"{dropped} block(s) within {config.washout} period(s) of a switch were dropped as "
            "washout"
        )
    rows = _with_randomisation_units(rows, config.design)
    problem = _arms_problem(rows, config.design)
    if problem:
        return cannot_estimate(METHOD, ESTIMAND, problem, **counts, warnings=tuple(warnings))
    design = {"design": config.design, "washout": config.washout, "n_washout_dropped": dropped}
    if config.exposure is not None:
        return compare_rates(rows, panel, config, counts=counts, warnings=warnings, design=design)

    units = _analysis_units(rows, frame.filter(~pl.col("post")), config.design)
    y = units["y"].to_numpy()
    arms = units["arm"].to_numpy()
    weights = units["w"].to_numpy().astype(float)
    covariate = _cuped_covariate(units, config.adjustment, warnings)
    adjusted, theta = _cuped(y, arms, weights, covariate)
    raw = _welch(y, arms, weights, config.alpha)
    welch = _welch(adjusted, arms, weights, config.alpha)
    if welch["se"] == 0:
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            "outcomes do not vary within either arm, so the standard error is zero",
            **counts,
            warnings=tuple(warnings),
        )
    effect = welch["effect"]
    se, ci_low, ci_high, p_value = welch["se"], welch["ci_low"], welch["ci_high"], welch["p_value"]
    fisher: dict[str, Any] | None = None
    if config.randomization_inference:
        strata = units["stratum"].rank("dense").to_numpy()
        test = fisher_difference_in_means(
            y,
            arms,
            weights,
            strata,
            covariate=covariate,
            alpha=config.alpha,
            n_permutations=config.n_permutations,
            seed=config.seed,
        )
        p_value, ci_low, ci_high = test.p_value, test.ci_low, test.ci_high
        fisher = {
            "p_value": test.p_value,
            "ci_low": test.ci_low,
            "ci_high": test.ci_high,
            "n_assignments": test.n_assignments,
            "exact": test.exact,
            "rejected_gaps": test.rejected_gaps,
        }
        if test.rejected_gaps:
            warnings.append(
                "some effects far from the estimate are not rejected by randomization inference "
                "either (too few assignments to rule them out); the interval is the one around "
                "the estimate"
            )
        if math.isinf(ci_low) or math.isinf(ci_high):
            warnings.append(
                f"randomization inference cannot bound the effect at alpha {config.alpha}: too "
                "few possible assignments (or too many as extreme as the observed one), so the "
                "interval is unbounded"
            )

    treated_mean = float(np.average(y[arms], weights=weights[arms]))
    counterfactual_mean = treated_mean - effect
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            **design,
            "adjustment": "cuped" if covariate is not None else "none",
            "cuped_theta": theta,
            "variance_reduction": 1 - welch["se"] ** 2 / raw["se"] ** 2 if raw["se"] else 0.0,
            "unadjusted_effect": raw["effect"],
            "welch": welch,
            "randomization_inference": fisher,
            "inference": "randomization" if fisher else "welch",
            "randomisation_units": {
                "level": LEVEL[config.design],
                "treated": int(arms.sum()),
                "control": int((~arms).sum()),
            },
            "treated_mean": treated_mean,
            "control_mean": float(np.average(y[~arms], weights=weights[~arms])),
            "counterfactual_mean": counterfactual_mean,
            "series": _series(panel),
        },
    )


def _counts(rows: pl.DataFrame, design: str) -> dict[str, int]:
    """Switchback trials count blocks (unit-periods) as units; the others count units."""
    if design == "switchback":
        return {
            "n_obs": rows.height,
            "n_units": rows.height,
            "n_treated": int(rows["treated"].sum()),
        }
    return {
        "n_obs": rows.height,
        "n_units": rows["unit"].n_unique(),
        "n_treated": rows.filter("treated")["unit"].n_unique(),
    }


def _assignment_problem(rows: pl.DataFrame, design: str) -> str | None:
    if design == "switchback":
        if rows["time"].null_count():
            return "a switchback design needs the period of every block; some rows have no time"
        return None
    level = "unit" if design == "individual" else "cluster"
    if design == "cluster" and rows["cluster"].null_count():
        return "a cluster design needs the cluster of every unit; some rows have none"
    mixed = rows.group_by(level).agg(pl.col("treated").n_unique()).filter(pl.col("treated") > 1)
    if mixed.height:
        name = sorted(mixed[level].to_list())[0]
        return (
            f"{level} {name!r} has outcomes in both arms after the start; a {design} design "
            "assigns each once (use design 'switchback' when arms alternate over time)"
        )
    return None


def _apply_washout(rows: pl.DataFrame, washout: int) -> tuple[pl.DataFrame, int]:
    """Drop each route's blocks less than ``washout`` periods after its latest switch."""
    marked = rows.sort("unit", "time").with_columns(
        pl.when(pl.col("treated") != pl.col("treated").shift(1).over("unit"))
        .then(pl.col("time"))
        .forward_fill()
        .over("unit")
        .alias("_switched_at")
    )
    kept = marked.filter(
        pl.col("_switched_at").is_null() | (pl.col("time") - pl.col("_switched_at") >= washout)
    ).drop("_switched_at")
    return kept, rows.height - kept.height


def _with_randomisation_units(rows: pl.DataFrame, design: str) -> pl.DataFrame:
    """Add ``ru`` (what was randomised) and ``stratum`` (what permutations keep fixed)."""
    if design == "switchback":
        return rows.with_columns(
            pl.format("{}@{}", "unit", "time").alias("ru"), pl.col("unit").alias("stratum")
        )
    return rows.with_columns(
        pl.col("unit" if design == "individual" else "cluster").alias("ru"),
        pl.lit("all").alias("stratum"),
    )


def _arms_problem(rows: pl.DataFrame, design: str) -> str | None:
    level = LEVEL[design]
    for arm, label in ((True, "treated"), (False, "control")):
        n = rows.filter(pl.col("treated") == arm)["ru"].n_unique()
        if n < 2:
            return (
                f"only {n} {label} {level}(s) after the start: a randomized comparison needs at "
                f"least 2 {level}s in each arm"
            )
    return None


def _analysis_units(rows: pl.DataFrame, pre: pl.DataFrame, design: str) -> pl.DataFrame:
    """One row per randomisation unit: ``ru, stratum, arm, y, x, w``, sorted by ``ru``.

    ``y`` averages each unit's post rows, then the units of a cluster; ``x`` does the same with
    the pre-period rows (null when there are none); ``w`` is the number of units.
    """
    pre_means = pre.group_by("unit").agg(pl.col("y").mean().alias("x"))
    keys = ["unit", "time"] if design == "switchback" else ["unit"]
    per_unit = (
        rows.group_by(keys)
        .agg(pl.col("ru", "stratum", "treated").first(), pl.col("y").mean())
        .join(pre_means, on="unit", how="left")
    )
    return (
        per_unit.group_by("ru")
        .agg(
            pl.col("stratum", "treated").first(),
            pl.col("y", "x").mean(),
            pl.len().cast(pl.Float64).alias("w"),
        )
        .rename({"treated": "arm"})
        .sort("ru")
    )


def _cuped_covariate(
    units: pl.DataFrame, adjustment: str, warnings: list[str]
) -> np.ndarray | None:
    """Pre-period means, those missing set to the weighted mean (no adjustment); or None."""
    if adjustment == "none":
        return None
    has = units["x"].is_not_null().to_numpy()
    if not has.any():
        warnings.append(
            "no outcomes before the start: CUPED needs each unit's pre-period mean, so the "
            "comparison is unadjusted"
        )
        return None
    weights, arms = units["w"].to_numpy(), units["arm"].to_numpy()
    x = units["x"].to_numpy()
    x = np.where(has, x, np.average(x[has], weights=weights[has]))
    if _within_arm_moments(x, arms, weights, x)[1] <= 0:
        warnings.append(
            "pre-period means do not vary within the arms, so CUPED cannot adjust; the "
            "comparison is unadjusted"
        )
        return None
    if not has.all():
        warnings.append(
            f"{int((~has).sum())} randomisation unit(s) have no outcomes before the start and are "
            "left unadjusted by CUPED"
        )
    return x


def _cuped(
    y: np.ndarray, arms: np.ndarray, weights: np.ndarray, covariate: np.ndarray | None
) -> tuple[np.ndarray, float | None]:
    """``y - theta (x - mean x)`` with ``theta`` the pooled within-arm weighted slope."""
    if covariate is None:
        return y, None
    cross, square = _within_arm_moments(y, arms, weights, covariate)
    theta = cross / square
    return y - theta * (covariate - np.average(covariate, weights=weights)), theta


def _within_arm_moments(
    y: np.ndarray, arms: np.ndarray, weights: np.ndarray, x: np.ndarray
) -> tuple[float, float]:
    """Weighted within-arm sums of cross-products of ``y`` and ``x`` and of squares of ``x``."""
    cross = square = 0.0
    for members in (arms, ~arms):
        w = weights[members]
        dx = x[members] - np.average(x[members], weights=w)
        dy = y[members] - np.average(y[members], weights=w)
        cross += float((w * dy) @ dx)
        square += float((w * dx) @ dx)
    return cross, square


def _welch(y: np.ndarray, arms: np.ndarray, weights: np.ndarray, alpha: float) -> dict[str, float]:
    """Weighted difference in means with Welch's standard error and degrees of freedom."""
    means, variances, sizes = [], [], []
    for members in (arms, ~arms):
        share = weights[members] / weights[members].sum()
        mean = float(share @ y[members])
        size = int(members.sum())
        means.append(mean)
        variances.append(size / (size - 1) * float(share**2 @ (y[members] - mean) ** 2))
        sizes.append(size)
    effect = means[0] - means[1]
    variance = variances[0] + variances[1]
    se = math.sqrt(variance)
    if se == 0:
        return {"effect": effect, "se": 0.0}
    df = variance**2 / sum(v**2 / (n - 1) for v, n in zip(variances, sizes, strict=True))
    t_crit = float(stats.t.ppf(1 - alpha / 2, df))
    return {
        "effect": effect,
        "se": se,
        "df": df,
        "t": effect / se,
        "p_value": float(2 * stats.t.sf(abs(effect / se), df)),
        "ci_low": effect - t_crit * se,
        "ci_high": effect + t_crit * se,
    }


def _series(panel: Panel) -> dict[str, list]:
    """Mean outcome per period in each arm; the control arm is the treated arm's counterfactual."""
    if panel.frame["time"].null_count():
        return series(panel, [], [], [])
    means = group_means(panel.frame)
    return series(
        panel,
        observed=means["treated_mean"].to_list(),
        counterfactual=means["control_mean"].to_list(),
        times=means["time"].to_list(),
    )
