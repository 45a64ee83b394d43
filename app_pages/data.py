"""Bounded, cached reads for the pages; the logic itself lives in ``experiments``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from experiments.portfolio import TrialSummary, portfolio
from experiments.store import TrialStore, livinglab_home

CACHE_SECONDS = 30


def home() -> Path:
    return livinglab_home()


def store_is_empty() -> bool:
    return not TrialStore(home()).ids()


@st.cache_data(ttl=CACHE_SECONDS, max_entries=4, show_spinner="Reading the portfolio…")
def load_portfolio(home_dir: str) -> list[TrialSummary]:
    return portfolio(Path(home_dir))
