"""Charts shared by the tracked artifacts and the app (plotly, colour-blind-safe Okabe-Ito)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import plotly.express as px
import plotly.graph_objects as go

OBSERVED = "#0072B2"
COUNTERFACTUAL = "#E69F00"
CONTROL = "#999999"
EFFECT = "#009E73"
PLACEBO = "#56B4E9"
REAL = "#D55E00"
ARM_COLOURS = {"Treated": "#D55E00", "Control": "#0072B2", "Switchback": "#CC79A7"}
STAGE_COLOURS = {"pre": "#56B4E9", "cohort": "#D55E00", "post": "#0072B2"}
HONG_KONG = {"lat": 22.35, "lon": 114.15}


def counterfactual_figure(
    series: Mapping[str, Sequence],
    *,
    title: str,
    unit: str,
    treatment_start: date,
    period_label: str = "Week starting",
) -> go.Figure:
    """Treated group's observed mean against its counterfactual, with the start marked.

    The counterfactual's interval is drawn as a band when the series has
    ``counterfactual_low`` and ``counterfactual_high``.
    """
    figure = go.Figure()
    periods = list(series.get("period", []))
    if "counterfactual_low" in series and "counterfactual_high" in series:
        _band(
            figure,
            periods,
            series["counterfactual_low"],
            series["counterfactual_high"],
            COUNTERFACTUAL,
            "Counterfactual 95% interval",
        )
    if "control" in series:
        figure.add_scatter(
            x=periods,
            y=series["control"],
            name="Control group",
            mode="lines",
            line={"color": CONTROL, "width": 1},
        )
    figure.add_scatter(
        x=periods,
        y=series.get("counterfactual", []),
        name="Counterfactual (without the pilot)",
        mode="lines",
        connectgaps=True,
        line={"color": COUNTERFACTUAL, "dash": "dash", "width": 2},
    )
    figure.add_scatter(
        x=periods,
        y=series.get("observed", []),
        name="Treated group, observed",
        mode="lines+markers",
        connectgaps=True,
        line={"color": OBSERVED, "width": 2},
        marker={"size": 5},
    )
    _mark_start(figure, treatment_start)
    _layout(figure, title, period_label, unit)
    return figure


def effect_figure(
    period: Sequence[str],
    effect: Sequence[float | None],
    low: Sequence[float | None] | None,
    high: Sequence[float | None] | None,
    *,
    title: str,
    unit: str,
    treatment_start: date,
    period_label: str = "Week starting",
) -> go.Figure:
    """An effect path (pointwise or cumulative) around zero, with its interval when given."""
    figure = go.Figure()
    if low is not None and high is not None:
        _band(figure, list(period), low, high, EFFECT, "95% interval")
    figure.add_scatter(
        x=list(period),
        y=list(effect),
        name="Effect (observed - counterfactual)",
        mode="lines+markers",
        line={"color": EFFECT, "width": 2},
        marker={"size": 4},
    )
    figure.add_hline(y=0, line={"color": "#444444", "width": 1})
    _mark_start(figure, treatment_start)
    _layout(figure, title, period_label, unit)
    return figure


def event_study_figure(
    rows: Sequence[Mapping[str, Any]], *, title: str, unit: str, band: str
) -> go.Figure:
    """Effects by periods since the start, with their intervals; the reference period hollow."""
    x = [row["event_time"] for row in rows]
    effect = [row["effect"] for row in rows]
    figure = go.Figure()
    figure.add_scatter(
        x=x,
        y=effect,
        mode="markers",
        name=f"Effect with {band} 95% interval",
        marker={
            "color": OBSERVED,
            "size": 7,
            "symbol": ["circle-open" if row["reference"] else "circle" for row in rows],
        },
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [r["ci_high"] - r["effect"] if _has_ci(r) else 0 for r in rows],
            "arrayminus": [r["effect"] - r["ci_low"] if _has_ci(r) else 0 for r in rows],
            "color": OBSERVED,
            "thickness": 1,
        },
    )
    figure.add_hline(y=0, line={"color": "#444444", "width": 1})
    figure.add_vline(x=-0.5, line={"color": "#444444", "dash": "dot"})
    _layout(figure, title, "Periods since the start (0 = first treated period)", unit)
    return figure


def donor_weights_figure(rows: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """The synthetic control's donor weights as horizontal bars, largest on top."""
    ordered = sorted(rows, key=lambda row: row["Weight"])
    figure = go.Figure(
        go.Bar(
            x=[row["Weight"] for row in ordered],
            y=[row["Donor"] for row in ordered],
            orientation="h",
            marker={"color": OBSERVED},
            text=[f"{row['Weight']:.1%}" for row in ordered],
            textposition="outside",
        )
    )
    _layout(figure, title, "Weight in the synthetic control (share, sums to 1)", "Donor unit")
    figure.update_xaxes(tickformat=".0%")
    figure.update_layout(height=max(300, 28 * len(rows) + 120), showlegend=False)
    return figure


