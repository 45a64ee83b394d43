"""Staggered adoption: Callaway & Sant'Anna (2021) group-time average treatment effects.

Estimand: ATT(g,t), the average effect in period t on the units first treated in period g (the
cohort g), and aggregations of them. The headline is R ``did``'s ``aggte(type = "simple")``:
the post-treatment ATT(g,t) averaged with weights proportional to cohort size.

Assumptions: unconditional parallel trends (without treatment, every cohort's mean would have
moved like the comparison group's), no anticipation, and staggered adoption (once treated,
always treated). The comparison group is either the never-treated units or, with
``control_group="notyet"``, the units not yet treated by the later of t and the base period.

ATT(g,t) is the 2x2 difference in mean changes between cohort g and its comparison group from a
base period to t. With ``base_period="varying"`` pre-treatment cells compare t with t-1 and
post-treatment cells compare t with g-1; with ``"universal"`` every cell compares t with g-1 and
ATT(g, g-1) = 0. Standard errors come from the influence functions (clustered on ``cluster``
when clusters group several units) or, with ``bootstrap=True``, from R's multiplier bootstrap,
which also gives the critical value of a uniform band for the event study. p-values and
intervals use normal critical values, as R ``did`` does. See ``evaluation.staggered_inference``
for the aggregation weights.

Like R ``did`` (``panel = TRUE``), the panel must be balanced: units missing a period are
dropped, units treated in the first period (no pre-period) are dropped, and units treated after
the last period count as never treated. Without never-treated units and with not-yet-treated
controls, the periods from the last cohort's start on are dropped and that cohort serves only
as a comparison, as R does.

References
----------
Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-Differences with multiple time
periods. *Journal of Econometrics* 225(2), 200-230. R package ``did`` (``att_gt``, ``aggte``,
``mboot``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import polars as pl
from scipy import stats

from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import series
from evaluation.staggered_inference import (
    Aggregation,
    Cells,
    aggregate,
    standard_errors,
    uniform_critical_value,
)
from livinglab.errors import SpecError, require_one_of

METHOD = "staggered"
ESTIMAND = (
    "ATT(g,t) of each treatment cohort g in each period t and their cohort-size-weighted "
    "average over post-treatment periods (Callaway & Sant'Anna)"
)
FEW_CLUSTERS = 30
ControlGroup = Literal["never", "notyet"]
BasePeriod = Literal["varying", "universal"]


@dataclass(frozen=True)
class StaggeredConfig(MethodConfig):
    """Options of the Callaway & Sant'Anna estimator.

    ``control_group``: ``"never"`` (never-treated units) or ``"notyet"`` (also units not yet
    treated). ``base_period``: ``"varying"`` or ``"universal"`` (R ``did``'s ``base_period``).
    ``bootstrap``: standard errors and the event-study uniform band from R's multiplier bootstrap
    with Rademacher weights and ``n_bootstrap`` (at least 100) draws seeded by ``seed``;
    otherwise analytic standard errors.
    """

    control_group: ControlGroup = "never"
    base_period: BasePeriod = "varying"
    bootstrap: bool = False
    n_bootstrap: int = 999

    def __post_init__(self) -> None:
        super().__post_init__()
        require_one_of("control_group", self.control_group, get_args(ControlGroup))
        require_one_of("base_period", self.base_period, get_args(BasePeriod))
        if self.n_bootstrap < 100:
            raise SpecError(
                f"n_bootstrap: {self.n_bootstrap} is not allowed; use at least 100 draws"
            )


@dataclass(frozen=True)
class _Design:
    """The balanced panel in wide form: ``y`` has one row per kept period, one column per unit."""

    periods: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray
    cohorts: np.ndarray  # time index of each estimated cohort's first treated period
    unit_cohort: np.ndarray  # code into ``cohorts``; len(cohorts) for comparison-only units
    warnings: tuple[str, ...]

    @property
    def start(self) -> np.ndarray:
        """Each unit's first treated position; ``len(periods)`` for comparison-only units."""
        cohort_start = np.searchsorted(self.periods, self.cohorts)
        return np.append(cohort_start, self.periods.size)[self.unit_cohort]


def estimate_staggered(panel: Panel, config: StaggeredConfig | None = None) -> Estimate:
    config = config or StaggeredConfig()
    design = _design(panel, config)
    if isinstance(design, str):
        frame = panel.frame
        return cannot_estimate(
            METHOD,
            ESTIMAND,
            design,
            n_obs=frame.height,
            n_units=frame["unit"].n_unique(),
            n_treated=frame.filter(pl.col("cohort").is_not_null())["unit"].n_unique(),
            warnings=panel.notes,
        )

    n_periods, n_units = design.y.shape
    cells = _cells(design, config)
    families = aggregate(cells)
    n_clusters = int(design.cluster.max()) + 1
    clustered = n_clusters < n_units
    cluster = design.cluster if clustered else None
    n_draws = config.n_bootstrap if config.bootstrap else None
    blocks = [cells.influence] + [
        np.vstack([family.influence, family.overall_influence]) for family in families.values()
    ]
    (cell_se, _), *by_family = standard_errors(blocks, cluster, n_draws, config.seed)
    family_se = {name: se for name, (se, _) in zip(families, by_family, strict=True)}
    family_draws = {name: draws for name, (_, draws) in zip(families, by_family, strict=True)}
    warnings = list(design.warnings)
    critical = None
    if config.bootstrap:
        critical = uniform_critical_value(
            family_draws["dynamic"][:, :-1], family_se["dynamic"][:-1], config.alpha
        )
        if critical is None:
            warnings.append(
                "the bootstrap gave no usable uniform-band critical value for the event study; "
                "use pointwise intervals"
            )
    if n_clusters < FEW_CLUSTERS:
        warnings.append(
            f"only {n_clusters} {'clusters' if clustered else 'units'}: standard errors from "
            f"influence functions can be too small with fewer than {FEW_CLUSTERS}"
        )

    effect = families["simple"].overall
    effect_se = float(family_se["simple"][-1])
    z = float(stats.norm.ppf(1 - config.alpha / 2))
    if np.isfinite(effect_se):
        p_value = float(2 * stats.norm.sf(abs(effect / effect_se)))
        ci_low, ci_high = effect - z * effect_se, effect + z * effect_se
    else:
        p_value, ci_low, ci_high = float(effect == 0), effect, effect
    treated_post = np.arange(n_periods)[:, None] >= design.start
    post_weight = design.weight * treated_post
    counterfactual_mean = float((post_weight * design.y).sum() / post_weight.sum()) - effect
    labels = _Labels(panel, design)
    aggregations = {
        name: _summary(name, family, family_se[name], labels) for name, family in families.items()
    }
    # Critical value of the bootstrap uniform band over all event times (None when analytic).
    aggregations["dynamic"]["uniform_critical_value"] = critical
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=_number(effect_se),
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        relative_effect=effect / counterfactual_mean if counterfactual_mean else None,
        n_obs=n_units * n_periods,
        n_units=n_units,
        n_treated=int((design.unit_cohort < design.cohorts.size).sum()),
        warnings=tuple(warnings),
        details={
            "att_gt": [
                {
                    "group": labels.cohort(g),
                    "time": labels.period(p),
                    "att": float(a),
                    "se": _number(s),
                }
                for g, p, a, s in zip(cells.cohort, cells.position, cells.att, cell_se, strict=True)
            ],
            "aggregations": aggregations,
            "control_group": config.control_group,
            "base_period": config.base_period,
            "n_cohorts": int(design.cohorts.size),
            "n_clusters": n_clusters,
            "inference": (
                f"multiplier bootstrap, {config.n_bootstrap} Rademacher draws"
                if config.bootstrap
                else "analytic, from influence functions"
            ),
            "counterfactual_mean": counterfactual_mean,
            "series": _series(panel, design, cells),
        },
    )


