"""Bounded, cached reads for the Analyse and Runs pages; the logic lives in ``experiments``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from experiments.adhoc import suggest_method
from experiments.runs import RunDetails, run_details
from experiments.store import Registration, TrialStore
from experiments.tracking import RunRecord, Tracker

CACHE_SECONDS = 30
# The router reads the whole data directory; its answer changes only with the data.
SUGGESTION_SECONDS = 300
RUNS_SHOWN = 500


def trial_ids(home: Path) -> list[str]:
    return TrialStore(home).ids()


def registration(home: Path, trial_id: str) -> Registration:
    return TrialStore(home).get(trial_id)


@st.cache_data(
    ttl=SUGGESTION_SECONDS, max_entries=16, show_spinner="Reading the data to suggest a method…"
)
def load_suggestion(home_dir: str, trial_id: str, data_dir: str) -> dict[str, object]:
    """The router's recommendation for the trial's design, as plain data."""
    chosen = registration(Path(home_dir), trial_id)
    return suggest_method(chosen, Path(data_dir)).to_dict()


@st.cache_data(ttl=CACHE_SECONDS, max_entries=16, show_spinner="Reading the trial's runs…")
def load_runs(home_dir: str, trial_id: str) -> list[RunRecord]:
    return Tracker(Path(home_dir)).runs(trial_id, limit=RUNS_SHOWN)


@st.cache_data(ttl=CACHE_SECONDS, max_entries=64, show_spinner=False)
def load_run_details(home_dir: str, run_id: str) -> RunDetails:
    return run_details(Tracker(Path(home_dir)), run_id)


def tracking_location(home: Path, trial_id: str) -> tuple[str, str | None]:
    """The tracking URI and the trial's MLflow experiment id (``None`` before its first run)."""
    tracker = Tracker(home)
    if not tracker.runs(trial_id, limit=1):
        return tracker.uri, None
    return tracker.uri, tracker.experiment_id(trial_id, registration(home, trial_id).spec.pilot)


def clear_runs() -> None:
    """Forget cached runs after an analysis added new ones."""
    load_runs.clear()
    load_run_details.clear()
