"""Administration: users and their roles, and the audit trail (view, verify, export)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages.auth import require_page
from app_pages.data import home
from experiments.accounts import Accounts
from experiments.audit import ACTIONS, AuditLog
from experiments.roles import ROLE_LABELS, ROLES
from livinglab.errors import LivingLabError

current = require_page("manage_users")
accounts, audit = Accounts(home()), AuditLog(home())
st.title("Administration")

st.header("Users")
users = accounts.users()
st.dataframe(
    pl.DataFrame(
        {
            "Username": [u.username for u in users],
            "Name": [u.display_name for u in users],
            "Roles": [", ".join(ROLE_LABELS[r] for r in u.roles) for u in users],
            "Added (UTC)": [u.created_at for u in users],
        }
    ),
    hide_index=True,
    key="users_table",
)
add_column, remove_column = st.columns(2)
with add_column, st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    username = st.text_input("Username", key="new_username", help="e.g. a work email address")
    name = st.text_input("Name", key="new_name")
    roles = st.multiselect("Roles", ROLES, format_func=ROLE_LABELS.get, key="new_roles")
    password = st.text_input(
        "Initial password (10 characters or more)", type="password", key="new_password"
    )
    if st.form_submit_button("Add user"):
        try:
            accounts.add(username, password, roles, display_name=name, actor=current.username)
        except LivingLabError as error:
            st.error(str(error))
        else:
            st.success(f"Added {username}.")
            st.rerun()
with remove_column, st.form("remove_user"):
    st.subheader("Remove a user")
    gone = st.selectbox("User", [u.username for u in users], index=None, key="remove_username")
    if st.form_submit_button("Remove user") and gone:
        try:
            accounts.remove(gone, actor=current.username)
        except LivingLabError as error:
            st.error(str(error))
        else:
            st.success(f"Removed {gone}.")
            st.rerun()

st.header("Audit trail")
problems = audit.verify()
if problems:
    st.error("The audit trail has been tampered with: " + "; ".join(problems))
else:
    st.success("The audit trail's hash chain is intact.", icon=":material/verified:")
action = st.selectbox("Action", ["", *ACTIONS], format_func=lambda a: a or "every action")
entries = audit.entries(action=action or None, limit=500)
st.dataframe(
    pl.DataFrame(
        {
            "When (UTC)": [e.at for e in entries],
            "Who": [e.actor for e in entries],
            "Action": [e.action for e in entries],
            "Target": [e.target for e in entries],
            "Details": [", ".join(f"{k}: {v}" for k, v in e.details.items()) for e in entries],
        },
        schema=dict.fromkeys(("When (UTC)", "Who", "Action", "Target", "Details"), pl.String),
    ),
    hide_index=True,
    key="audit_table",
)
csv_column, json_column = st.columns(2)
csv_column.download_button(
    "Export the audit trail (CSV)",
    audit.export("csv"),
    file_name="audit.csv",
    mime="text/csv",
    on_click="ignore",
    key="audit_csv",
)
json_column.download_button(
    "Export the audit trail (JSON)",
    audit.export("json"),
    file_name="audit.json",
    mime="application/json",
    on_click="ignore",
    key="audit_json",
)
