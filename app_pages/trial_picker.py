"""The trial choice the Analyse and Runs pages share, kept in the address (``?id=TRIAL_ID``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.analyse_data import trial_ids
from app_pages.auth import page_link
from livinglab.errors import LivingLabError


def choose_trial(home_dir: Path, key: str, when_empty: str) -> str:
    """The chosen trial's id; stops the page with ``when_empty`` when no trial is registered."""
    try:
        ids = trial_ids(home_dir)
    except LivingLabError as error:
        st.error(f"The trial store could not be read: {error}")
        st.stop()
    if not ids:
        st.info(when_empty)
        page_link(
            "app_pages/portfolio.py", label="Go to the portfolio", icon=":material/dashboard:"
        )
        st.stop()
    asked = st.query_params.get("id")
    trial_id = st.selectbox("Trial", ids, index=ids.index(asked) if asked in ids else 0, key=key)
    st.query_params["id"] = trial_id
    return trial_id
