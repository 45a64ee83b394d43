"""Bounded, cached reads for the Register page; the logic itself lives in ``experiments``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from experiments.demo import demo_data_dir
from experiments.registration import PilotOption, form_pilots
from experiments.registration_power import History, read_history
from experiments.store import livinglab_home

# Reading a pilot's raw files takes seconds; the files do not change while an owner fills in the
# form, so the history is kept for ten minutes rather than the pages' usual 30 seconds.
HISTORY_SECONDS = 600


def home() -> Path:
    return livinglab_home()


def default_data_dir(pilot_id: str) -> Path | None:
    """The pilot's demo data under ``LIVINGLAB_HOME``, if ``livinglab demo`` wrote it."""
    path = demo_data_dir(home(), pilot_id)
    return path if path.is_dir() else None


@st.cache_data(ttl=30, max_entries=1)
def load_pilots() -> list[PilotOption]:
    return form_pilots()


@st.cache_data(
    ttl=HISTORY_SECONDS, max_entries=8, show_spinner="Reading the pilot's historical data…"
)
def load_history(pilot_id: str, data_dir: str) -> History:
    return read_history(pilot_id, Path(data_dir))
