"""ServicePulse: the picture frame. Page config, shared state and grouped navigation."""

from __future__ import annotations

import streamlit as st

from ui.state import ensure_database

st.set_page_config(page_title="ServicePulse", page_icon=":material/signal_cellular_alt:",
                   layout="wide")

navigation = st.navigation(
    {
        "Leadership": [
            st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:",
                    default=True),
        ],
        "Planning": [
            st.Page("pages/simulator.py", title="Staffing simulator", icon=":material/calculate:",
                    url_path="simulator"),
        ],
    }
)

st.session_state["engine_ready"] = ensure_database() is not None
navigation.run()
