"""`python -m data_access ...`: demo data, KPIs and schema set-up from the shell.

Errors are one line on stderr and a non-zero exit code; never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from data_access.argtypes import date_arg, number_arg
from data_access.config import ConfigError
from data_access.demo import DEFAULT_SEED, DemoConfig, DemoError, generate_demo
from data_access.engine import (
    DatabaseUnavailable,
    connect_checked,
    first_line,
    require_schema,
)
from data_access.migrate import MigrationFailed, migrate
from data_access.queries import Filters, kpis
from data_access.rollups import ensure_schema, install, rebuild

COMMAND_MODULES = ("data_access.feed", "data_access.importer")


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_access",
                                     description="ServicePulse data tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="create the schema and load calibrated demo data")
    demo.add_argument("--start", type=date_arg("--start"),
                      help="first day (default: 19 months before --end)")
    demo.add_argument("--end", type=date_arg("--end"),
                      help="last day; the story is shifted to end here (default: today)")
    demo.add_argument("--scale", type=number_arg("--scale", low=0, high=50, low_open=True),
                      default=1.0,
                      help="1 = the operator's real volume, about 2.5M contacts (default 1)")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo.add_argument("--db", help="database URL (default: DATABASE_URL, secrets, or SQLite)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    kpi = commands.add_parser("kpis", help="headline figures for a date range")
    kpi.add_argument("--from", dest="start", type=date_arg("--from"), required=True)
    kpi.add_argument("--to", dest="end", type=date_arg("--to"), required=True)
    kpi.add_argument("--json", action="store_true", help="print one JSON object")
    kpi.add_argument("--db", help="database URL")

    init = commands.add_parser("init", help="create the schema and reference data only")
    init.add_argument("--db", help="database URL")

    migrate = commands.add_parser(
        "migrate", help="upgrade the database schema to this version (rollups rebuilt if due)")
    migrate.add_argument("--db", help="database URL")

    rollups = commands.add_parser(
        "rebuild-rollups", help="recompute the daily rollups from the raw rows (after a TRUNCATE)")
    rollups.add_argument("--db", help="database URL")
    # Commands with their own module add their sub-parser and handler (set_defaults(handler=)).
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


class TerminalProgress:
    """A one-line progress bar on stderr, so stdout stays clean for JSON."""

    def __init__(self, width: int = 40) -> None:
        self.width = width

    def __call__(self, fraction: float, message: str) -> None:
        filled = round(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {fraction:5.0%} {message[:60]:<60}")
        sys.stderr.flush()
        if fraction >= 1:
            sys.stderr.write("\n")


def _run_demo(args: argparse.Namespace) -> None:
    config = DemoConfig.ending(end=args.end, start=args.start, scale=args.scale, seed=args.seed)
    if config.problems():
        raise CliError("; ".join(config.problems()))
    engine = connect_checked(args.db)
    progress = None if args.quiet else TerminalProgress()
    summary = generate_demo(engine, config, progress)
    print(f"Loaded {summary.contacts:,} contacts, {summary.surveys:,} surveys "
          f"({summary.responses:,} answered), {summary.ratings:,} ratings, "
          f"{summary.cases:,} cases with {summary.case_events:,} stage events, "
          f"{summary.operators:,} operators in {summary.seconds:.1f} s "
          f"({config.start}..{config.end}, scale {config.scale}, seed {config.seed}).")


def _run_kpis(args: argparse.Namespace) -> None:
    if args.end < args.start:
        raise CliError(f"--to {args.end} is before --from {args.start}")
    engine = connect_checked(args.db)
    require_schema(engine)
    with engine.connect() as connection:
        figures = kpis(connection, Filters(args.start, args.end))
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:>24}: {value}")


def _run_init(args: argparse.Namespace) -> None:
    from data_access.reference import seed_reference

    engine = connect_checked(args.db)
    ensure_schema(engine)
    with engine.begin() as connection:
        seed_reference(connection)
    print("Schema, rollups and reference data are in place.")


def _run_migrate(args: argparse.Namespace) -> None:
    engine = connect_checked(args.db)
    print(migrate(engine).line())


def _run_rebuild_rollups(args: argparse.Namespace) -> None:
    """Install (if outdated) and recompute together, so readers never see half a rebuild."""
    engine = connect_checked(args.db)
    require_schema(engine)
    started = time.perf_counter()
    with engine.begin() as connection:
        install(connection)
        report = rebuild(connection)
    seconds = time.perf_counter() - started  # the install and the commit included
    for name, rows in report.rows.items():
        print(f"{name}: {rows:,} rows")
    print(f"Rebuilt {len(report.rows)} rollups in {seconds:.1f} s.")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"demo": _run_demo, "kpis": _run_kpis, "init": _run_init,
                "migrate": _run_migrate, "rebuild-rollups": _run_rebuild_rollups}
    try:
        handler = getattr(args, "handler", None) or handlers[args.command]
        code = handler(args)
        if isinstance(code, int):
            return code
    except (CliError, DemoError, DatabaseUnavailable, ConfigError, MigrationFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:  # e.g. the server went away mid-command
        print(f"error: database error: {first_line(error)}", file=sys.stderr)
        return 2
    return 0
