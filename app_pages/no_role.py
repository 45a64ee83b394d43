"""A signed-in user with no role yet: nothing to show but how to get one."""

import streamlit as st

st.title("No role yet")
st.info(
    "Your account has no role. Ask an administrator to give you one (`livinglab user`). "
    "When you sign in through your organisation, your lower-cased email must be a username "
    "in Living Lab's accounts store."
)
