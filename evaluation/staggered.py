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
for the cells, the aggregation weights and the standard errors.

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
    UnitBasis,
    aggregate,
    group_time_cells,
    standard_errors,
    uniform_critical_value,
    unit_basis,
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
# Unit-level columns: one value per unit, whatever the period.
INVARIANT = ("cohort", "cluster", "weight")


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
    """The balanced panel, units ordered by cohort code: what the estimates need of the outcomes
    is each unit's influence-function basis (``units``, whose cohort sums also give the means)
    and, per kept period and treated cohort, the weighted sum of outcomes (``levels``)."""

    periods: np.ndarray
    units: UnitBasis
    levels: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray | None  # each unit's cluster code; None when every unit is its own
    n_clusters: int
    cohorts: np.ndarray  # time index of each estimated cohort's first treated period
    unit_cohort: np.ndarray  # code into ``cohorts``; len(cohorts) for comparison-only units
    warnings: tuple[str, ...]


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

    n_periods, n_units = design.periods.size, design.weight.size
    cells = group_time_cells(
        design.units,
        design.periods,
        design.cohorts,
        not_yet=config.control_group == "notyet",
        varying_base=config.base_period == "varying",
    )
    families = aggregate(cells)
    n_clusters = design.n_clusters
    clustered = design.cluster is not None
    n_draws = config.n_bootstrap if config.bootstrap else None
    blocks = [cells.influence] + [family.influence for family in families.values()]
    (cell_se, _), *by_family = standard_errors(
        blocks, cells.units, design.cluster, n_draws, config.seed
    )
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
    post = np.arange(n_periods)[:, None] >= np.searchsorted(design.periods, design.cohorts)
    post_weight = (design.units.total[: design.cohorts.size] * post).sum()
    counterfactual_mean = float((design.levels * post).sum() / post_weight) - effect
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


@dataclass(frozen=True)
class _Rows:
    """The rows with a finite outcome, their units numbered in order of first appearance.

    Per row: ``position`` (index into ``periods``) and ``y``. Consecutive rows of one unit form
    a run: ``run_length`` and ``run_unit`` (its unit's number). Per unit: ``units`` (unit,
    cohort, cluster and weight of its first row) and ``complete`` (observed in every period).
    ``grid``: the rows are sorted by unit and period and every unit has every period.
    """

    periods: np.ndarray
    position: np.ndarray
    y: np.ndarray
    run_length: np.ndarray
    run_unit: np.ndarray
    units: pl.DataFrame
    complete: np.ndarray
    grid: bool
    warnings: list[str]

    def wide(self, units: np.ndarray) -> np.ndarray:
        """``periods x len(units)`` outcomes of the given complete units, in that order."""
        n_periods = self.periods.size
        y = np.empty((n_periods, units.size + (not self.grid)))
        if self.grid:
            # Period by period: one gather would need a transposed copy of the whole panel.
            for period, outcomes in enumerate(self.y.reshape(-1, n_periods).T):
                y[period] = outcomes[units]
            return y
        column = np.full(self.complete.size, units.size)
        column[units] = np.arange(units.size)
        # Units left out write to one spare column, which spares masking every observation.
        y[self.position, np.repeat(column[self.run_unit], self.run_length)] = self.y
        return y[:, :-1]


def _balanced(panel: Panel) -> _Rows | str:
    """The usable rows, their units and which units are balanced, with warnings; or why there
    is no balanced unit."""
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
    periods, position = _positions(frame["time"].to_numpy())
    n_periods = periods.size
    # Runs of consecutive rows with the same unit, cohort, cluster and weight: one per unit when
    # rows are grouped by unit. Units are numbered by first appearance, so that the result is
    # reproducible for a given input whatever its order.
    runs = frame.select(pl.struct("unit", *INVARIANT).rle()).to_series().struct.unnest()
    length = runs["len"].to_numpy().astype(np.int64)
    heads = runs["value"].struct.unnest()
    run_unit, leads = _first_appearance(heads["unit"])
    # Rows sorted by unit and period with every unit in every period (the usual layout) cannot
    # repeat a period, and their outcomes are already a units x periods array.
    grid = (
        leads.size == length.size
        and bool((length == n_periods).all())
        and bool((position.reshape(-1, n_periods) == np.arange(n_periods)).all())
    )
    if not grid:
        seen = np.zeros((leads.size, n_periods), dtype=bool)
        seen[np.repeat(run_unit, length), position] = True
        if np.count_nonzero(seen) < frame.height:
            return "some units have more than one row for the same period"
    # A unit in one run has one cohort, cluster and weight.
    if leads.size < heads.height:
        varying = _varying(heads, run_unit, leads)
        if varying is not None:
            return varying
    warnings = list(panel.notes)
    complete = np.bincount(run_unit, weights=length, minlength=leads.size) == n_periods
    n_complete = int(complete.sum())
    if n_complete < leads.size:
        warnings.append(
            f"{leads.size - n_complete} of {leads.size} units were dropped because they "
            f"are not observed in all {n_periods} periods (the method needs a balanced panel)"
        )
    if n_complete == 0:
        return "no unit is observed in every period; the staggered method needs a balanced panel"
    units = heads if leads.size == heads.height else heads[leads]
    y = frame["y"].to_numpy()
    return _Rows(periods, position, y, length, run_unit, units, complete, grid, warnings)


