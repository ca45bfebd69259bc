"""`python -m data_access import`: the command line, its exit codes and its summary line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from data_access.importer.errors import ImportDatabaseError, ImportFileError, ImportInterrupted
from data_access.importer.kinds import KINDS
from data_access.importer.pipeline import BATCH_ROWS, ImportSummary, import_file

EXIT_FILE = 2  # the file cannot be read at all (or the command line is wrong)
EXIT_DATABASE = 3  # the database is unreachable or refused the work
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process stopped by SIGINT


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch-rows: {value!r} is not a whole number"
                                         ) from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"--batch-rows: {value} must be at least 1")
    return number


def register(commands: argparse._SubParsersAction) -> None:
    """Add `import` to the `python -m data_access` commands."""
    parser = commands.add_parser(
        "import", help="load contacts, surveys, cases, case events or ratings from a file",
        description="Import a CSV (UTF-8) or Parquet file. Every row is inserted, skipped as "
                    "already stored, or written to FILE.rejects.csv with the reason.")
    parser.add_argument("--kind", required=True, metavar="KIND",
                        help=f"what the file holds: {', '.join(KINDS)}")
    parser.add_argument("--file", required=True, type=Path, metavar="FILE",
                        help="a .csv (UTF-8) or .parquet file")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL, secrets, or SQLite)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--batch-rows", type=_positive_int, default=BATCH_ROWS,
                        help=f"rows per committed batch (default {BATCH_ROWS:,})")
    parser.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    """Exit code: 0 when every row is accounted for (rejects included), 2 for a file that
    cannot be read, 3 when the database stays unavailable, 130 on Ctrl-C."""
    _python_handles_ctrl_c()
    try:
        summary = import_file(args.kind, args.file, args.db, args.batch_rows)
    except ImportFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FILE
    except ImportDatabaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DATABASE
    except ImportInterrupted as stop:
        _say_interrupted(stop.summary, args.json)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # before the first row was read: nothing is stored
        _say_interrupted(ImportSummary(args.kind, str(args.file)), args.json)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print(_describe(summary))
    return 0


def _python_handles_ctrl_c() -> None:
    """Put Python's own SIGINT handler back in place of the one Polars installs.

    Polars turns Ctrl-C into a KeyboardInterrupt inside whichever thread is in a Polars call,
    the writer thread included, which could then lose the count of a batch it had just
    committed. Python's handler raises it in the main thread only, between two statements.
    """
    handler = signal.getsignal(signal.SIGINT)
    if handler is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


def _say_interrupted(summary: ImportSummary, as_json: bool) -> None:
    """One line (or one JSON object) for Ctrl-C: what is stored, and how to finish."""
    if as_json:
        print(json.dumps({**asdict(summary), "interrupted": True}), flush=True)
        return
    print(f"{summary.file}: interrupted after {summary.read:,} rows read, {summary.inserted:,} "
          "inserted; run the same command again to finish (already stored rows are skipped)",
          flush=True)


def _describe(summary: ImportSummary) -> str:
    repeated = (f" ({summary.duplicates_in_file:,} repeated in the file)"
                if summary.duplicates_in_file else "")
    rejects = f"; see {summary.rejects_file}" if summary.rejects_file else ""
    return (f"{summary.file}: {summary.read:,} rows read, {summary.inserted:,} inserted, "
            f"{summary.duplicates_skipped:,} already stored (skipped), "
            f"{summary.rejected:,} rejected{repeated}{rejects} ({summary.seconds:.1f} s).")
