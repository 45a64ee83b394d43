"""Synthetic control: the treated series against a weighted average of never-treated donors.

Estimand: the average effect on the treated series over the post periods,
``mean_{t >= t0} (y_1t - sum_j w_j y_jt)``, with donor weights ``w >= 0`` summing to one chosen
so that the weighted donors track the treated series before the start (Abadie, Diamond &
Hainmueller 2010, *JASA* 105(490); Abadie 2021, *J. Economic Literature* 59(2)). The relative
effect divides it by the synthetic control's post-period mean.

Assumptions: without treatment the treated series would have stayed the same convex combination
of the donors as before the start (as under a linear factor model whose loadings the pre-period
fit matches); the donors are untouched by the treatment (no spillovers); nothing else hit the
treated unit alone at the start. The answer is only as good as the pre-period fit, and a treated
series outside the donors' range cannot be fitted at all (Abadie 2021): a warning says when that
happens.

Data: treated units are those with a ``cohort`` (first treated period). Several treated units
must share one start; their outcomes are averaged per period into one treated series, so the
estimand is the effect on that average. Donors are the never-treated units. Only periods in
which every treated unit is observed are used, and only donors observed in all of them (the
others are dropped, with a warning). Observation weights are not used.

Fit: the weights minimise the pre-period squared error of the treated series (outcome matching;
R's ``Synth`` additionally searches predictor weights ``V``, which this does not). With
covariates and ``covariates_weight = c > 0`` the objective is
``(1 - c) mean_t (gap_t / s_y)^2 + c mean_k (gap_k / s_k)^2``: the second term matches the
covariates' pre-period means, each scaled by its standard deviation across units (``s_y`` is
that of the pre-period outcomes), so ``c`` is the share of the fit given to covariates.

Inference (see ``evaluation.synth_inference``): the p-value ranks the treated unit's post/pre
RMSPE ratio among in-space placebos (Abadie et al. 2010) and cannot fall below ``1 / (J + 1)``.
``se`` is the standard deviation of the placebos' average post-period gaps: the spread of the
"effects" the method finds where there is none, a scale rather than a sampling standard error.
The interval is the conformal confidence set of Chernozhukov, Wuthrich & Zhu (2021, *JASA*
116(536)) for a constant effect; when it is turned off or impossible (fewer than ``1 / alpha``
periods) it is the estimate plus or minus the ``1 - alpha`` quantile of the placebos' absolute
average gaps, with a warning (``details["placebo_interval"]`` always holds that one). The
conformal test has power only when post periods are few next to pre periods (its permutations
shift the post block through the series), so its interval can be wide. The p-value and the
interval come from different tests: "p < alpha" and "the interval excludes 0" can disagree;
``details["conformal"]["p_value_no_effect"]`` is the conformal test's own p-value for no effect.
The placebo in time refits as if treatment had started half-way through the pre-period, where
any "effect" is a symptom of a poor fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import series
from evaluation.synth_inference import (
    Placebos,
    conformal_interval,
    conformal_possible,
    in_space_placebos,
    placebo_interval,
)
from livinglab.errors import InputError, SpecError

METHOD = "synth"
ESTIMAND = "average post-period effect on the treated series vs its synthetic control"
MIN_DONORS = 2
MIN_PRE = 3
MIN_PRE_FOR_TIME_PLACEBO = 4
REPORTED_WEIGHT = 1e-6


@dataclass(frozen=True)
class SynthConfig(MethodConfig):
    """``placebo_in_time``: also refit with a fake start half-way through the pre-period.

    ``conformal``: conformal interval (else the placebo interval); ``covariates_weight``: share
    of the fit given to the covariates' standardised pre-period means, in ``[0, 1)``.
    """

    placebo_in_time: bool = True
    conformal: bool = True
    covariates_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.covariates_weight < 1:
            raise SpecError(
                f"covariates_weight: {self.covariates_weight} is not allowed; use a number in "
                "[0, 1) (0 fits outcomes only)"
            )


@dataclass(frozen=True)
class _Prepared:
    """Outcomes ``(T, J + 1)``: the treated series in column 0, then the donors."""

    treated_units: list[str]
    donors: list[str]
    times: list[int]
    outcomes: np.ndarray
    post: np.ndarray
    covariates: np.ndarray
    n_obs: int
    warnings: list[str]


def estimate_synth(panel: Panel, config: SynthConfig | None = None) -> Estimate:
    """Synthetic-control estimate of the treated series' average post-period effect.

    Returns ``cannot_estimate`` without a treated unit, with treated units starting at different
    times, with fewer than 2 complete donors or 3 pre periods, or without a post period.
    """
    config = config or SynthConfig()
    frame = panel.frame
    counts = {
        "n_obs": frame.height,
        "n_units": frame["unit"].n_unique(),
        "n_treated": frame.filter(pl.col("cohort").is_not_null())["unit"].n_unique(),
    }
    prepared = _prepare(panel, config)
    if isinstance(prepared, str):
        return cannot_estimate(METHOD, ESTIMAND, prepared, **counts, warnings=panel.notes)
    outcomes, post = prepared.outcomes, prepared.post
    n_donors = len(prepared.donors)
    counts |= {"n_obs": prepared.n_obs, "n_units": len(prepared.treated_units) + n_donors}
    warnings = list(panel.notes) + prepared.warnings

    space = in_space_placebos(_design(outcomes[~post], prepared.covariates, config), outcomes, post)
    synthetic = space.synthetic[:, 0]
    effect = float(space.average_gap[0])
    counterfactual_mean = float(synthetic[post].mean())
    placebo_gaps = space.average_gap[1:]
    se = float(np.std(placebo_gaps, ddof=1))
    warnings += _fit_warnings(space, outcomes, post, config.alpha)

    conformal = None
    placebo_low, placebo_high = placebo_interval(effect, placebo_gaps, config.alpha)
    ci_low, ci_high = placebo_low, placebo_high
    if config.conformal and conformal_possible(post.size, config.alpha):
        spread = max(
            float(space.pre_rmspe[0]),
            float(np.std(outcomes[post, 0] - synthetic[post])),
            se,
            1e-9 * max(float(np.abs(outcomes).max()), 1.0),
        )
        conformal = conformal_interval(
            outcomes[:, 0], outcomes[:, 1:], post, effect, config.alpha, spread
        )
        ci_low, ci_high = conformal.low, conformal.high
        warnings += _conformal_warnings(conformal.details, conformal.widened)
    else:
        reason = (
            "it was turned off"
            if not config.conformal
            else f"{post.size} periods are too few for a test at level {config.alpha}"
        )
        warnings.append(
            f"no conformal interval ({reason}): the interval is the estimate plus or minus the "
            f"{1 - config.alpha:.0%} quantile of the {n_donors} placebo average gaps"
        )

    time_placebo = _time_placebo(panel, prepared, config) if config.placebo_in_time else None
    if time_placebo and time_placebo.get("p_value", 1.0) <= config.alpha:
        warnings.append(
            f"placebo in time: with a fake start at {time_placebo['start']}, before any "
            f"treatment, the method finds an effect of {time_placebo['average_gap']:.4g} "
            f"(p = {time_placebo['p_value']:.3f}); the pre-period fit may not be trustworthy"
        )
    weights = dict(zip(prepared.donors, space.weights[:, 0].tolist(), strict=True))
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=space.p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        **counts,
        warnings=tuple(warnings),
        details={
            "treated_units": prepared.treated_units,
            "n_donors": n_donors,
            "n_pre": int((~post).sum()),
            "n_post": int(post.sum()),
            "weights": dict(
                sorted(
                    ((unit, w) for unit, w in weights.items() if w > REPORTED_WEIGHT),
                    key=lambda item: -item[1],
                )
            ),
            "weights_all": weights,
            "pre_rmspe": float(space.pre_rmspe[0]),
            "post_rmspe": float(space.post_rmspe[0]),
            "rmspe_ratio": float(space.ratio[0]),
            "counterfactual_mean": counterfactual_mean,
            "p_value_min": 1 / (n_donors + 1),
            "placebo": _placebo_rows(prepared.donors, space),
            "placebo_in_time": time_placebo,
            "interval": "conformal" if conformal else "placebo",
            "placebo_interval": [placebo_low, placebo_high],
            "conformal": conformal.details if conformal else None,
            "series": series(panel, outcomes[:, 0].tolist(), synthetic.tolist(), prepared.times),
        },
    )


def _prepare(panel: Panel, config: SynthConfig) -> _Prepared | str:
    """The treated series and the complete donors on common periods, or why there are none."""
    frame = panel.frame.filter(pl.col("y").is_not_null() & pl.col("y").is_finite())
    if frame.height and frame["time"].null_count() == frame.height:
        return "synthetic control needs outcomes over time; this panel has no time index"
    frame = frame.filter(pl.col("time").is_not_null())
    cohort_rows = frame.filter(pl.col("cohort").is_not_null())
    treated_units = sorted(cohort_rows["unit"].unique().to_list())
    if not treated_units:
        return "no treated unit: synthetic control needs a unit with a treatment start (cohort)"
    cohorts = cohort_rows["cohort"].unique()
    if cohorts.len() > 1:
        return "treated units start at different times; use staggered"
    donors = sorted(set(frame["unit"].unique().to_list()) - set(treated_units))
    units = treated_units + donors
    times, wide = _wide(frame, units)
    n_treated = len(treated_units)

    warnings = []
    missing = np.isnan(wide[:, :n_treated])
    partial = int((missing.any(axis=1) & ~missing.all(axis=1)).sum())
    if partial:
        warnings.append(
            f"{partial} period(s) where only some treated units have outcomes were left out"
        )
    observed = ~missing.any(axis=1)
    times, wide = times[observed], wide[observed]
    pre = times < int(cohorts.item())
    n_pre, n_post = int(pre.sum()), int((~pre).sum())
    if n_pre < MIN_PRE:
        return (
            f"synthetic control needs at least {MIN_PRE} periods before the start to fit the "
            f"weights; found {n_pre}"
        )
    if n_post == 0:
        return "no post period: the treated units have no outcomes at or after the start"

    complete = ~np.isnan(wide[:, n_treated:]).any(axis=0)
    covariates = np.zeros((0, len(units)))
    if config.covariates_weight > 0 and not panel.covariates:
        warnings.append("covariates_weight is ignored: the panel has no covariates")
    elif config.covariates_weight > 0:
        covariates = _covariate_means(frame, panel.covariates, units, times[pre])
        absent = [
            name
            for name, row in zip(panel.covariates, covariates, strict=True)
            if np.isnan(row[:n_treated]).any()
        ]
        if absent:
            return (
                f"the treated units have no pre-period values of covariate(s) {', '.join(absent)}"
                "; set covariates_weight to 0 or supply them"
            )
        complete &= ~np.isnan(covariates[:, n_treated:]).any(axis=0)
    if not complete.all():
        warnings.append(
            f"{int((~complete).sum())} donor unit(s) were left out: they miss outcomes in some "
            "of the treated series' periods"
            + (" or pre-period covariate values" if covariates.size else "")
        )
    if complete.sum() < MIN_DONORS:
        return (
            f"synthetic control needs at least {MIN_DONORS} never-treated donor units observed in "
            f"every period of the treated series; found {int(complete.sum())}"
        )

    kept_donors = [unit for unit, keep in zip(donors, complete, strict=True) if keep]
    used = frame.filter(
        pl.col("unit").is_in(treated_units + kept_donors), pl.col("time").is_in(times.tolist())
    )
    columns = np.concatenate([[True], complete])
    return _Prepared(
        treated_units=treated_units,
        donors=kept_donors,
        times=times.tolist(),
        outcomes=_average_treated(wide, n_treated)[:, columns],
        post=~pre,
        covariates=_average_treated(covariates, n_treated)[:, columns],
        n_obs=used.height,
        warnings=warnings,
    )


def _average_treated(matrix: np.ndarray, n_treated: int) -> np.ndarray:
    """Replace the first ``n_treated`` columns (the treated units) by their mean."""
    return np.column_stack([matrix[:, :n_treated].mean(axis=1), matrix[:, n_treated:]])


def _wide(frame: pl.DataFrame, units: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted time indices and outcomes ``(T, units)``: mean of duplicate rows, NaN if none."""
    times = np.sort(frame["time"].unique().to_numpy())
    unit = frame["unit"].replace_strict(units, range(len(units)), return_dtype=pl.Int64)
    cells = (np.searchsorted(times, frame["time"].to_numpy()), unit.to_numpy())
    total = np.zeros((times.size, len(units)))
    count = np.zeros_like(total)
    np.add.at(total, cells, frame["y"].to_numpy())
    np.add.at(count, cells, 1.0)
    with np.errstate(invalid="ignore"):
        return times, total / count


