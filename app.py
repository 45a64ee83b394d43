"""Living Lab's web app: routes only; every page lives in app_pages/."""

import streamlit as st

st.set_page_config(page_title="Living Lab", page_icon="🏙️", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            "app_pages/portfolio.py", title="Portfolio", icon=":material/dashboard:", default=True
        ),
        st.Page("app_pages/trial.py", title="Trial", icon=":material/science:", url_path="trial"),
        st.Page(
            "app_pages/register.py",
            title="Register",
            icon=":material/edit_note:",
            url_path="register",
        ),
        st.Page(
            "app_pages/analyse.py",
            title="Analyse",
            icon=":material/query_stats:",
            url_path="analyse",
        ),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
    ]
)
navigation.run()
