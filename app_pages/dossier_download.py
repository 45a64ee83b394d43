"""The Trial page's evidence dossier: a committee brief and technical appendix, in English or
Traditional Chinese, as PDF or HTML, built when asked for (it takes a second or two)."""

from __future__ import annotations

import streamlit as st

from app_pages.auth import Viewer
from app_pages.data import home
from experiments.audit import AuditLog
from experiments.dossier import build_dossier
from livinglab.errors import LivingLabError

LANGUAGE_NAMES = {"en": "English", "zh-Hant": "繁體中文 (Traditional Chinese)"}
MIME = {"pdf": "application/pdf", "html": "text/html"}


def dossier_section(trial_id: str, current: Viewer) -> None:
    st.subheader("Evidence dossier")
    st.caption(
        "A committee brief (summary, charts, checklist, the rule's outcome) and a technical "
        "appendix (methods, hashes, code version, run ids), to file or circulate."
    )
    language_column, format_column, button_column = st.columns([2, 1, 2])
    lang = language_column.selectbox(
        "Language", list(LANGUAGE_NAMES), format_func=LANGUAGE_NAMES.get, key="dossier_lang"
    )
    fmt = format_column.selectbox("Format", list(MIME), format_func=str.upper, key="dossier_fmt")
    key = f"dossier_{trial_id}_{lang}_{fmt}"
    with button_column:
        if st.button("Prepare the dossier", key="dossier_prepare", icon=":material/description:"):
            try:
                with st.spinner("Writing the dossier…"):
                    st.session_state[key] = build_dossier(home(), trial_id, lang, fmt)
            except LivingLabError as error:
                st.error(f"The dossier could not be written: {error}")
                return
            AuditLog(home()).record(
                current.username, "report", trial_id, {"lang": lang, "format": fmt}
            )
        if key in st.session_state:
            st.download_button(
                f"Download the dossier ({fmt.upper()})",
                st.session_state[key],
                file_name=f"{trial_id}_dossier_{lang}.{fmt}",
                mime=MIME[fmt],
                key="dossier_download",
                on_click="ignore",
                icon=":material/download:",
            )