def _balanced(panel: Panel) -> tuple[np.ndarray, pl.DataFrame, list[str]] | str:
    """Sorted periods, one row per unit observed in all of them (with its outcome path), and
    warnings; or why there is no such unit."""
    if panel.covariates:
        return (
            "covariates are not supported by the staggered method yet (only unconditional "
            f"parallel trends); found {', '.join(panel.covariates)}"
        )
    if panel.frame["time"].null_count():
        return "the staggered method needs a panel: every row must have a time"
    # A missing or non-finite outcome is an absent row, so its unit is not balanced.
    frame = panel.frame.filter(pl.col("y").is_finite())
    if frame.height == 0:
        return "no outcomes to analyse"
    periods = frame["time"].unique().sort().to_numpy()
    # One hash group-by gives each unit's outcome path and its unit-level attributes; keeping
    # first-appearance order makes the result reproducible for a given input.
    invariant = ("cohort", "cluster", "weight")
    units = frame.group_by("unit", maintain_order=True).agg(
        "time",
        "y",
        *(pl.col(name).first() for name in invariant),
        *(pl.col(name).n_unique().alias(f"{name}_values") for name in invariant),
        pl.col("time").n_unique().alias("n_periods"),
    )
    if (units["n_periods"] < units["time"].list.len()).any():
        return "some units have more than one row for the same period"
    for name in invariant:
        varying = units.filter(pl.col(f"{name}_values") > 1)
        if varying.height:
            return (
                f"{name} must be the same in every period of a unit; it varies for unit "
                f"{varying['unit'][0]}"
            )
    warnings = list(panel.notes)
    complete = units.filter(pl.col("n_periods") == periods.size)
    if complete.height < units.height:
        warnings.append(
            f"{units.height - complete.height} of {units.height} units were dropped because they "
            f"are not observed in all {periods.size} periods (the method needs a balanced panel)"
        )
    if complete.height == 0:
        return "no unit is observed in every period; the staggered method needs a balanced panel"
    return periods, complete, warnings