def _positions(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct times and each row's index among them."""
    low = int(time.min())
    span = int(time.max()) - low + 1
    if span > time.size:
        return np.unique(time, return_inverse=True)
    offset = time - low if low else time
    seen = np.zeros(span, dtype=bool)
    seen[offset] = True
    if seen.all():
        return np.arange(low, low + span), offset
    return np.flatnonzero(seen) + low, (np.cumsum(seen) - 1)[offset]


def _first_appearance(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..k-1`` of the ``k`` distinct values in order of first appearance, and where
    each first appears."""
    if values.n_unique() == values.len():  # no repeats, as in a panel sorted by unit
        codes = np.arange(values.len())
        return codes, codes
    first = (
        values.to_frame("value")
        .with_row_index()
        .select(pl.col("index").first().over("value"))
        .to_series()
        .to_numpy()
    )
    leads = first == np.arange(first.size)
    return (np.cumsum(leads) - 1)[first], np.flatnonzero(leads)


def _varying(heads: pl.DataFrame, run_unit: np.ndarray, leads: np.ndarray) -> str | None:
    """Why cohort, cluster or weight is not unit-level, naming the first unit where it varies;
    ``heads`` holds the first row of each run, whose unit is ``run_unit``."""
    for name in INVARIANT:
        column = heads[name]
        varies = column.ne_missing(column.gather(leads[run_unit])).to_numpy()
        if varies.any():
            unit = heads["unit"][int(leads[run_unit[varies].min()])]
            return f"{name} must be the same in every period of a unit; it varies for unit {unit}"
    return None


def _design(panel: Panel, config: StaggeredConfig) -> _Design | str:
    """The wide balanced panel with its cohorts, applying R ``did``'s rules, or why not."""
    rows = _balanced(panel)
    if isinstance(rows, str):
        return rows
    periods, warnings = rows.periods, rows.warnings
    kept = np.flatnonzero(rows.complete)
    weight = rows.units["weight"].fill_null(1.0).to_numpy()[kept]
    if not (np.isfinite(weight).all() and (weight > 0).all()):
        return "weights must be positive numbers"
    cohort = rows.units["cohort"].fill_null(-1).to_numpy()[kept]
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
        kept, cohort, start, weight = kept[~first], cohort[~first], start[~first], weight[~first]
    if not (start < periods.size).any():
        return "no unit is treated within the panel after its first period; nothing to estimate"
    n_periods = periods.size
    if not (start == n_periods).any():
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
        n_periods = last
    treated = start < n_periods
    cohorts, sizes = np.unique(cohort[treated], return_counts=True)
    # Comparison-only units get code len(cohorts), one past the last cohort.
    unit_cohort = np.where(treated, np.searchsorted(cohorts, cohort), cohorts.size)
    if (sizes == 1).any():
        singles = ", ".join(label(int(g)) for g in cohorts[sizes == 1])
        warnings.append(
            f"cohort(s) first treated at {singles} have a single unit: their ATT(g,t) rest on one "
            "unit's outcomes and their standard errors are unreliable"
        )
    cluster = rows.units.select(pl.coalesce("cluster", "unit")).to_series().gather(kept)
    n_clusters = cluster.n_unique()
    # Units ordered by cohort, so that each cohort's units form one block of columns.
    order = np.argsort(unit_cohort, kind="stable")
    y = rows.wide(kept[order])[:n_periods]
    weight, unit_cohort = weight[order], unit_cohort[order]
    edges = np.searchsorted(unit_cohort, np.arange(cohorts.size + 2))
    levels = [y[:, begin:end] @ weight[begin:end] for begin, end in itertools.pairwise(edges[:-1])]
    return _Design(
        periods[:n_periods],
        unit_basis(y, weight, edges),
        np.stack(levels, axis=1),
        weight,
        _dense_codes(cluster)[order] if n_clusters < kept.size else None,
        n_clusters,
        cohorts,
        unit_cohort,
        tuple(warnings),
    )


def _dense_codes(values: pl.Series) -> np.ndarray:
    """``0..k-1`` in the sorted order of the ``k`` distinct values."""
    return (values.rank("dense").cast(pl.Int64) - 1).to_numpy()


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
    weight = design.units.total[: design.cohorts.size]
    observed = design.levels.sum(axis=1) / weight.sum()
    share = weight / weight.sum()
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
