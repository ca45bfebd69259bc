"""Make every page render inside app.py's frame, even on a fresh server's first deep link."""

from __future__ import annotations

import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

APP_PATH = Path(__file__).resolve().parent.parent / "app.py"
_SCRIPT_RUN = threading.local()  # each session's script runs in its own thread


@contextmanager
def frame_running() -> Iterator[None]:
    """app.py runs the chosen page inside this block."""
    _SCRIPT_RUN.inside_frame = True
    try:
        yield
    finally:
        _SCRIPT_RUN.inside_frame = False


def run_inside_frame() -> None:
    """A top-level pages/ folder makes Streamlit start in legacy multipage mode.

    Until some session has run st.navigation, a deep link runs the page script alone, without
    app.py. Running app.py here builds the frame (config, navigation, filters, database) and
    the page through it, then stops the bare run.

    The test is "is this run inside app.py?", asked of this script thread, and not Streamlit's
    global `PagesManager.uses_pages_directory`: when several first requests arrive together,
    another session may flip that flag between this session choosing the bare page and the page
    asking, and the page would then render without its frame.
    """
    if not getattr(_SCRIPT_RUN, "inside_frame", False):
        runpy.run_path(str(APP_PATH), run_name="__main__")
        st.stop()