def _design(panel: Panel, config: StaggeredConfig) -> _Design | str:
    """The wide balanced panel with its cohorts, applying R ``did``'s rules, or why not."""
    balanced = _balanced(panel)
    if isinstance(balanced, str):
        return balanced
    periods, complete, warnings = balanced
    weight = complete["weight"].fill_null(1.0).to_numpy()
    if not (np.isfinite(weight).all() and (weight > 0).all()):
        return "weights must be positive numbers"
    n_units = complete.height
    y = np.empty((periods.size, n_units))
    y[
        np.searchsorted(periods, complete["time"].explode().to_numpy()),
        np.repeat(np.arange(n_units), periods.size),
    ] = complete["y"].explode().to_numpy()
    cluster = (
        complete.select(pl.coalesce("cluster", "unit").rank("dense").cast(pl.Int64) - 1)
        .to_series()
        .to_numpy()
    )
    cohort = complete["cohort"].fill_null(-1).to_numpy()
    start = np.where(cohort >= 0, np.searchsorted(periods, cohort), periods.size)
    label = panel.time_label
    late = int(((cohort >= 0) & (start == periods.size)).sum())
    if late:
        warnings.append(
            f"{late} units first treated after the last period {label(int(periods[-1]))} are "
            "used as never treated"
        )
    first = start == 0
    if first.any():
        warnings.append(
            f"{int(first.sum())} units treated from the first period {label(int(periods[0]))} "
            "were dropped: they have no pre-treatment period"
        )
        y, cohort, start, weight = y[:, ~first], cohort[~first], start[~first], weight[~first]
        cluster = np.unique(cluster[~first], return_inverse=True)[1]
    if not (start < periods.size).any():
        return "no unit is treated within the panel after its first period; nothing to estimate"
    if not (start == periods.size).any():
        if config.control_group == "never":
            return (
                "no never-treated units to compare with; use control_group='notyet' to compare "
                "each cohort with units not yet treated"
            )
        last = int(start.max())
        if not (start < last).any():
            return (
                "no never-treated units and a single treatment cohort: there is no comparison group"
            )
        warnings.append(
            f"no never-treated units: periods from {label(int(periods[last]))} on were dropped "
            f"and the cohort first treated at {label(int(periods[last]))} serves only as a "
            "comparison (as R did does)"
        )
        periods, y = periods[:last], y[:last]
    treated = start < periods.size
    cohorts, sizes = np.unique(cohort[treated], return_counts=True)
    # Comparison-only units get code len(cohorts), one past the last cohort.
    unit_cohort = np.where(treated, np.searchsorted(cohorts, cohort), cohorts.size)
    if (sizes == 1).any():
        singles = ", ".join(label(int(g)) for g in cohorts[sizes == 1])
        warnings.append(
            f"cohort(s) first treated at {singles} have a single unit: their ATT(g,t) rest on one "
            "unit's outcomes and their standard errors are unreliable"
        )
    # Units ordered by cohort, so that each cohort's columns form one block in ``_cells``.
    order = np.argsort(unit_cohort, kind="stable")
    return _Design(
        periods,
        y[:, order],
        weight[order],
        cluster[order],
        cohorts,
        unit_cohort[order],
        tuple(warnings),
    )


