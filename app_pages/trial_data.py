"""Bounded, cached read of a trial's latest analysis for the Trial page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.data import CACHE_SECONDS
from experiments.trial_report import TrialReport, trial_report


@st.cache_data(ttl=CACHE_SECONDS, max_entries=16, show_spinner="Reading the trial's evidence…")
def load_report(home_dir: str, trial_id: str) -> TrialReport:
    return trial_report(Path(home_dir), trial_id)
