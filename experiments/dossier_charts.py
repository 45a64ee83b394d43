"""The evidence dossier's static charts: PNG images drawn by matplotlib's Agg renderer.

A PDF and a self-contained HTML file need images, not the app's interactive plotly charts. No
pyplot: each chart is its own ``Figure``, so charts drawn at the same time (the app serves several
people) share no state. The colours are the app's (Okabe-Ito, safe for colour-blind readers);
titles, axis titles, legends and metric labels are set in the dossier's font, passed as a file,
so Chinese draws as well as English.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from experiments.charts import COUNTERFACTUAL, OBSERVED
from experiments.dossier_model import ForestRow, Trajectory
from experiments.portfolio import VERDICT_COLOURS

DPI = 150
WIDTH = 7.2  # inches: the width of an A4 page's text
DATE_TICKS = 7  # at most this many period labels on the time axis
TEXT_SIZE = 8
TITLE_SIZE = 9.5
START_LINE = "#444444"


def trajectory_png(trajectory: Trajectory, text: Mapping[str, str], font: Path) -> bytes:
    """The treated group's observed mean per period against its counterfactual, with the
    counterfactual's 95% band when the method gives one and the start marked."""
    face = FontProperties(fname=font, size=TEXT_SIZE)
    figure = Figure(figsize=(WIDTH, 3.3), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    x = range(len(trajectory.period))
    if trajectory.low is not None and trajectory.high is not None:
        axes.fill_between(
            x,
            _gaps(trajectory.low),
            _gaps(trajectory.high),
            color=COUNTERFACTUAL,
            alpha=0.2,
            linewidth=0,
            label=text["chart.band"],
        )
    axes.plot(
        x,
        _gaps(trajectory.counterfactual),
        linestyle="--",
        linewidth=1.6,
        color=COUNTERFACTUAL,
        label=text["chart.counterfactual"],
    )
    axes.plot(
        x,
        _gaps(trajectory.observed),
        marker="o",
        markersize=2.5,
        linewidth=1.6,
        color=OBSERVED,
        label=text["chart.observed"],
    )
    if trajectory.start is not None:
        at = trajectory.start - 0.5  # between the last period before and the first after
        axes.axvline(at, color=START_LINE, linewidth=1, linestyle=":")
        axes.annotate(
            text["chart.start"],
            xy=(at, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontproperties=face,
            color=START_LINE,
        )
    step = max(1, math.ceil(len(trajectory.period) / DATE_TICKS))
    ticks = list(x)[::step]
    axes.set_xticks(ticks, [trajectory.period[i][:10] for i in ticks])
    axes.set_xlabel(trajectory.period_axis, fontproperties=face)
    axes.set_ylabel(trajectory.unit, fontproperties=face)
    figure.legend(prop=face, frameon=False, loc="outside lower center", ncols=3)
    _finish(axes, trajectory.title, font)
    return _png(figure)


def forest_png(rows: Sequence[ForestRow], text: Mapping[str, str], font: Path) -> bytes:
    """Every metric's relative effect with its 95% interval, coloured by its verdict; a metric
    without a relative effect stays on the axis, marked not estimated."""
    face = FontProperties(fname=font, size=TEXT_SIZE)
    figure = Figure(figsize=(WIDTH, 1.2 + 0.45 * len(rows)), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]  # the first metric on top
    for position, row in zip(positions, rows, strict=True):
        colour = VERDICT_COLOURS[row.verdict]
        if row.relative is None:
            axes.annotate(
                text["not_estimated"],
                xy=(0, position),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontproperties=face,
            )
            continue
        if row.low is not None and row.high is not None:
            axes.plot([100 * row.low, 100 * row.high], [position] * 2, color=colour, linewidth=2)
        axes.plot(100 * row.relative, position, marker="D", markersize=6, color=colour)
    axes.axvline(0, color="#000000", linewidth=0.8)
    axes.set_yticks(positions, [row.label for row in rows], fontproperties=face)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_xlabel(text["chart.forest_axis"], fontproperties=face)
    shown = dict.fromkeys(row.verdict for row in rows if row.relative is not None)
    if shown:
        figure.legend(
            handles=[
                Line2D(
                    [], [], marker="D", color=VERDICT_COLOURS[kind], label=text[f"verdict.{kind}"]
                )
                for kind in shown
            ],
            prop=face,
            frameon=False,
            loc="outside lower center",
            ncols=len(shown),
        )
    _finish(axes, text["chart.forest"], font)
    return _png(figure)


def _finish(axes: Axes, title: str, font: Path) -> None:
    axes.set_title(title, fontproperties=FontProperties(fname=font, size=TITLE_SIZE), loc="left")
    axes.tick_params(labelsize=TEXT_SIZE - 1)
    axes.grid(axis="both", color="#dddddd", linewidth=0.5)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _gaps(values: Sequence[float | None]) -> list[float]:
    """Missing values as NaN, which matplotlib leaves as gaps."""
    return [math.nan if value is None else value for value in values]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