def _cells(design: _Design, config: StaggeredConfig) -> Cells:
    """ATT(g,t) and influence functions for every cohort and period, all cells at once.

    Units of one cohort share their role in every cell (treated, comparison or neither), so the
    means come from cohort-by-period sums and only the influence functions are unit-by-cell.
    """
    n_periods, n_units = design.y.shape
    n_cohorts = design.cohorts.size
    cohort_start = np.append(np.searchsorted(design.periods, design.cohorts), n_periods)
    first_position = 1 if config.base_period == "varying" else 0
    cohort, position = (
        grid.ravel()
        for grid in np.meshgrid(
            np.arange(n_cohorts), np.arange(first_position, n_periods), indexing="ij"
        )
    )
    g = cohort_start[cohort]
    base = np.where(position < g, position - 1, g - 1) if first_position else g - 1
    delta = design.y[position] - design.y[base]  # cells x units
    membership = design.unit_cohort[:, None] == np.arange(n_cohorts + 1)
    weighted_membership = membership * design.weight[:, None]
    cohort_weight = weighted_membership.sum(axis=0)
    change = delta @ weighted_membership  # cells x cohorts: weighted sums of changes
    is_treated = np.arange(n_cohorts + 1) == cohort[:, None]
    if config.control_group == "never":
        is_control = np.broadcast_to(cohort_start == n_periods, is_treated.shape)
    else:
        latest = np.maximum(position, base)
        is_control = (cohort_start > latest[:, None]) & ~is_treated
    treated_weight = cohort_weight[cohort]
    control_weight = is_control @ cohort_weight
    treated_mean = change[np.arange(cohort.size), cohort] / treated_weight
    control_mean = (is_control * change).sum(axis=1) / control_weight
    center = np.where(is_treated, treated_mean[:, None], control_mean[:, None])
    slope = is_treated / treated_weight[:, None] - is_control / control_weight[:, None]
    # Influence function of a difference of weighted means, on the scale of all n units, built
    # in place in ``delta`` one cohort block at a time: the panel can be large.
    influence = delta
    blocks = np.searchsorted(design.unit_cohort, np.arange(n_cohorts + 2))
    for code, (begin, end) in enumerate(itertools.pairwise(blocks)):
        influence[:, begin:end] -= center[:, code : code + 1]
        influence[:, begin:end] *= slope[:, code : code + 1]
    influence *= n_units * design.weight
    return Cells(
        cohort=cohort,
        position=position,
        event_time=design.periods[position] - design.cohorts[cohort],
        post=position >= g,
        att=treated_mean - control_mean,
        influence=influence,
        unit_cohort=design.unit_cohort,
        unit_weight=design.weight,
        n_cohorts=int(n_cohorts),
    )


@dataclass(frozen=True)
class _Labels:
    panel: Panel
    design: _Design

    def cohort(self, code: int) -> str:
        return self.panel.time_label(int(self.design.cohorts[code]))

    def period(self, position: int) -> str:
        return self.panel.time_label(int(self.design.periods[position]))


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _summary(name: str, family: Aggregation, se: np.ndarray, labels: _Labels) -> dict[str, Any]:
    """One aggregation as plain data; ``se`` holds the family's parameters, then its overall."""
    summary: dict[str, Any] = {"effect": family.overall, "se": _number(se[-1])}
    if name == "simple":
        return summary
    key, label = {
        "group": ("group", labels.cohort),
        "dynamic": ("event_time", int),
        "calendar": ("time", labels.period),
    }[name]
    summary["by"] = [
        {key: label(k), "att": float(a), "se": _number(s)}
        for k, a, s in zip(family.keys, family.att, se[:-1], strict=True)
    ]
    return summary


def _series(panel: Panel, design: _Design, cells: Cells) -> dict[str, list]:
    """Treated units' mean per period; counterfactual = that mean minus the effect on it.

    The effect on the treated units' mean in period t is the sum, over cohorts already treated
    by t, of the cohort's weight share among treated units times ATT(g,t).
    """
    treated = design.unit_cohort < design.cohorts.size
    weight = design.weight[treated]
    observed = design.y[:, treated] @ weight / weight.sum()
    share = np.bincount(design.unit_cohort[treated], weights=weight) / weight.sum()
    post = cells.post
    effect = np.zeros(design.periods.size)
    np.add.at(effect, cells.position[post], share[cells.cohort[post]] * cells.att[post])
    return series(
        panel,
        observed=observed.tolist(),
        counterfactual=(observed - effect).tolist(),
        times=design.periods.tolist(),
        effect=effect.tolist(),
    )
