"""Streamlit glue: cached engine and queries, chart builders, the colour palette.

Only this package and pages/ import streamlit; data_access/ and sim/ never do.
"""
