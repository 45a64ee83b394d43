"""Living Lab's web app: routes only; every page lives in app_pages/.

An anonymous visitor gets only the sign-in page; a signed-in user gets the pages their roles
allow (``app_pages.auth.PAGES``), and each page checks again on the server before it draws.
"""

import streamlit as st

from app_pages.auth import pages_for, show_identity, viewer

st.set_page_config(page_title="Living Lab", page_icon="🏙️", layout="wide")
current = viewer()
if current is not None:
    show_identity(current)
st.navigation(pages_for(current), position="sidebar" if current else "hidden").run()
