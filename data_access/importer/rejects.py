"""The rejects file (`F.rejects.csv`): one line per problem, with the row as it was read."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import polars as pl

from data_access.importer.columns import ROW
from data_access.importer.errors import ImportFileError

if TYPE_CHECKING:
    from data_access.importer.sources import Chunk

REJECT_COLUMNS = ("row", "field", "value", "problem")


def rejects_path(path: Path) -> Path:
    """Where the rejects of `path` go: `contacts.csv` -> `contacts.rejects.csv` beside it."""
    return path.with_name(path.stem + ".rejects.csv")


class RejectsFile:
    """row, field, value, problem and then the row as it was read; one line per problem."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.lines = 0
        self.columns = _rejects_names(columns)
        try:
            self._handle: TextIO = path.open("w", encoding="utf-8", newline="")
        except OSError as error:
            raise ImportFileError(f"cannot write the rejects file {path}: "
                                  f"{error.strerror or error}") from None
        csv.writer(self._handle, lineterminator="\n").writerow(
            [*REJECT_COLUMNS, *self.columns.values()])

    def write(self, problems: pl.DataFrame, rows: pl.DataFrame) -> None:
        if problems.is_empty():
            return
        lines = problems.join(rows.rename(self.columns), left_on="row", right_on=ROW,
                              how="left", maintain_order="left")
        # Blank cells as blank, not as "": the file reads like the input.
        blank = [pl.when(pl.col(name) != "").then(pl.col(name)).alias(name)
                 for name in ("value", *self.columns.values())]
        try:
            lines.select(*REJECT_COLUMNS, *self.columns.values()).with_columns(blank).write_csv(
                self._handle, include_header=False)
            self._handle.flush()
        except OSError as error:
            raise RejectsUnwritable(self.path, error) from None
        self.lines += problems.height

    def close(self) -> Path | None:
        """The file, or None (and no file) when nothing was rejected."""
        try:
            self._handle.close()  # closed even when its last flush fails
        except OSError as error:
            if self.lines:  # only an empty file, removed below, may fail to close
                raise RejectsUnwritable(self.path, error) from None
        if self.lines:
            return self.path
        self.path.unlink(missing_ok=True)
        return None


class RejectsUnwritable(Exception):
    """Writing the rejects file failed midway (a full disk): the batches stored stay."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"cannot write the rejects file {path}: {error.strerror or error}")


def _rejects_names(columns: list[str]) -> dict[str, str]:
    """Input column -> its name in the rejects file. A column named like a rejects column
    keeps its values under that name plus " (input)", numbered on until no column has it."""
    taken = {*REJECT_COLUMNS, *columns}
    names = {}
    for name in columns:
        renamed, number = name, 1
        if name in REJECT_COLUMNS:
            renamed = f"{name} (input)"
            while renamed in taken:
                number += 1
                renamed = f"{name} (input {number})"
            taken.add(renamed)
        names[name] = renamed
    return names


def problem_rows(frame: pl.DataFrame, field_name: str | pl.Expr, value: pl.Expr,
              problem: pl.Expr) -> pl.DataFrame:
    name = pl.lit(field_name) if isinstance(field_name, str) else field_name
    return frame.select(
        pl.col(ROW).alias("row"), name.alias("field"), value.fill_null("").alias("value"),
        problem.alias("problem")).filter(pl.col("problem").is_not_null())


def no_problems() -> pl.DataFrame:
    return pl.DataFrame(schema={"row": pl.Int64, "field": pl.String, "value": pl.String,
                                "problem": pl.String})


def malformed_lines(chunk: Chunk, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose field count differs from the header, and lines that are not CSV:
    (the row as read, its problem)."""
    width = len(columns)
    bad = [*((number, fields, _csv_line(fields),
              f"has {len(fields)} fields, the header has {width}")
             for number, fields in chunk.malformed),
           *((number, _fields_as_far_as_they_go(text), text, problem)
             for number, text, problem in chunk.unreadable)]
    rows = pl.DataFrame(
        [[number, *(fields + [""] * width)[:width]] for number, fields, _, _ in bad],
        schema={ROW: pl.Int64, **dict.fromkeys(columns, pl.String)}, orient="row")
    problems = pl.DataFrame(
        [(number, "(row)", value, problem) for number, _, value, problem in bad],
        schema={"row": pl.Int64, "field": pl.String, "value": pl.String, "problem": pl.String},
        orient="row")
    return rows, problems


def _fields_as_far_as_they_go(text: str) -> list[str]:
    """A broken line's values for the rejects file, read leniently."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:  # a value over the field limit
        return text.split(",")


def _csv_line(fields: list[str]) -> str:
    return ",".join(f'"{value.replace(chr(34), chr(34) * 2)}"' if any(
        mark in value for mark in ',"\n\r') else value for value in fields)
