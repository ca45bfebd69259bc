"""One import: chunks are checked (values, references, repeats in the file and in the
database) while a writer thread stores the previous chunk as one committed batch."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl
from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from data_access import rollups
from data_access.config import mask_url, resolve_database_url, scrub
from data_access.engine import (
    DatabaseUnavailable,
    check_connection,
    create_db_engine,
    first_line,
    require_schema,
)
from data_access.importer.checks import Rule, shown_time
from data_access.importer.columns import (
    AT_TEXT,
    FIRST,
    HOLDER,
    ROW,
    RULE_PREFIX,
    STAGE_TEXT,
    referenced_column,
    value_column,
)
from data_access.importer.errors import ImportDatabaseError, ImportFileError, ImportInterrupted
from data_access.importer.kinds import KINDS, STAGE_RANK, AlsoUnique, Kind
from data_access.importer.rejects import (
    RejectsFile,
    RejectsUnwritable,
    malformed_lines,
    no_problems,
    problem_rows,
    rejects_path,
)
from data_access.importer.sources import Chunk, CsvSource, ParquetSource, open_source
from data_access.reference import seed_reference
from data_access.rollups import insert_new_rows_counted
from data_access.schema import CLOSED_STAGES, CaseEvent

BATCH_ROWS = 50_000
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits before the retries of a failed batch
SQLITE_CACHE_KB = 64 * 1024  # inserting into the indexes of millions of rows needs more than 2 MB
T = TypeVar("T")


class _ClaimedKeys:
    """Keys already taken by an earlier row of the file, with that row's number.

    Kept as Polars frames of (hash, key, row), about 30 bytes a row: 5M rows stay near 150 MB,
    and a chunk is matched by a hash join, then the keys themselves are compared (exact).
    """

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []

    def first_rows(self, rows: pl.Series, keys: pl.Series) -> pl.Series:
        """Per row, the row that took its key first (null for the first); claims the new keys."""
        frame = pl.DataFrame({"row": rows, "key": keys}).with_columns(hash=pl.col("key").hash())
        frame = frame.with_columns(first=pl.col("row").min().over("key"))
        if self._parts:
            earlier = (frame.select("row", "key", "hash")
                       .join(pl.concat(self._parts, rechunk=False), on="hash", suffix="_seen")
                       .filter(pl.col("key") == pl.col("key_seen"))
                       .select("row", earlier="row_seen"))
            frame = frame.join(earlier, on="row", how="left", maintain_order="left").with_columns(
                first=pl.coalesce("earlier", "first"))
        first = pl.when(pl.col("first") != pl.col("row")).then(pl.col("first"))
        frame = frame.with_columns(first=first)
        self._parts.append(frame.filter(pl.col("first").is_null())
                           .select("hash", "key", pl.col("row").cast(pl.UInt32)))
        return frame["first"]


@dataclass
class ImportSummary:
    """What happened to every row: read == inserted + duplicates_skipped + rejected."""

    kind: str
    file: str
    read: int = 0
    inserted: int = 0
    duplicates_skipped: int = 0  # already in the database (an earlier import or run)
    rejected: int = 0  # written to the rejects file, duplicates_in_file included
    duplicates_in_file: int = 0  # repeats of an earlier row of the same file
    rejects_file: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0


Warn = Callable[[str], None]


def _key_expr(columns: tuple[str, ...]) -> pl.Expr:
    """One text per row from the key columns; NUL separates parts (checked values hold none)."""
    return pl.concat_str([pl.col(value_column(name)).cast(pl.String) for name in columns],
                         separator="\x00")


def _polars_type(table: Table, name: str) -> pl.DataType:
    python_type = table.c[name].type.python_type
    if python_type is dt.datetime:
        return pl.Datetime("us")
    return pl.Int64 if python_type is int else pl.String


class Importer:
    def __init__(self, kind: Kind, engine: Engine, url: str, warn: Warn,
                 summary: ImportSummary) -> None:
        self.kind = kind
        self.engine = engine
        self.url = url
        self.warn = warn
        self.summary = summary
        self.stopping = threading.Event()  # Ctrl-C: no more retries, the run is ending
        self.claimed = [_ClaimedKeys() for _ in (kind.key, *kind.also_unique)]
        # Case events accepted from earlier chunks (their batches may not be stored yet).
        self.events = pl.DataFrame(schema={"row": pl.Int64, "case": pl.Int64,
                                           "stage": pl.String, "at": pl.Datetime("us")})
        # PostgreSQL cannot store NUL in text; CSV files with NULs near the start are refused.
        nul = [Rule(name, pl.when(pl.col(name).str.contains("\x00", literal=True))
                     .then(pl.lit("contains a NUL character"))) for name in kind.columns]
        missing = [Rule(reference.column, pl.when(
            pl.col(reference.key).is_not_null() & pl.col(value_column(reference.target)).is_null()
        ).then(pl.lit(reference.what))) for reference in kind.references]
        self.rules = [*nul, *kind.checks.rules, *missing]

    # Database work, each piece retried on connection errors.
    def retry(self, action: Callable[[], T], what: str) -> T:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                return action()
            except (OperationalError, InterfaceError, DatabaseUnavailable) as error:
                message = scrub(first_line(error), self.url)
                if delay is None or self.stopping.is_set():
                    raise ImportDatabaseError(
                        f"database unavailable while {what} after {len(RETRY_DELAYS_S)} "
                        f"retries ({message}); the {self.summary.read:,} rows before were "
                        f"done ({self.summary.inserted:,} inserted); run the same command "
                        "again to finish") from None
                self.warn(f"database error while {what}: {message}; retry {attempt}/"
                          f"{len(RETRY_DELAYS_S)} in {delay:g} s")
                self.stopping.wait(delay)  # cut short by Ctrl-C
        raise AssertionError("unreachable")

    def _lookup(self, connection: Connection, table: Table, column: str, keys: list,
                returned: str) -> list[tuple]:
        """(key, returned) of the rows whose `column` is one of `keys`, in one statement."""
        if not keys:
            return []
        query = f"SELECT {column}, {returned} FROM {table.name} WHERE {column} "
        if connection.dialect.name == "postgresql":
            statement, parameter = query + "= ANY(:keys)", keys
        else:  # one JSON parameter: SQLite caps the number of bound variables
            statement, parameter = query + "IN (SELECT value FROM json_each(:keys))", \
                json.dumps(keys)
        # Typed: SQLite hands back its timestamps as text otherwise.
        names = [name.strip() for name in (column, *returned.split(","))]
        typed = text(statement)
        if len(set(names)) == len(names):
            typed = typed.columns(*(table.c[name] for name in names))
        return [tuple(row) for row in connection.execute(typed, {"keys": parameter})]

    def _resolve(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Join the ids of the referenced rows (null where there is none)."""
        with self.engine.connect() as connection:
            for reference in self.kind.references:
                keys = frame[reference.key].drop_nulls().unique().to_list()
                found = self._lookup(connection, reference.table, "external_id", keys,
                                     ", ".join(("id", *reference.extra)))
                extra = {referenced_column(reference.table, name):
                         _polars_type(reference.table, name) for name in reference.extra}
                ids = pl.DataFrame(found, orient="row", schema={
                    reference.key: pl.String, value_column(reference.target): pl.Int64, **extra})
                frame = frame.join(ids, on=reference.key, how="left", maintain_order="left")
        return frame

    def _stored_clashes(self, frame: pl.DataFrame, unique: AlsoUnique) -> pl.DataFrame:
        """New rows whose second unique key is stored under another external_id.

        A row whose own external_id is stored is a duplicate (skipped), not a clash.
        """
        table, own = self.kind.table, value_column("external_id")
        with self.engine.connect() as connection:
            holders = self._lookup(connection, table, unique.target,
                                   frame[value_column(unique.target)].unique().to_list(),
                                   "external_id")
            known = self._lookup(connection, table, "external_id", frame[own].to_list(),
                                 "external_id")
        stored = pl.DataFrame(holders, orient="row",
                              schema={value_column(unique.target): pl.Int64, HOLDER: pl.String})
        clash = (frame.join(stored, on=value_column(unique.target), how="left",
                            maintain_order="left")
                 .filter(pl.col(HOLDER).is_not_null() & (pl.col(HOLDER) != pl.col(own))
                         & ~pl.col(own).is_in([key for key, _ in known])))
        return problem_rows(clash, unique.column, pl.col(unique.column),
                         pl.format(unique.stored, pl.col(HOLDER)))

    def _out_of_order(self, good: pl.DataFrame, what: str) -> pl.DataFrame:
        """Events out of stage order with their case's stored events and the file's earlier
        ones: a later stage earlier in time (or the reverse), or answered and withdrawn both.
        The earlier event stands; accepted events are remembered for the next chunks."""
        mine = good.select(pl.col(ROW).alias("row"), pl.col(value_column("case_id")).alias("case"),
                           pl.col(value_column("stage")).alias("stage"),
                           pl.col(value_column("at")).alias("at"))

        def stored() -> list[tuple]:
            with self.engine.connect() as connection:
                return self._lookup(connection, CaseEvent.__table__, "case_id",
                                    mine["case"].unique().to_list(), "stage, at")

        schema = {"case": pl.Int64, "stage": pl.String, "at": pl.Datetime("us")}
        known = pl.DataFrame(self.retry(stored, what), schema=schema, orient="row").join(
            self.events, on=["case", "stage"], how="anti")  # this file's: named by row
        others = pl.concat([known.with_columns(row=pl.lit(0, dtype=pl.Int64)).select(mine.columns),
                            self.events, mine])
        rank, other_rank = (pl.col(name).replace_strict(STAGE_RANK, return_dtype=pl.Int64)
                            for name in ("stage", "stage_other"))
        closing = pl.col("stage").is_in(CLOSED_STAGES) & pl.col(
            "stage_other").is_in(CLOSED_STAGES)
        which = pl.when(pl.col("row_other") > 0).then(
            pl.format("row {}", pl.col("row_other"))).otherwise(pl.lit("stored"))
        pairs = (mine.join(others, on="case", suffix="_other")
                 .filter((pl.col("row_other") < pl.col("row"))
                         & (pl.col("stage_other") != pl.col("stage")))
                 .with_columns(
                     field=pl.when(closing).then(pl.lit("stage")).otherwise(pl.lit("at")),
                     problem=pl.when(closing).then(pl.format(
                         "the case has a {} event already ({}): answered and withdrawn "
                         "exclude each other", pl.col("stage_other"), which))
                     .when((other_rank < rank) & (pl.col("at_other") > pl.col("at"))).then(
                         pl.format("before the case's {} event at {} ({})",
                                   pl.col("stage_other"), shown_time(pl.col("at_other")), which))
                     .when((other_rank > rank) & (pl.col("at_other") < pl.col("at"))).then(
                         pl.format("after the case's {} event at {} ({})",
                                   pl.col("stage_other"), shown_time(pl.col("at_other")), which)))
                 .filter(pl.col("problem").is_not_null())
                 .sort("row", "row_other").unique("row", keep="first", maintain_order=True))
        texts = good.select(pl.col(ROW).alias("row"), pl.col("stage").alias(STAGE_TEXT),
                            pl.col("at").alias(AT_TEXT))
        disorder = pairs.join(texts, on="row", how="left").select(
            "row", "field", pl.when(pl.col("field") == "stage").then(pl.col(STAGE_TEXT))
            .otherwise(pl.col(AT_TEXT)).fill_null("").alias("value"), "problem")
        accepted = mine.join(disorder.select("row"), on="row", how="anti")
        self.events = pl.concat([self.events, accepted])
        return disorder

    def _late_clashes(self, checked: _Checked, refused: pl.DataFrame) -> pl.DataFrame:
        """Rows the insert skipped although their external_id is not stored: another import
        stored their second unique key (the contact's rating) after this batch was checked.
        They are rejected with the stored row named, as when the imports run one after
        the other; a row whose external_id is stored is a duplicate (skipped)."""
        own = value_column("external_id")
        frame = checked.good.join(refused.select(pl.col("row").alias(ROW)), on=ROW,
                                  how="anti", maintain_order="left")

        def find() -> pl.DataFrame:
            with self.engine.connect() as connection:
                known = self._lookup(connection, self.kind.table, "external_id",
                                     frame[own].to_list(), "external_id")
            missing = frame.filter(~pl.col(own).is_in([key for key, _ in known]))
            clashes = [self._stored_clashes(missing, unique) for unique in self.kind.also_unique]
            found = pl.concat([no_problems(), *clashes])
            # A clashing row deleted again meanwhile: still not stored, still rejected.
            unexplained = missing.join(found.select(pl.col("row").alias(ROW)), on=ROW,
                                       how="anti", maintain_order="left")
            return pl.concat([found, problem_rows(
                unexplained, "(row)", pl.lit(""),
                pl.lit("not stored: it clashed with a row another import stored at the same "
                       "time"))])

        last = frame[ROW].max() if frame.height else checked.first_row
        return self.retry(find, f"checking rows {checked.first_row:,}..{last:,} after storing")

    def _insert(self, frame: pl.DataFrame, first_row: int) -> tuple[int, pl.DataFrame]:
        """Store the rows; rows the database refuses (split off by halving) come back."""
        values = frame.select(pl.col(value_column(source)).alias(column)
                              for column, source in self.kind.stored.items())

        def store() -> int:
            with self.engine.begin() as connection:
                if connection.dialect.name == "sqlite":  # index pages of big tables stay cached
                    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                return insert_new_rows_counted(connection, self.kind.table, values)

        last = frame[ROW].max() if frame.height else first_row
        try:
            return self.retry(store, f"storing rows {first_row:,}..{last:,}"), no_problems()
        except (IntegrityError, DataError) as error:
            if frame.height == 1:
                problem = f"refused by the database: {scrub(first_line(error), self.url)}"
                return 0, problem_rows(frame, "(row)", pl.lit(""), pl.lit(problem))
            half = frame.height // 2
            done, refused = self._insert(frame.slice(0, half), first_row)
            more, refused_more = self._insert(frame.slice(half), first_row)
            return done + more, pl.concat([refused, refused_more])

    def check(self, chunk: Chunk, reject_columns: list[str]) -> _Checked:
        """Everything but the insert: values, references, in-file repeats, stored clashes."""
        frame, kind = chunk.frame, self.kind
        first_row = min([*frame[ROW].to_list()[:1], *chunk.bad_rows])
        last_row = max([*frame[ROW].to_list()[-1:], *chunk.bad_rows])
        what = f"looking up rows {first_row:,}..{last_row:,}"
        parsed = kind.checks.parse(frame)
        if kind.references:
            parsed = self.retry(lambda: self._resolve(parsed), what)
        # All rules in one pass; the per-rule problem lines only for the (few) flagged rows.
        names = [f"{RULE_PREFIX}{number}" for number in range(len(self.rules))]
        flagged = parsed.with_columns(
            rule.problem.alias(name) for rule, name in zip(self.rules, names, strict=True)
        ).filter(pl.any_horizontal(pl.col(name).is_not_null() for name in names))
        problems = [problem_rows(flagged, rule.field, pl.col(rule.field), pl.col(name))
                    for rule, name in zip(self.rules, names, strict=True)]
        # Bytes that are not text reject their row for that alone, not for what the rules
        # make of their escaped form; a column the kind does not use does not count.
        undecoded = chunk.undecoded.filter(pl.col("field").is_in(kind.columns))
        problems = [pl.concat(problems).join(undecoded, on=["row", "field"], how="anti",
                                              maintain_order="left"), undecoded]
        good = parsed.join(pl.concat(problems).select(pl.col("row").alias(ROW)).unique(),
                           on=ROW, how="anti", maintain_order="left")

        # In-file repeats: the first valid row with a key keeps it; later ones are rejected.
        keys = [kind.key, *((unique.target,) for unique in kind.also_unique)]
        labels = [kind.key, *((unique.column,) for unique in kind.also_unique)]
        messages = ["repeats row {} (same " + ", ".join(kind.key) + "); only the first is "
                    "imported", *(unique.in_file for unique in kind.also_unique)]
        repeats = 0
        for claimed, key, label, message in zip(self.claimed, keys, labels, messages,
                                                strict=True):
            first = claimed.first_rows(good[ROW], good.select(_key_expr(key)).to_series())
            repeat = good.with_columns(first.alias(FIRST))
            value = pl.concat_str([pl.col(name) for name in label], separator=",")
            problems.append(problem_rows(repeat, ",".join(label), value, pl.when(
                pl.col(FIRST).is_not_null()).then(pl.format(message, pl.col(FIRST)))))
            repeats = repeats or problems[-1].height  # the identifying key's repeats
            good = repeat.filter(pl.col(FIRST).is_null()).drop(FIRST)
        for unique in kind.also_unique:
            if good.height:
                clash = self.retry(lambda good=good, unique=unique:
                                   self._stored_clashes(good, unique), what)
                good = good.join(clash.select(pl.col("row").alias(ROW)), on=ROW, how="anti",
                                 maintain_order="left")
                problems.append(clash)
        if kind.name == "case_events" and good.height:
            disorder = self._out_of_order(good, what)
            good = good.join(disorder.select(pl.col("row").alias(ROW)), on=ROW, how="anti",
                             maintain_order="left")
            problems.append(disorder)
        rows_as_read, malformed = malformed_lines(chunk, reject_columns)
        return _Checked(
            good.sort(ROW), first_row, pl.concat([*problems, malformed]),
            pl.concat([frame.select(ROW, *reject_columns), rows_as_read]),
            read=frame.height + len(chunk.bad_rows), repeats=repeats)

    def store(self, checked: _Checked, rejects: RejectsFile) -> None:
        """Insert the good rows, write the rejects and count: one committed batch."""
        inserted, refused = self._insert(checked.good, checked.first_row)
        if self.kind.also_unique and inserted < checked.good.height - refused.height:
            refused = pl.concat([refused, self._late_clashes(checked, refused)])
        problems = pl.concat([checked.problems, refused]).sort("row", maintain_order=True)
        summary = self.summary  # counted first: the batch is committed even if the write fails
        summary.read += checked.read
        summary.inserted += inserted
        summary.rejected += problems["row"].n_unique()
        summary.duplicates_in_file += checked.repeats
        summary.duplicates_skipped += checked.good.height - inserted - refused.height
        rejects.write(problems, checked.rows)


