"""Text that leaves the app as CSV, made safe to open in a spreadsheet.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets: `=HYPERLINK(…)` from an imported comment would run when a
manager opens the file. OWASP's rule: prefix such a cell with a single quote, which the
spreadsheet shows as text and does not evaluate. Only text columns are touched; numbers stay
numbers (a negative number is not text).
"""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START_PATTERN = r"^[=+\-@\t\r]"


def spreadsheet_safe_text(value: str) -> str:
    """One cell: a leading quote when the text would start a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column with formula-like cells neutralised (a pure frame transform)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical)]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(_FORMULA_START_PATTERN))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String)).alias(name)
        for name in text)
