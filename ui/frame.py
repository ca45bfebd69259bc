"""Make every page render inside app.py's frame, even on a fresh server's first deep link."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

APP_PATH = Path(__file__).resolve().parent.parent / "app.py"


def run_inside_frame() -> None:
    """A top-level pages/ folder makes Streamlit start in legacy multipage mode.

    Until some session has run st.navigation, a deep link runs the page script alone; running
    app.py here builds the frame (config, navigation, shared state) and the page through it.
    """
    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP_PATH), run_name="__main__")
        st.stop()
