"""Charts shared by the tracked artifacts and the app (plotly, colour-blind-safe Okabe-Ito)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import plotly.graph_objects as go

OBSERVED = "#0072B2"
COUNTERFACTUAL = "#E69F00"
CONTROL = "#999999"


def counterfactual_figure(
    series: Mapping[str, Sequence], *, title: str, unit: str, treatment_start: date
) -> go.Figure:
    """Treated group's observed mean against its counterfactual, with the start marked."""
    figure = go.Figure()
    periods = list(series.get("period", []))
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
        line={"color": COUNTERFACTUAL, "dash": "dash", "width": 2},
    )
    figure.add_scatter(
        x=periods,
        y=series.get("observed", []),
        name="Treated group, observed",
        mode="lines+markers",
        line={"color": OBSERVED, "width": 2},
        marker={"size": 5},
    )
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
    figure.update_layout(
        title=title,
        xaxis_title="Week starting",
        yaxis_title=unit,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        height=380,
    )
    return figure
