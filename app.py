"""Living Lab's web app: routes only; every page lives in app_pages/."""

import streamlit as st

st.set_page_config(page_title="Living Lab", page_icon="🏙️", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            "app_pages/portfolio.py", title="Portfolio", icon=":material/dashboard:", default=True
        ),
        st.Page("app_pages/trial.py", title="Trial", icon=":material/science:", url_path="trial"),
    ]
)
navigation.run()
