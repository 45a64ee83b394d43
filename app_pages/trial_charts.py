"""Streamlit helpers of the Trial page: a chart with its HTML download, kept for the ZIP."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st


class ChartShelf:
    """Shows charts, each with a download button, and keeps their HTML for one ZIP download."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id
        self.pages: dict[str, str] = {}

    def show(self, figure: go.Figure, key: str) -> None:
        html = figure.to_html(include_plotlyjs="cdn", full_html=True)
        file_name = f"{self.trial_id}_{key}.html"
        self.pages[file_name] = html
        st.plotly_chart(figure, key=f"chart_{key}")
        st.download_button(
            "Download chart (HTML)",
            html,
            file_name=file_name,
            mime="text/html",
            key=f"download_{key}",
            on_click="ignore",
            type="tertiary",
            icon=":material/download:",
        )
