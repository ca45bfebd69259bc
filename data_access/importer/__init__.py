"""`python -m data_access import`: load real contacts, surveys, cases, case events or ratings.

Nothing is lost and nothing is stored twice. Every data row of the file is inserted, skipped
because its id is already stored, or written with its row number and the reason to
`F.rejects.csv` beside the file. Rows are read as text in chunks and checked with Polars
expressions, so one bad value rejects one row and memory stays bounded; each chunk is one
committed batch, and a run that was killed midway is completed by running it again.

Where things are: `columns` (the importer's own column names), `checks` (typed values and
rules as expressions), `kinds` (the five kinds of file), `sources` (CSV and Parquet read in
chunks), `rejects` (the rejects file), `pipeline` (check, store, retry) and `cli`.
"""

from data_access.importer.checks import ID_LENGTH, TIMESTAMP_HELP, VALUE_MAX
from data_access.importer.cli import (
    EXIT_DATABASE,
    EXIT_FILE,
    EXIT_INTERRUPTED,
    register,
    run_import,
)
from data_access.importer.columns import ROW
from data_access.importer.errors import ImportDatabaseError, ImportFileError, ImportInterrupted
from data_access.importer.kinds import KINDS, Kind
from data_access.importer.pipeline import BATCH_ROWS, Importer, ImportSummary, import_file
from data_access.importer.rejects import REJECT_COLUMNS, rejects_path
from data_access.importer.sources import NOT_UTF8, CsvSource, ParquetSource

__all__ = [
    "BATCH_ROWS", "EXIT_DATABASE", "EXIT_FILE", "EXIT_INTERRUPTED", "ID_LENGTH", "KINDS",
    "NOT_UTF8", "REJECT_COLUMNS", "ROW", "TIMESTAMP_HELP", "VALUE_MAX", "CsvSource",
    "ImportDatabaseError", "ImportFileError", "ImportInterrupted", "ImportSummary", "Importer",
    "Kind", "ParquetSource", "import_file", "register", "rejects_path", "run_import",
]
