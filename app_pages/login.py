"""Sign in: all an anonymous visitor sees, at whichever page address they opened."""

from __future__ import annotations

import streamlit as st

from app_pages.auth import sign_in
from experiments.roles import auth_mode


def sign_in_page() -> None:
    """The sign-in form; after signing in, the page at the address opened shows."""
    st.title("Living Lab")
    st.caption("Evidence for Hong Kong's smart-city pilots: scale up, change or stop.")
    if auth_mode() == "oidc":
        st.write("Sign in with your organisation's account.")
        if st.button("Sign in", type="primary", key="oidc_login"):
            st.login()
        return
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if sign_in(username, password) is None:
            st.error(
                "Unknown username or wrong password. Accounts are managed by an administrator."
            )
        else:
            st.rerun()
    st.caption(
        "No account? An administrator adds one with `livinglab user add`. On the demo store, "
        "`make run` creates one user per role; the README lists them."
    )
