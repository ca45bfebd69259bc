"""Names of the importer's own columns in its Polars frames, beside the file's columns.

Each starts with INTERNAL (`__`), which the sources refuse at the start of a file's column
name, so an input column never clashes with one of them; and, unlike the leading space that
marked them before, they show when a frame is printed.
"""

from __future__ import annotations

from sqlalchemy import Table

INTERNAL = "__"
ROW = "__row"  # the row's number in the file, 1 for the first data row
NOW = "__now"  # local_now() + FUTURE_SLACK, set on every chunk as it is checked
VALUE_PREFIX = "__value_"  # + target: the typed value parsed from an input column
TEXT_PREFIX = "__text_"  # + input column: its value with blanks stripped, null when empty
REFERENCED_PREFIX = "__ref_"  # + table.column: a column of the row a reference names
RULE_PREFIX = "__rule_"  # + number: the problem one rule finds, null where none
LINE = "__line"  # a line of a plain CSV block, before it is split
FITS = "__fits"  # whether that line has the header's number of fields
HOLDER = "__holder"  # the external_id of the stored row holding a second unique key
FIRST = "__first"  # the earlier row of the file that took the same key
STAGE_TEXT = "__stage_text"  # a case event's stage as read, for its rejects line
AT_TEXT = "__at_text"  # a case event's time as read, for its rejects line


def value_column(target: str) -> str:
    """Name of the typed value parsed from an input column."""
    return VALUE_PREFIX + target


def text_column(name: str) -> str:
    """Name of an input column's value with blanks stripped, null when empty."""
    return TEXT_PREFIX + name


def referenced_column(table: Table, name: str) -> str:
    """Name of a column of the referenced row, e.g. the contact's served_by."""
    return f"{REFERENCED_PREFIX}{table.name}.{name}"