@dataclass
class _Checked:
    """A checked chunk, ready for its batch."""

    good: pl.DataFrame  # rows to insert, in file order
    first_row: int
    problems: pl.DataFrame  # row, field, value, problem
    rows: pl.DataFrame  # the rows as read, for the rejects file
    read: int
    repeats: int


def import_file(kind_name: str, path: Path, url: str | None = None,
                batch_rows: int = BATCH_ROWS, warn: Warn | None = None) -> ImportSummary:
    """Import one file; raises ImportFileError or ImportDatabaseError with one line."""
    started = time.perf_counter()
    warn = warn or (lambda message: print(message, file=sys.stderr))
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ImportFileError(f"unknown --kind {kind_name!r}; use one of: {', '.join(KINDS)}")
    source = open_source(path)
    try:
        missing = [name for name in kind.required_columns if name not in source.columns]
        if missing:
            raise ImportFileError(
                f"{path}: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} for --kind {kind.name} (the header has: "
                f"{', '.join(source.columns)})")
        summary = ImportSummary(kind.name, str(path))
        try:
            _import(kind, source, path, url, batch_rows, warn, summary)
        except KeyboardInterrupt:  # what the summary counts is committed, and only that
            summary.seconds = round(time.perf_counter() - started, 3)
            raise ImportInterrupted(summary) from None
    finally:
        source.close()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _import(kind: Kind, source: CsvSource | ParquetSource, path: Path, url: str | None,
            batch_rows: int, warn: Warn, summary: ImportSummary) -> None:
    summary.ignored_columns = [name for name in source.columns if name not in kind.columns]
    if summary.ignored_columns:
        warn(f"warning: ignoring column(s) {', '.join(summary.ignored_columns)}: not part "
             f"of --kind {kind.name} (they are kept in the rejects file)")
    rejects = RejectsFile(rejects_path(path), source.columns)
    try:
        try:
            _run(kind, source, url or resolve_database_url(), batch_rows, warn, summary,
                 rejects)
        finally:
            written = rejects.close()
            summary.rejects_file = str(written) if written else None
    except RejectsUnwritable as error:  # the committed batches stay; a re-run skips them
        raise ImportFileError(
            f"{error}; {summary.read:,} rows read so far, {summary.inserted:,} inserted "
            "(they stay stored); fix that and run the same command again: stored rows are "
            "skipped and the rejects file is written anew") from None


