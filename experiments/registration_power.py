"""Power and minimum detectable effect of a trial being registered, from the pilot's history.

The power calculator reads the pilot's historical data (``read_history``), summarises the primary
metric before the planned start (``baseline``) and asks ``evaluation.power.solve_design`` for the
minimum detectable effect of the chosen design and the power at the owner's MDE (``power_check``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from evaluation.power import PowerDesign, solve_design
from experiments.registration import TrialForm
from experiments.spec import SCHEDULED_BY_DAY
from livinglab.errors import DataError, InputError
from pilots.aggregation import metric_values
from pilots.registry import get_pilot

MAX_ATTRIBUTE_VALUES = 500


@dataclass(frozen=True)
class History:
    """A pilot's historical data: unit attributes and each metric's per-unit-period values."""

    pilot: str
    data_dir: str
    units: pl.DataFrame
    values: dict[str, pl.DataFrame]

    def attributes(self) -> dict[str, list[str]]:
        """Text attributes of the units (``unit`` itself first) with the values each takes."""
        out = {}
        for name, dtype in self.units.schema.items():
            if dtype != pl.String:
                continue
            values = self.units[name].drop_nulls().unique().sort().to_list()
            if values and len(values) <= MAX_ATTRIBUTE_VALUES:
                out[name] = values
        return dict(sorted(out.items(), key=lambda item: item[0] != "unit"))

    @property
    def first_day(self) -> date | None:
        starts = [v["period_start"].min() for v in self.values.values() if v.height]
        return min(starts) if starts else None

    @property
    def last_day(self) -> date | None:
        ends = [v["period_end"].max() for v in self.values.values() if v.height]
        return max(ends) - timedelta(days=1) if ends else None


def read_history(pilot_id: str, data_dir: Path) -> History:
    """Run the pilot's adapter on ``data_dir`` and compute every metric per unit and period."""
    pilot = get_pilot(pilot_id)
    if pilot.configure is not None:
        raise InputError(
            f"pilot {pilot_id!r} takes its metrics from a spec's [data] table; register it by "
            "uploading its TOML spec"
        )
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: no such folder; name the folder holding {pilot.name}'s raw files"
        )
    try:
        observations = pilot.adapter(data_dir)
        values = {
            m.name: metric_values(observations.table, m)
            .select("unit", "period_start", "period_end", "value")
            .collect()
            for m in pilot.metrics
        }
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        raise DataError(f"Failed while reading {pilot.name} data from {data_dir}: {exc}") from exc
    return History(pilot_id, str(data_dir), observations.units, values)


@dataclass(frozen=True)
class Baseline:
    """The primary metric's history before the planned start, at the level it is randomised.

    ``serial_correlation`` is the intra-unit correlation of consecutive periods (lag 1, pooled
    over units). ``residual_sd`` and ``residual_correlation`` are the same after removing unit and
    period means, the errors a difference-in-differences model is left with.
    """

    metric: str
    level: str
    n_units: int
    n_periods: int
    first_period: date
    last_period: date
    mean: float
    sd: float
    serial_correlation: float
    residual_sd: float
    residual_correlation: float


