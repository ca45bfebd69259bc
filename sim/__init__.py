"""Staffing and automation simulator (SimPy). Pure Python: never imports streamlit."""
