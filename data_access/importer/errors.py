"""The importer's three ways to stop, each with one line for the user."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data_access.importer.pipeline import ImportSummary

class ImportFileError(Exception):
    """The file cannot be read at all: one line naming the file and the problem (exit 2)."""


class ImportDatabaseError(Exception):
    """The database stayed unreachable or refused the work: one line (exit 3)."""


class ImportInterrupted(Exception):
    """Ctrl-C: the committed batches stay, counted in `summary`; re-running finishes (exit 130)."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary
