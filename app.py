"""ServicePulse: the picture frame. Page config, shared state and grouped navigation.

Every page renders through this script, also when a deep link is a fresh server's first request
(see ui/frame.py). The sidebar's global filters live here, so they survive page switches and are
written to the URL after every run: a copied link reproduces the page and the view.
"""

from __future__ import annotations

from pathlib import Path

# Imported whole before any page runs. Sessions run this script in parallel threads, and Altair
# and Streamlit look pandas and pyarrow up in sys.modules: on a fresh server a second session
# could see them half-imported by the first ("partially initialized module 'pandas'").
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import streamlit as st

from ui import auth, database, settings
from ui.filters import FULL_RUN_NEEDED, global_filters, share_links
from ui.frame import frame_running
from ui.view_state import DASHBOARD_PARAMS

KEPT_SIMULATOR_QUERY = "_kept_simulator_query"
OWN_URL_PAGES = ("simulator", "plan")  # pages whose inputs, not the filters, are the URL
LIVE_REFRESH, KEPT_LIVE_REFRESH = "live_refresh", "_kept_live_refresh"
FAVICON = Path(__file__).resolve().parent / "ui" / "assets" / "favicon.png"

# A local icon: a material icon as favicon is fetched from a font CDN, which a closed network
# refuses (and the browser logs an error on every page).
st.set_page_config(page_title="ServicePulse", page_icon=str(FAVICON), layout="wide")
PAGES = {
    "Leadership": [
        st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:",
                default=True),
    ],
    "Customer": [
        st.Page("pages/nps.py", title="NPS", icon=":material/sentiment_satisfied:",
                url_path="nps"),
        st.Page("pages/complaints.py", title="Complaints & appeals",
                icon=":material/report:", url_path="complaints"),
    ],
    "Operations": [
        st.Page("pages/channels.py", title="Channels", icon=":material/hub:",
                url_path="channels"),
        st.Page("pages/agents.py", title="Agent performance", icon=":material/star_rate:",
                url_path="agents"),
    ],
    "Planning": [
        st.Page("pages/simulator.py", title="Staffing simulator", icon=":material/calculate:",
                url_path="simulator"),
        st.Page("pages/plan.py", title="Plan", icon=":material/event_note:", url_path="plan"),
    ],
}
if not auth.gate(PAGES):
    st.stop()
navigation = st.navigation(PAGES)

# The simulator has its own inputs in the URL; the dashboards share the sidebar filters. Each
# drops the other's parameters: they are not wrong, they belong to another page. Each also gets
# its own back when the user returns to it (the dashboards' view from the session).
st.session_state.pop(FULL_RUN_NEEDED, None)  # this is one
previous_page, page = st.session_state.get("_page"), navigation.url_path
st.session_state["_page"] = page
link_slot = None
if page in OWN_URL_PAGES:
    kept = f"{KEPT_SIMULATOR_QUERY}_{page}" if page != "simulator" else KEPT_SIMULATOR_QUERY
    for name in DASHBOARD_PARAMS:
        if name in st.query_params:
            del st.query_params[name]
    if previous_page != page and previous_page in OWN_URL_PAGES:
        st.query_params.clear()  # the other page's inputs are not this page's
    if previous_page != page and not st.query_params:
        st.query_params.from_dict(st.session_state.get(kept, {}))
    st.session_state[kept] = st.query_params.to_dict()
else:
    if previous_page in OWN_URL_PAGES:
        st.query_params.clear()  # the dashboards' view is restored from the session
    view = global_filters(page)
    link_slot = st.sidebar.empty()  # filled after the page has put its own choices in the URL
    with st.sidebar:
        # A widget's state is dropped on a page that does not draw it (the simulator): keep
        # the choice in the session and give it back.
        st.session_state.setdefault(LIVE_REFRESH, st.session_state.get(KEPT_LIVE_REFRESH, True))
        st.session_state[KEPT_LIVE_REFRESH] = st.toggle(
            "Live refresh", key=LIVE_REFRESH,
            help=f"Re-run the figures every {settings.REFRESH_SECONDS:g} s "
                 "(SERVICEPULSE_REFRESH_S); pause to read a view that stays still.")
        for warning in (settings.REFRESH_WARNING, settings.VERSION_SHARE_WARNING):
            if warning:
                st.warning(warning)
st.session_state["engine_ready"] = database.ensure_database() is not None
try:
    with frame_running():
        navigation.run()
finally:
    if link_slot is not None:
        with link_slot.container():
            share_links(view)