def baseline(
    history: History, metric: str, *, before: date | None, assigned_by: str = "unit"
) -> Baseline:
    """Summarise ``metric``'s periods that end by ``before`` (all periods when ``None``).

    When arms are assigned by a unit attribute (routes of bins), units are averaged into that
    attribute's groups first: the groups are what is randomised and compared, so their variance,
    not the single units', sets the power.
    """
    if metric not in history.values:
        raise InputError(f"pilot {history.pilot!r} has no metric {metric!r}")
    values = history.values[metric].drop_nulls("value")
    if before is not None:
        values = values.filter(pl.col("period_end") <= before)
    level = "unit"
    if assigned_by != "unit" and assigned_by in history.units.columns:
        level = assigned_by
        groups = history.units.select("unit", pl.col(assigned_by).cast(pl.String).alias("group"))
        values = (
            values.join(groups, on="unit")
            .drop_nulls("group")
            .group_by("group", "period_start", "period_end")
            .agg(pl.col("value").mean())
            .rename({"group": "unit"})
        )
    values = values.sort("unit", "period_start")
    n_units, n_periods = values["unit"].n_unique(), values["period_start"].n_unique()
    if values.height < 4 or n_periods < 2:
        when = f" ending by {before}" if before else ""
        raise InputError(
            f"{metric}: too little history{when} for a power calculation ({values.height} "
            f"{level}-periods); name a data folder with earlier data"
        )
    residual = values.with_columns(
        (
            pl.col("value")
            - pl.col("value").mean().over("unit")
            - pl.col("value").mean().over("period_start")
            + pl.col("value").mean()
        ).alias("residual")
    )
    dof = max(values.height - n_units - n_periods + 1, 1)
    return Baseline(
        metric=metric,
        level=level,
        n_units=n_units,
        n_periods=n_periods,
        first_period=values["period_start"].min(),  # type: ignore[arg-type]
        last_period=values["period_start"].max(),  # type: ignore[arg-type]
        mean=float(values["value"].mean()),  # type: ignore[arg-type]
        sd=float(values["value"].std()),  # type: ignore[arg-type]
        serial_correlation=_lag_correlation(values, "value"),
        residual_sd=math.sqrt(float((residual["residual"] ** 2).sum()) / dof),
        residual_correlation=_lag_correlation(residual, "residual"),
    )


def _lag_correlation(frame: pl.DataFrame, column: str) -> float:
    """Correlation of each unit's value with its previous period's, pooled over units.

    Clipped to [-0.99, 0.99]: the power formulas take an AR(1) coefficient strictly inside (-1, 1).
    """
    pairs = frame.with_columns(pl.col(column).shift(1).over("unit").alias("previous")).drop_nulls(
        "previous"
    )
    if pairs.height < 3:
        return 0.0
    current, previous = pairs[column].to_numpy(), pairs["previous"].to_numpy()
    if current.std() == 0 or previous.std() == 0:
        return 0.0
    return float(np.clip(np.corrcoef(current, previous)[0, 1], -0.99, 0.99))


def arm_sizes(history: History | None, form: TrialForm) -> tuple[str, int, int]:
    """The level standard errors cluster on, and how many of its units each arm holds.

    That is ``cluster_by`` when set (lampposts assigned their phase singly), else what the arms
    are assigned by; in a switchback, the service days of each arm.
    """
    level = form.cluster_by.strip() or form.assigned_by.strip() or "unit"
    sizes = len(form.treated), len(form.control)
    units = history.units if history is not None else None
    if form.assigned_by == SCHEDULED_BY_DAY or level == form.assigned_by or units is None:
        return level, *sizes
    if {level, form.assigned_by} - set(units.columns):
        return level, *sizes
    label = pl.col(form.assigned_by).cast(pl.String)
    counts = [
        units.filter(label.is_in(list(names)))[level].n_unique()
        for names in (form.treated, form.control)
    ]
    return level, counts[0], counts[1]


def power_design(planned_method: str, switchback: bool) -> PowerDesign:
    """The formula of ``evaluation.power`` that fits the registered design.

    A switchback randomises service days; a randomized trial compares the randomised units' (or
    groups') post-period means; every other method compares changes from the before window
    against controls, which the difference-in-differences formula describes.
    """
    if switchback:
        return "switchback"
    return "individual" if planned_method == "randomized" else "did"


@dataclass(frozen=True)
class PowerCheck:
    """The design's MDE at the target power, and the power at the owner's MDE."""

    design: str
    method: str
    mde_absolute: float
    mde_relative: float
    power_at_mde: float | None
    inputs: dict[str, Any] = field(default_factory=dict)