def placebo_figure(
    placebos: Sequence[Mapping[str, Any]], real_effect: float, *, title: str, unit: str
) -> go.Figure:
    """Histogram of placebo-in-space effects with the real effect marked."""
    figure = go.Figure(
        go.Histogram(
            x=[row["effect"] for row in placebos],
            name="Placebo effects (control units pretending to be treated)",
            marker={"color": PLACEBO},
            nbinsx=min(30, max(5, len(placebos))),
        )
    )
    figure.add_vline(x=real_effect, line={"color": REAL, "width": 3})
    figure.add_annotation(
        x=real_effect, y=1, yref="paper", text="real effect", showarrow=False, yanchor="bottom"
    )
    _layout(figure, title, f"Effect ({unit})", "Number of placebos")
    return figure


def robustness_figure(rows: Sequence[Mapping[str, Any]], *, title: str, unit: str) -> go.Figure:
    """Every method's estimate of the primary metric with its 95% interval, side by side."""
    shown = [row for row in rows if row["Effect"] is not None]
    figure = go.Figure()
    for row in shown:
        interval = row["95% CI low"] is not None and row["95% CI high"] is not None
        figure.add_scatter(
            x=[row["Effect"]],
            y=[f"{row['Method']} ({row['Role']})"],
            mode="markers",
            name=row["Method"],
            marker={"size": 10, "color": REAL if row["Role"] == "registered" else OBSERVED},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [row["95% CI high"] - row["Effect"] if interval else 0],
                "arrayminus": [row["Effect"] - row["95% CI low"] if interval else 0],
            },
            showlegend=False,
        )
    figure.add_vline(x=0, line={"color": "#444444", "width": 1})
    _layout(figure, title, f"Effect ({unit}), 95% interval", "Method")
    figure.update_layout(height=max(220, 60 * len(shown) + 120))
    return figure


def timeline_figure(rows: Sequence[Any], *, title: str) -> go.Figure:
    """The rollout: the pre window, each cohort from its start, the post window, as bars."""
    figure = go.Figure()
    for row in reversed(rows):
        figure.add_scatter(
            x=[row.start.isoformat(), row.end.isoformat()],
            y=[row.stage, row.stage],
            mode="lines+markers",
            line={"color": STAGE_COLOURS.get(row.kind, CONTROL), "width": 14},
            marker={"size": 4, "color": "#000000"},
            hovertemplate=f"{row.stage}: {row.start:%Y-%m-%d} to {row.end:%Y-%m-%d}<extra></extra>",
            showlegend=False,
        )
    for row in rows:
        if row.kind == "cohort":
            figure.add_vline(x=row.start.isoformat(), line={"color": "#444444", "dash": "dot"})
    _layout(figure, title, "Date", "")
    figure.update_layout(height=120 + 45 * len(rows))
    return figure


def sites_map_figure(sites: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """Treated and control sites on an OpenStreetMap base (no token; blank tiles offline)."""
    frame = {
        key: [site[key] for site in sites] for key in ("unit", "arm", "district", "lat", "lon")
    }
    figure = px.scatter_map(
        frame,
        lat="lat",
        lon="lon",
        color="arm",
        hover_name="unit",
        hover_data={"district": True, "lat": False, "lon": False},
        color_discrete_map=ARM_COLOURS,
        map_style="open-street-map",
        zoom=10,
        center=_centre(sites),
        title=title,
        height=420,
    )
    figure.update_traces(marker={"size": 9})
    figure.update_layout(
        legend={"orientation": "h", "y": -0.05, "title": {"text": "Arm"}},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


def _has_ci(row: Mapping[str, Any]) -> bool:
    return row["ci_low"] is not None and row["ci_high"] is not None


def _centre(sites: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    if not sites:
        return HONG_KONG
    return {
        "lat": sum(site["lat"] for site in sites) / len(sites),
        "lon": sum(site["lon"] for site in sites) / len(sites),
    }


def _band(
    figure: go.Figure,
    periods: list,
    low: Sequence[float | None],
    high: Sequence[float | None],
    colour: str,
    name: str,
) -> None:
    """A shaded interval between ``low`` and ``high``."""
    figure.add_scatter(
        x=periods, y=list(high), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
    )
    figure.add_scatter(
        x=periods,
        y=list(low),
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor=_transparent(colour),
        name=name,
    )


def _transparent(colour: str, alpha: float = 0.25) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _mark_start(figure: go.Figure, treatment_start: date) -> None:
    figure.add_vline(x=treatment_start.isoformat(), line={"color": "#444444", "dash": "dot"})
    figure.add_annotation(
        x=treatment_start.isoformat(),
        y=1,
        yref="paper",
        text="pilot starts",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
    )


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str) -> None:
    figure.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        height=380,
    )