def _run(kind: Kind, source: CsvSource | ParquetSource, url: str, batch_rows: int,
         warn: Warn, summary: ImportSummary, rejects: RejectsFile) -> None:
    try:
        engine = create_db_engine(url)
    except DatabaseUnavailable as error:
        raise ImportDatabaseError(str(error)) from None
    importer = Importer(kind, engine, url, warn, summary)
    try:
        importer.retry(lambda: check_connection(engine), f"connecting to {mask_url(url)}")
        try:
            require_schema(engine)
        except DatabaseUnavailable as error:  # no tables: retrying will not help
            raise ImportDatabaseError(str(error)) from None
        importer.retry(lambda: _seed(engine), "checking the reference data")
        # Optional columns left out of the file read as empty.
        absent = [pl.lit(None, dtype=pl.String).alias(name) for name in kind.columns
                  if name not in source.columns]
        progress = sys.stderr.isatty()
        # Chunk n+1 is read and checked while a writer thread stores batch n: the database
        # works on the second core (as in the demo load). One batch in flight at most.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
            pending: Future | None = None
            try:
                for chunk in source.chunks(batch_rows):
                    if absent:
                        chunk.frame = chunk.frame.with_columns(absent)
                    checked = importer.check(chunk, list(rejects.columns))
                    if pending is not None:
                        pending.result()
                        _progress(progress, summary)
                    pending = writer.submit(importer.store, checked, rejects)
            except ImportFileError as error:  # a broken file found midway: say what is done
                if pending is not None:
                    pending.result()
                raise ImportFileError(f"{error}; the {summary.read:,} rows before it were "
                                      f"processed ({summary.inserted:,} inserted)") from None
            except ImportDatabaseError:  # the batch being stored failed first, if it did
                if pending is not None:
                    pending.result()
                raise
            except KeyboardInterrupt:
                importer.stopping.set()
                _settle(pending)
                raise
            if pending is not None:
                pending.result()
                _progress(progress, summary)
        if progress:
            sys.stderr.write("\n")
    except SQLAlchemyError as error:
        raise ImportDatabaseError(f"database error: {scrub(first_line(error), url)}; "
                                  f"{summary.inserted:,} new rows were stored") from None
    finally:
        engine.dispose()


def _settle(pending: Future | None) -> None:
    """After Ctrl-C, let the batch being stored commit or roll back as one transaction, so
    the summary counts exactly what is stored; its errors no longer matter (a re-run redoes
    that batch), nor do further Ctrl-Cs while it ends."""
    while pending is not None:
        try:
            pending.exception()  # waits; the batch's own error is returned, not raised
            return
        except KeyboardInterrupt:
            continue


def _progress(show: bool, summary: ImportSummary) -> None:
    if show:
        sys.stderr.write(f"\r{summary.read:,} rows read, {summary.inserted:,} inserted")
        sys.stderr.flush()


def _seed(engine: Engine) -> None:
    """Reference codes map to fixed ids; make sure those rows exist (as `init` does)."""
    with engine.begin() as connection:
        seed_reference(connection)
        rollups.install(connection)
