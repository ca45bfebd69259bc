"""The rules a newcomer can rely on: `python -m pytest tests/test_layering.py` shows them.

- The simulator's core runs without a database driver (a Dask worker, a notebook).
- sim/ and data_access/ never import Streamlit or the UI; data_access/ never imports sim/.
- Pages hold no SQL, SimPy or Polars logic.
- No module over MAX_LINES lines unless its docstring says why, on a line starting LONG_BECAUSE.
- No underscore name is imported across modules: a helper another module uses is public.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600
LONG_BECAUSE = "Long because:"
PACKAGES = ("sim", "data_access", "ui", "pages")


def app_modules() -> list[Path]:
    """Every module of the application (tests and benchmarks are not)."""
    return sorted([*(path for package in PACKAGES for path in (ROOT / package).rglob("*.py")),
                   ROOT / "app.py"])
CORE = ("sim.config", "sim.model", "sim.results", "sim.runner", "sim.sweep", "sim.optimize",
        "sim.erlang", "sim.demand", "sim.nps", "sim.tomlio", "sim.estimates", "sim.backtest",
        "sim.forecast", "sim.forecast_backtest", "sim.required", "sim.plan", "sim.roster",
        "sim.roster_config", "sim.roster_start", "sim.forecast_total")


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


def long_reason(path: Path) -> str | None:
    """The reason a module's docstring gives for its length, if any."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    reasons = [line.strip() for line in docstring.splitlines()
               if line.strip().startswith(LONG_BECAUSE)]
    return reasons[0].removeprefix(LONG_BECAUSE).strip() if reasons else None


def test_modules_stay_short_or_say_why():
    """A newcomer reads a module in one sitting; a longer one names its reason in one line."""
    too_long = {str(path.relative_to(ROOT)): lines for path in app_modules()
                if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
                and not long_reason(path)}
    assert not too_long, (f"over {MAX_LINES} lines without a '{LONG_BECAUSE} ...' line in the "
                          f"module docstring: {too_long}")


def test_the_length_rule_sees_a_reason_and_its_absence(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text('"""A module."""\n')
    explained = tmp_path / "explained.py"
    explained.write_text(f'"""A module.\n\n{LONG_BECAUSE} one table of SQL per rollup.\n"""\n')
    assert long_reason(plain) is None
    assert long_reason(explained) == "one table of SQL per rollup."


def private_imports(path: Path) -> list[str]:
    """`from module import _name` of another module (dunder names are not private)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_private_name_is_imported_across_modules():
    offenders = {str(path.relative_to(ROOT)): names for path in app_modules()
                 if (names := private_imports(path))}
    assert not offenders, offenders