def _covariate_means(
    frame: pl.DataFrame, names: tuple[str, ...], units: list[str], pre_times: np.ndarray
) -> np.ndarray:
    """Pre-period mean of each covariate ``(K, units)``; NaN where a unit has no values."""
    for name in names:
        if name not in frame.columns or not frame.schema[name].is_numeric():
            raise InputError(
                f"covariate {name!r} must be a numeric column of the panel for synthetic control"
            )
    means = (
        frame.filter(pl.col("time").is_in(pre_times.tolist()))
        .group_by("unit")
        .agg(pl.col(name).cast(pl.Float64).mean() for name in names)
    )
    table = pl.DataFrame({"unit": units}).join(means, on="unit", how="left")
    return table.select(names).to_numpy().T.astype(float)


def _design(outcome_rows: np.ndarray, covariates: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Rows whose squared distance the weights minimise: scaled outcomes, then covariates."""
    share = config.covariates_weight if covariates.shape[0] else 0.0
    scale = float(np.std(outcome_rows)) or 1.0
    rows = [outcome_rows / scale * np.sqrt((1 - share) / outcome_rows.shape[0])]
    if share:
        spread = covariates.std(axis=1, keepdims=True)
        rows.append(
            covariates / np.where(spread > 0, spread, 1.0) * np.sqrt(share / len(covariates))
        )
    return np.vstack(rows)


def _time_placebo(panel: Panel, prepared: _Prepared, config: SynthConfig) -> dict:
    """Refit on the first half of the pre-period and measure the "effect" on the second half."""
    n_pre = int((~prepared.post).sum())
    if n_pre < MIN_PRE_FOR_TIME_PLACEBO:
        return {"message": f"not run: needs {MIN_PRE_FOR_TIME_PLACEBO} pre periods, found {n_pre}"}
    start = n_pre // 2
    outcomes = prepared.outcomes[:n_pre]
    design = _design(outcomes[:start], prepared.covariates, config)
    space = in_space_placebos(design, outcomes, np.arange(n_pre) >= start)
    return {
        "start": panel.time_label(prepared.times[start]),
        "fit_periods": start,
        "pseudo_post_periods": n_pre - start,
        "average_gap": float(space.average_gap[0]),
        "pre_rmspe": float(space.pre_rmspe[0]),
        "post_rmspe": float(space.post_rmspe[0]),
        "rmspe_ratio": float(space.ratio[0]),
        "p_value": space.p_value,
    }


def _fit_warnings(
    space: Placebos, outcomes: np.ndarray, post: np.ndarray, alpha: float
) -> list[str]:
    warnings = []
    n_units = outcomes.shape[1]
    if 1 / n_units > alpha:
        warnings.append(
            f"with {n_units - 1} donors the permutation p-value cannot go below 1/{n_units} = "
            f"{1 / n_units:.3f}, above alpha = {alpha}: the placebo test cannot reach significance"
        )
    treated, donors = outcomes[~post, 0], outcomes[~post, 1:]
    outside = int(((treated > donors.max(axis=1)) | (treated < donors.min(axis=1))).sum())
    if outside:
        warnings.append(
            f"the treated series lies outside the donors' range in {outside} of {treated.size} "
            "pre periods, where no weighted average of donors can match it (Abadie 2021); "
            "check the pre-period fit"
        )
    if not space.converged:
        warnings.append(
            "the weight solver reached the limit of numerical precision before certifying its "
            "optimum (nearly collinear donors); the weights may not be unique"
        )
    return warnings


def _conformal_warnings(details: dict, widened: bool) -> list[str]:
    warnings = []
    if details["touches_grid_edge"]:
        warnings.append(
            "the conformal confidence set reaches the edge of the search grid "
            f"[{details['grid_low']:.4g}, {details['grid_high']:.4g}]; it may be wider"
        )
    if not details["contiguous"]:
        warnings.append("the conformal confidence set has gaps; the interval is its hull")
    if widened:
        warnings.append(
            "the conformal confidence set does not contain the estimate; the interval was "
            "stretched to include it"
        )
    return warnings


def _placebo_rows(donors: list[str], space: Placebos) -> list[dict[str, str | float]]:
    return [
        {"unit": unit, "pre_rmspe": pre, "rmspe_ratio": ratio, "average_gap": gap}
        for unit, pre, ratio, gap in zip(
            donors,
            space.pre_rmspe[1:].tolist(),
            space.ratio[1:].tolist(),
            space.average_gap[1:].tolist(),
            strict=True,
        )
    ]
