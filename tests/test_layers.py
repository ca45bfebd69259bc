"""The layers hold: the simulator's core runs without a database driver; sim/ and data_access/
never import Streamlit or the UI; data_access/ never imports the simulator."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ("sim.config", "sim.model", "sim.results", "sim.runner", "sim.sweep", "sim.optimize",
        "sim.erlang", "sim.demand", "sim.nps", "sim.tomlio")


@pytest.mark.parametrize("module", CORE)
def test_the_simulator_core_imports_no_database_layer(module):
    """A Dask worker or a notebook with a TOML file has no database driver."""
    probe = (f"import sys, {module}; "
             "print(sorted(name for name in sys.modules "
             "if name.split('.')[0] in ('sqlalchemy', 'data_access', 'psycopg', 'streamlit')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]", f"{module} loads {loaded}"


def imported_roots(path: Path) -> set[str]:
    """Top-level packages a file imports, at module level or inside functions."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package, forbidden", [
    ("sim", {"streamlit", "ui", "pages"}),
    ("data_access", {"streamlit", "ui", "pages", "sim"}),
])
def test_lower_layers_never_import_upper_ones(package, forbidden):
    offenders = {str(path.relative_to(ROOT)): sorted(imported_roots(path) & forbidden)
                 for path in (ROOT / package).rglob("*.py")
                 if imported_roots(path) & forbidden}
    assert not offenders, offenders


def test_pages_hold_no_sql_simpy_or_polars():
    """Pages lay out widgets and call functions; queries, models and frames live elsewhere."""
    logic = {"sqlalchemy", "simpy", "polars", "sim"}
    offenders = {str(path.relative_to(ROOT)): sorted(imported_roots(path) & logic)
                 for path in (ROOT / "pages").glob("*.py") if imported_roots(path) & logic}
    assert not offenders, offenders