def power_inputs(
    base: Baseline,
    design: PowerDesign,
    *,
    n_treated: int,
    n_control: int,
    n_periods: int,
    n_pre: int,
    alpha: float,
) -> dict[str, Any]:
    """``solve_design``'s keyword arguments, except ``mde`` and ``power``.

    In a switchback ``n_treated`` and ``n_control`` count service days, the blocks that are
    randomised; each of the data's units (routes) runs that schedule.
    """
    if n_treated < 1 or n_control < 1:
        raise InputError("the calculator needs at least one treated and one control unit")
    total = n_treated + n_control
    if design == "switchback":
        return {
            "design": design,
            "n_units": base.n_units,
            "n_periods": total,
            "alpha": alpha,
            "sd": base.sd,
            "treated_share": n_treated / total,
        }
    common = {
        "design": design,
        "n_units": total,
        "n_periods": n_periods,
        "alpha": alpha,
        "treated_share": n_treated / total,
    }
    if design == "did":
        return common | {
            "sd": base.residual_sd,
            "ar1": base.residual_correlation,
            "n_pre": n_pre,
        }
    return common | {"sd": base.sd, "ar1": base.serial_correlation}


def power_check(
    base: Baseline,
    design: PowerDesign,
    *,
    n_treated: int,
    n_control: int,
    n_periods: int,
    n_pre: int,
    alpha: float,
    power: float,
    mde: float | None,
) -> PowerCheck:
    """MDE (absolute and relative to the baseline mean) at ``power``; power at relative ``mde``."""
    if base.mean == 0:
        raise InputError(f"{base.metric}: the baseline mean is 0, so a relative MDE is undefined")
    inputs = power_inputs(
        base,
        design,
        n_treated=n_treated,
        n_control=n_control,
        n_periods=n_periods,
        n_pre=n_pre,
        alpha=alpha,
    )
    try:
        solved = solve_design(**inputs, mde=None, power=power)
        at_mde = None
        if mde is not None and mde > 0:
            at_mde = solve_design(**inputs, mde=mde * abs(base.mean), power=None).power
    except ValueError as exc:
        # With very few degrees of freedom the noncentral t's power is NaN for large effects.
        raise InputError(
            f"the {design} power formula has no answer for {n_treated} treated and {n_control} "
            f"control ({exc}); with so few units power is very low: add units"
        ) from exc
    return PowerCheck(
        design=design,
        method=solved.method,
        mde_absolute=solved.mde,
        mde_relative=solved.mde / abs(base.mean),
        power_at_mde=at_mde,
        inputs=inputs,
    )


def count_periods(first: date, last: date, grain: str) -> int:
    """Periods of ``grain`` (day, week from Monday, month) that ``[first, last]`` touches."""
    if last < first:
        return 0
    if grain == "day":
        return (last - first).days + 1
    if grain == "week":
        monday = first - timedelta(days=first.weekday())
        return (last - monday).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def power_curve(base: Baseline, inputs: Mapping[str, Any], effects: list[float]) -> list[float]:
    """Power of the design at each relative effect (a fraction of the baseline mean)."""
    return [
        solve_design(**inputs, mde=effect * abs(base.mean), power=None).power for effect in effects
    ]


def power_curve_figure(
    base: Baseline, check: PowerCheck, *, target_power: float, mde: float | None
) -> go.Figure:
    """Power against the relative effect, with the target power and the registered MDE marked."""
    top = max(2.5 * check.mde_relative, 1.5 * (mde or 0.0), 0.01)
    effects = [top * step / 60 for step in range(1, 61)]
    figure = go.Figure()
    figure.add_scatter(
        x=[100 * e for e in effects],
        y=[100 * p for p in power_curve(base, check.inputs, effects)],
        mode="lines",
        name="Power of this design",
        line={"color": "#0072B2", "width": 2},
    )
    figure.add_hline(
        y=100 * target_power,
        line={"color": "#E69F00", "dash": "dash"},
        annotation_text=f"target {target_power:.0%}",
    )
    figure.add_vline(
        x=100 * check.mde_relative,
        line={"color": "#009E73", "dash": "dot"},
        annotation_text=f"MDE {check.mde_relative:.1%}",
    )
    if mde is not None and mde > 0:
        figure.add_vline(
            x=100 * mde,
            line={"color": "#D55E00"},
            annotation_text=f"your MDE {mde:.0%}",
            annotation_position="bottom right",
        )
    figure.update_layout(
        xaxis_title="True effect (% change of the baseline mean)",
        yaxis_title="Power (%)",
        yaxis_range=[0, 100],
        height=320,
        margin={"t": 30, "b": 40},
        showlegend=False,
    )
    return figure
