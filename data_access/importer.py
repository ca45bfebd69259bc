"""`python -m data_access import`: load real contacts, surveys, cases, case events or ratings.

Nothing is lost and nothing is stored twice. Every data row of the file is inserted, skipped
because its id is already stored, or written with its row number and the reason to
`F.rejects.csv` beside the file. Rows are read as text in chunks and checked with Polars
expressions, so one bad value rejects one row and memory stays bounded; each chunk is one
committed batch, and a run that was killed midway is completed by running it again.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import io
import itertools
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from data_access import config, rollups
from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.config import LOCAL_TZ, mask_url, resolve_database_url, scrub
from data_access.engine import (
    DatabaseUnavailable,
    check_connection,
    create_db_engine,
    require_schema,
)
from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES, seed_reference
from data_access.rollups import insert_new_rows_counted
from data_access.schema import (
    CASE_KINDS,
    CASE_STAGES,
    CLOSED_STAGES,
    SERVED_BY,
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    NpsSurvey,
    Operator,
)

BATCH_ROWS = 50_000
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits before the retries of a failed batch
EXIT_FILE = 2  # the file cannot be read at all (or the command line is wrong)
EXIT_DATABASE = 3  # the database is unreachable or refused the work
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process stopped by SIGINT
INT_MAX = 2**31 - 1  # INTEGER columns (wait_s, handle_s, bot_s)
ID_LENGTH = 64
# The longest value read, in characters: the csv module's default field limit. It keeps a stray
# quote to one line (the reader gives up there), so the fast path applies it too.
VALUE_MAX = 131_072
SQLITE_CACHE_KB = 64 * 1024  # inserting into the indexes of millions of rows needs more than 2 MB
ROW = " row"  # internal names start with a space: header names are stripped, so never clash
REJECT_COLUMNS = ("row", "field", "value", "problem")
NOT_UTF8 = r"not UTF-8 text (bytes that are not UTF-8 are shown as \xNN)"
TIMESTAMP_HELP = ("YYYY-MM-DD HH:MM[:SS[.ffffff]] in local time (Asia/Almaty), or ISO 8601 with "
                  "an offset such as 2022-07-01T10:00:00+05:00 or ...Z")
_TIMESTAMP = (r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:[.,]\d{1,9})?)?"
              r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$")
_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")
FUTURE_SLACK = dt.timedelta(days=1)  # clocks and zones differ; beyond a day ahead is an error
NOW = " now"  # local_now() + FUTURE_SLACK, set on every chunk as it is checked
STAGE_RANK = {stage: min(rank, CASE_STAGES.index(CLOSED_STAGES[0]))
              for rank, stage in enumerate(CASE_STAGES)}  # answered and withdrawn rank alike
T = TypeVar("T")


class ImportFileError(Exception):
    """The file cannot be read at all: one line naming the file and the problem (exit 2)."""


class ImportDatabaseError(Exception):
    """The database stayed unreachable or refused the work: one line (exit 3)."""


class ImportInterrupted(Exception):
    """Ctrl-C: the committed batches stay, counted in `summary`; re-running finishes (exit 130)."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


# --- Checks per kind, as Polars expressions -------------------------------------------------

def _value(target: str) -> str:
    """Name of the typed value parsed from an input column."""
    return " " + target


def _text(name: str) -> str:
    """Name of an input column's value with blanks stripped, null when empty."""
    return " text " + name


def _text_expr(name: str) -> pl.Expr:
    return pl.col(_text(name))


def _given(name: str) -> pl.Expr:
    """True where the input column holds a non-blank value (never null)."""
    return _text_expr(name).is_not_null()


@dataclass(frozen=True)
class _Rule:
    field: str  # the input column the problem is reported on
    problem: pl.Expr  # the problem as text; null where the value is fine


class _Checks:
    """Typed values and the rules that reject a row, for the input columns of one kind."""

    def __init__(self) -> None:
        self.columns: list[str] = []  # input columns in documented order
        self.optional: set[str] = set()  # columns that may be left out of the header
        self.texts: dict[str, pl.Expr] = {}  # computed first: the values are read from them
        self.timestamps: list[str] = []
        self.values: dict[str, pl.Expr] = {}
        self.rules: list[_Rule] = []

    def parse(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The typed values of a chunk of text rows, null where a value is missing or bad."""
        latest = config.local_now() + FUTURE_SLACK
        frame = frame.with_columns(pl.lit(latest, dtype=pl.Datetime("us")).alias(NOW),
                                   **self.texts)
        for name in self.timestamps:
            frame = _with_timestamp(frame, name)
        return frame.with_columns(**self.values)

    def rule(self, name: str, condition: pl.Expr, problem: str | pl.Expr) -> None:
        message = pl.lit(problem) if isinstance(problem, str) else problem
        self.rules.append(_Rule(name, pl.when(condition).then(message)))

    def _column(self, name: str, required: bool, in_header: bool) -> None:
        self.columns.append(name)
        stripped = pl.col(name).str.strip_chars()
        self.texts[_text(name)] = pl.when(stripped != "").then(stripped)
        if not in_header:
            self.optional.add(name)
        if required:
            self.rule(name, ~_given(name), "required")

    def text(self, name: str, *, target: str | None = None, required: bool = True,
             max_length: int = ID_LENGTH, in_header: bool = True) -> None:
        self._column(name, required, in_header)
        self.values[_value(target or name)] = _text_expr(name)
        self.rule(name, _text_expr(name).str.len_chars() > max_length,
                  f"longer than {max_length:,} characters")

    def integer(self, name: str, low: int, high: int, *, required: bool = True,
                in_header: bool = True) -> None:
        """Digits only; digits beyond 64 bits are out of range too, not "not a number"."""
        self._column(name, required, in_header)
        self.values[_value(name)] = _text_expr(name).cast(pl.Int64, strict=False)
        number = pl.col(_value(name))
        digits = _text_expr(name).str.contains(r"^[+-]?[0-9]+$")
        self.rule(name, _given(name) & ~digits, "not a whole number")
        self.rule(name, (number < low) | (number > high) | (digits & number.is_null()),
                  f"must be between {low} and {high}")

    def choice(self, name: str, codes: dict[str, object], what: str, *,
               target: str | None = None, required: bool = True, list_codes: bool = True) -> None:
        """A code from a fixed list (case-insensitive), stored as itself or as a reference id."""
        self._column(name, required, True)
        dtype = pl.Int64 if isinstance(next(iter(codes.values())), int) else pl.String
        value = _text_expr(name).str.to_lowercase().replace_strict(
            codes, default=None, return_dtype=dtype)
        self.values[_value(target or name)] = value
        known = f" (known: {', '.join(codes)})" if list_codes else " (see the README)"
        self.rule(name, _given(name) & pl.col(_value(target or name)).is_null(),
                  f"unknown {what}{known}")

    def boolean(self, name: str) -> None:
        self._column(name, True, True)
        lowered = _text_expr(name).str.to_lowercase()
        value = (pl.when(lowered.is_in(_TRUE)).then(True)
                 .when(lowered.is_in(_FALSE)).then(False))
        self.values[_value(name)] = value
        self.rule(name, _given(name) & pl.col(_value(name)).is_null(), "not true or false")

    def timestamp(self, name: str, *, required: bool = True, in_header: bool = True) -> None:
        self._column(name, required, in_header)
        self.timestamps.append(name)
        value = pl.col(_value(name))
        self.rule(name, _given(name) & value.is_null(), f"not a timestamp: use {TIMESTAMP_HELP}")
        low = pl.lit(MIN_DAY).cast(pl.Datetime("us"))
        high = pl.lit(MAX_DAY).cast(pl.Datetime("us")) + pl.duration(days=1)
        self.rule(name, (value < low) | (value >= high), f"outside {MIN_DAY}..{MAX_DAY}")
        self.rule(name, (value > pl.col(NOW)) & (value < high),
                  "in the future (more than one day ahead of now)")

    def empty_unless(self, name: str, condition: pl.Expr, when: str) -> None:
        """The column must be filled where `condition` holds and empty where it does not."""
        self.rule(name, condition & ~_given(name), f"required when {when}")
        self.rule(name, ~condition & _given(name), f"must be empty unless {when}")

    def not_before(self, name: str, earlier: str) -> None:
        self.rule(name, pl.col(_value(name)) < pl.col(_value(earlier)), f"before {earlier}")


def _with_timestamp(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Parse the common `YYYY-MM-DD HH:MM:SS` at full speed, then only the other rows with
    the general (slower) expression."""
    text = _text_expr(name)
    frame = frame.with_columns(text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False,
                                                    time_unit="us").alias(_value(name)))
    rest = frame.filter(pl.col(_value(name)).is_null() & text.is_not_null())
    if rest.is_empty():
        return frame
    return frame.update(rest.select(ROW, _timestamp_expr(name).alias(_value(name))), on=ROW)


def _timestamp_expr(name: str) -> pl.Expr:
    """Naive local time as is; a time with an offset converted to naive Asia/Almaty time."""
    parts = _text_expr(name).str.extract_groups(_TIMESTAMP)
    day, minutes, seconds, zone = (parts.struct.field(str(group)) for group in range(1, 5))
    naive = pl.concat_str(
        [day, pl.lit(" "), minutes, seconds.fill_null(":00").str.replace(",", ".", literal=True)]
    ).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    digits = zone.str.replace(":", "", literal=True)
    zone_hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    zone_minutes = pl.when(digits.str.len_chars() > 3).then(
        digits.str.slice(3, 2).cast(pl.Int64, strict=False)).otherwise(0)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    offset = (pl.when(zone.str.to_uppercase() == "Z").then(0)
              .otherwise(sign * (zone_hours * 60 + zone_minutes)))
    valid_zone = (zone.str.to_uppercase() == "Z") | ((zone_hours <= 14) & (zone_minutes < 60))
    local = ((naive - pl.duration(minutes=offset)).dt.replace_time_zone("UTC")
             .dt.convert_time_zone(LOCAL_TZ.key).dt.replace_time_zone(None))
    return pl.when(zone.is_null()).then(naive).when(valid_zone).then(local)


@dataclass(frozen=True)
class _Reference:
    """An input column that names a row of another table by its external id."""

    column: str  # input column, e.g. operator_external_id
    table: Table
    target: str  # the id it resolves to, e.g. operator_id
    what: str  # how the problem names the missing row
    extra: tuple[str, ...] = ()  # columns of the referenced row read too (see `referenced`)

    @property
    def key(self) -> str:
        return _value(self.column)


def _referenced(table: Table, name: str) -> str:
    """Name of a column of the referenced row, e.g. the contact's served_by."""
    return f" {table.name}.{name}"


@dataclass(frozen=True)
class _AlsoUnique:
    """A second unique key (one rating per contact): a clash is rejected, never skipped.

    The messages take the earlier row's number (in the file) or the stored row's external_id.
    """

    column: str  # input column reported on
    target: str  # the table column that is unique
    in_file: str
    stored: str


@dataclass(frozen=True)
class Kind:
    """What one `--kind` reads, how it is checked and where it is stored."""

    name: str
    table: Table
    checks: _Checks
    key: tuple[str, ...]  # input columns that identify a row (in the file and in the table)
    stored: dict[str, str]  # table column -> typed value
    references: tuple[_Reference, ...] = ()
    also_unique: tuple[_AlsoUnique, ...] = ()

    @property
    def columns(self) -> list[str]:
        return self.checks.columns

    @property
    def required_columns(self) -> list[str]:
        return [name for name in self.columns if name not in self.checks.optional]


def _codes(rows: tuple) -> dict[str, int]:
    return {row.code: row.id for row in rows}


def _contacts() -> Kind:
    checks = _Checks()
    checks.text("external_id")
    checks.timestamp("started_at")
    checks.choice("channel", _codes(CHANNELS), "channel code", target="channel_id")
    no_contacts = [channel.id for channel in CHANNELS if not channel.takes_contacts]
    checks.rule("channel", pl.col(_value("channel_id")).is_in(no_contacts),
                "this channel takes no contacts (cases only)")
    checks.choice("region", _codes(REGIONS), "region code", target="region_id", list_codes=False)
    checks.choice("service_type", _codes(SERVICE_TYPES), "service type code",
                  target="service_type_id")
    checks.choice("served_by", {value: value for value in SERVED_BY}, "served_by")
    checks.text("operator_external_id", required=False)
    checks.empty_unless("operator_external_id", pl.col(_value("served_by")) == "operator",
                        "served_by is operator")
    checks.integer("wait_s", 0, INT_MAX)
    checks.integer("handle_s", 0, INT_MAX)
    checks.text("subscriber_key")
    # Seconds with the chat bot before a person took over: only on operator-served contacts.
    checks.integer("bot_s", 0, INT_MAX, required=False, in_header=False)
    checks.rule("bot_s", _given("bot_s") & (pl.col(_value("served_by")) != "operator"),
                "must be empty unless served_by is operator (bot_s is the bot time of a "
                "contact a person finished; a contact the bot finished has served_by bot)")
    return Kind(
        "contacts", Contact.__table__, checks, key=("external_id",),
        references=(_Reference("operator_external_id", Operator.__table__, "operator_id",
                               "no operator with this external_id"),),
        stored={"external_id": "external_id", "started_at": "started_at",
                "channel_id": "channel_id", "region_id": "region_id",
                "service_type_id": "service_type_id", "served_by": "served_by",
                "operator_id": "operator_id", "wait_s": "wait_s", "handle_s": "handle_s",
                "subscriber_key": "subscriber_key", "bot_s": "bot_s"})


def _surveys() -> Kind:
    checks = _Checks()
    checks.text("contact_external_id")
    checks.timestamp("sent_at")
    checks.boolean("answered")
    answered = pl.col(_value("answered"))
    checks.integer("score", 0, 10, required=False)
    checks.empty_unless("score", answered, "answered is true")
    checks.text("reason", required=False, in_header=False)
    checks.rule("reason", ~answered & _given("reason"), "must be empty unless answered is true")
    checks.text("suggestion", required=False, max_length=VALUE_MAX, in_header=False)
    checks.rule("suggestion", ~answered & _given("suggestion"),
                "must be empty unless answered is true")
    checks.timestamp("answered_at", required=False, in_header=False)
    checks.empty_unless("answered_at", answered, "answered is true")
    checks.not_before("answered_at", "sent_at")
    return Kind(
        "surveys", NpsSurvey.__table__, checks, key=("contact_external_id",),
        references=(_Reference("contact_external_id", Contact.__table__, "contact_id",
                               "no contact with this external_id (import contacts first)"),),
        stored={"contact_id": "contact_id", "sent_at": "sent_at", "answered": "answered",
                "score": "score", "reason": "reason", "suggestion": "suggestion",
                "answered_at": "answered_at"})


def _cases() -> Kind:
    checks = _Checks()
    checks.text("external_id")
    checks.choice("kind", {value: value for value in CASE_KINDS}, "kind")
    checks.choice("channel", _codes(CHANNELS), "channel code", target="channel_id")
    no_cases = [channel.id for channel in CHANNELS if not channel.takes_cases]
    checks.rule("channel", pl.col(_value("channel_id")).is_in(no_cases),
                "this channel takes no cases")
    checks.text("category", max_length=128)
    checks.choice("region", _codes(REGIONS), "region code", target="region_id", list_codes=False)
    checks.timestamp("received_at")
    checks.choice("status", {value: value for value in CASE_STAGES}, "status")
    checks.timestamp("resolved_at", required=False)
    checks.empty_unless("resolved_at", pl.col(_value("status")).is_in(CLOSED_STAGES),
                        f"status is {' or '.join(CLOSED_STAGES)}")
    checks.not_before("resolved_at", "received_at")
    return Kind(
        "cases", Case.__table__, checks, key=("external_id",),
        stored={"external_id": "external_id", "kind": "kind", "channel_id": "channel_id",
                "category": "category", "region_id": "region_id",
                "received_at": "received_at", "status": "status",
                "resolved_at": "resolved_at"})


def _shown(moment: pl.Expr) -> pl.Expr:
    return moment.dt.strftime("%Y-%m-%d %H:%M:%S")


def _case_events() -> Kind:
    """Each event is checked against its case here; against the case's other events (stored
    or earlier in the file) in `_Importer._out_of_order`."""
    checks = _Checks()
    checks.text("case_external_id")
    checks.choice("stage", {value: value for value in CASE_STAGES}, "stage")
    checks.timestamp("at")
    case = Case.__table__
    at, stage = pl.col(_value("at")), pl.col(_value("stage"))
    received, status, resolved = (pl.col(_referenced(case, name))
                                  for name in ("received_at", "status", "resolved_at"))
    closing, case_closed = stage.is_in(CLOSED_STAGES), status.is_in(CLOSED_STAGES)
    rank = stage.replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64)
    status_rank = status.replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64)
    checks.rule("at", at < received,
                pl.format("before the case's received_at {}", _shown(received)))
    checks.rule("stage", closing & status.is_not_null() & ~case_closed,
                pl.format("the case's status is {}: it has no closing event ({}) yet", status,
                          stage))
    checks.rule("stage", closing & case_closed & (stage != status),
                pl.format("the case's status is {}: answered and withdrawn exclude each other",
                          status))
    checks.rule("stage", ~closing & ~case_closed & (rank > status_rank),
                pl.format("the case's status is {}: {} is a later stage", status, stage))
    checks.rule("at", closing & (stage == status) & (at != resolved),
                pl.format("the closing event must be at the case's resolved_at {}",
                          _shown(resolved)))
    checks.rule("at", ~closing & (at > resolved),
                pl.format("after the case's resolved_at {}", _shown(resolved)))
    return Kind(
        "case_events", CaseEvent.__table__, checks, key=("case_external_id", "stage"),
        references=(_Reference("case_external_id", case, "case_id",
                               "no case with this external_id (import cases first)",
                               extra=("received_at", "status", "resolved_at")),),
        stored={"case_id": "case_id", "stage": "stage", "at": "at"})


def _ratings() -> Kind:
    checks = _Checks()
    checks.text("external_id")
    checks.text("contact_external_id")
    checks.text("operator_external_id")
    checks.integer("score", 1, 5)
    checks.timestamp("rated_at")
    served_by = pl.col(_referenced(Contact.__table__, "served_by"))
    checks.rule("contact_external_id", served_by != "operator",
                pl.format("the contact was served by {} (served_by), not an operator: only "
                          "a contact a person served is rated", served_by))
    return Kind(
        "ratings", AgentRating.__table__, checks, key=("external_id",),
        references=(
            _Reference("contact_external_id", Contact.__table__, "contact_id",
                       "no contact with this external_id (import contacts first)",
                       extra=("served_by",)),
            _Reference("operator_external_id", Operator.__table__, "operator_id",
                       "no operator with this external_id")),
        also_unique=(_AlsoUnique(
            "contact_external_id", "contact_id",
            in_file="contact already rated in row {}; one rating per contact",
            stored="contact already rated: rating {} is stored for it; one rating per contact"),),
        stored={"external_id": "external_id", "operator_id": "operator_id",
                "contact_id": "contact_id", "score": "score", "rated_at": "rated_at"})


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    _contacts(), _surveys(), _cases(), _case_events(), _ratings())}


# --- Reading: CSV (UTF-8) or Parquet, as text, in chunks -------------------------------------

@dataclass
class _Chunk:
    frame: pl.DataFrame  # ROW plus every input column, as text
    malformed: list[tuple[int, list[str]]] = field(default_factory=list)  # wrong field count
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)  # (row, line, problem)
    # Values the source could not turn into text (row, field, value, problem): bytes in a
    # Parquet binary column that are not UTF-8. The value is shown, the row is rejected.
    undecoded: pl.DataFrame = field(default_factory=lambda: _no_problems())

    @property
    def bad_rows(self) -> list[int]:
        """Numbers of the rows that are not in `frame`."""
        return [*(row for row, _ in self.malformed), *(row for row, _, _ in self.unreadable)]


def _header(names: list[str], path: Path) -> list[str]:
    columns = [name.strip() or f"column_{number}" for number, name in enumerate(names, start=1)]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}: column {', '.join(repeated)} appears more than once "
                              "in the header")
    return columns


def _check_utf8(path: Path) -> None:
    """Refuse a UTF-16 or Latin-1 file before a single row is stored, naming the line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        first = True
        while block := handle.read(1 << 20):
            if first and block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise ImportFileError(f"{path} is UTF-16 encoded (byte-order mark); "
                                      "save it as UTF-8")
            if first and b"\x00" in block[:4096]:
                raise ImportFileError(f"{path} has NUL bytes near its start, so it is probably "
                                      "UTF-16 encoded; save it as UTF-8")
            first = False
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                bad = error.object[error.start]
                line += error.object.count(b"\n", 0, error.start)
                raise ImportFileError(
                    f"{path} is not UTF-8: byte 0x{bad:02X} on line {line} is invalid (Latin-1 "
                    "or Windows-1251, perhaps); save it as UTF-8") from None
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFileError(f"{path} is not UTF-8: it ends inside a character on line "
                                  f"{line}; save it as UTF-8") from None


def _unquoted(field_text: str) -> str | None:
    """A header name without the quotes around it; None if it needs a CSV parser."""
    if '"' not in field_text:
        return field_text
    simple = len(field_text) >= 2 and field_text[0] == field_text[-1] == '"'
    return field_text[1:-1] if simple and '"' not in field_text[1:-1] else None


# A record: (line, fields, None); a line that cannot be read: (line, its text, the problem).
_Record = tuple[int, list[str], None] | tuple[int, str, str]


class _CsvRecords:
    """The records of a CSV text file, parsed strictly, so that a stray quote costs one line.

    The csv module reads an opening quote that is never closed properly on to the end of the
    file (or to its 128 KB field limit), so a single bad line would swallow every row after
    it. Here a record that breaks strict parsing, or that spans lines and then has the wrong
    number of fields, is cut back to its first line: that line is returned as unreadable and
    the lines after it are read again, as rows of their own. A quoted value may still span
    lines (RFC 4180) when its record has the header's number of fields.
    """

    def __init__(self, stream: TextIO, lines_before: int = 0, width: int | None = None) -> None:
        self._stream = stream
        self._lines_before = lines_before
        self.width = width  # the header's field count, once known

    def __iter__(self) -> Iterator[_Record]:
        line = self._lines_before  # lines of the file read so far
        again: list[str] = []  # lines to read again after a cut, then the rest of the file
        while True:
            # The reader takes lines from `ahead`; `behind` keeps them until the record is
            # known to be good, so a cut can give them back. Both stay in C for plain rows.
            ahead, behind = itertools.tee(itertools.chain(again, self._stream))
            reader = csv.reader(ahead, strict=True)
            done = 0  # lines of this reader's input that whole records took
            while True:
                error = None
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as problem:
                    error, fields = str(problem), []
                taken = reader.line_num - done
                if error is None and (taken == 1 or self.width in (None, len(fields))):
                    if taken == 1:  # let the record's lines go
                        next(behind)
                    else:
                        next(itertools.islice(behind, taken - 1, None))
                    done += taken
                    line += taken
                    if fields:  # not a blank line
                        yield line - taken + 1, fields, None
                    continue
                lines = list(itertools.islice(behind, taken))
                long_record = _long_record(lines) if taken == 1 and error is not None \
                    and error.startswith(_FIELD_LIMIT) else None
                if long_record is not None:  # checked like any row: rejected, column named
                    yield line + 1, long_record, None
                else:
                    yield line + 1, lines[0].removesuffix("\n").removesuffix("\r"), \
                        self._problem(error, line + 1, line + taken, len(fields))
                line += 1
                again = lines[1:] + again[done + taken:]
                break

    def _problem(self, error: str | None, first: int, last: int, fields: int) -> str:
        """Why the record starting on line `first` and ending on `last` cannot be read."""
        if error is not None and error.startswith(_FIELD_LIMIT):
            error = (f"a value is longer than {csv.field_size_limit():,} characters "
                     "(an unclosed quote, perhaps)")
        if first == last:
            if error == "unexpected end of data":
                error = "the quote opened on this line is never closed"
            return f"{error}; a quote inside a value must be doubled and the whole value quoted"
        if error == "unexpected end of data":
            how = "the file ends inside it"
        elif error is None:
            how = f"gives {fields} fields, the header has {self.width}"
        else:
            how = f"breaks there ({error})"
        return (f"the quote opened on this line runs on to line {last} and {how}; only this "
                "line is rejected, reading goes on with the next line")


_FIELD_LIMIT = "field larger than field limit"


def _long_record(lines: list[str]) -> list[str] | None:
    """The fields of one line holding a value over the csv module's limit, or None if the
    line is not CSV on its own (a quote not closed on it).

    A whole line is in memory already, so reading it without the limit costs nothing, and the
    row is then checked as on the fast path, where values longer than VALUE_MAX are rejected.
    """
    limit = csv.field_size_limit(len(lines[0]) + 1)
    try:
        return next(csv.reader(lines, strict=True))
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(limit)


def _fields_as_far_as_they_go(text: str) -> list[str]:
    """A broken line's values for the rejects file, read leniently."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:  # a value over the field limit
        return text.split(",")


class _CsvSource:
    """Rows of a UTF-8 CSV file (a BOM is fine); blank lines are not rows.

    Plain blocks (every quote around a whole field without quotes, commas or line breaks:
    most machine-written files) are split by Polars, about six times faster than the csv
    module; from the first block that needs more on, the csv module reads the rest, so quoted
    commas and line breaks are read as by any CSV reader.
    """

    BLOCK_BYTES = 1 << 22

    def __init__(self, path: Path) -> None:
        _check_utf8(path)
        self.path = path
        self._binary = path.open("rb")
        self._text: TextIO | None = None
        self._parser: _CsvRecords | None = None
        self._records: Iterator[_Record] | None = None
        first = self._binary.readline().removeprefix(codecs.BOM_UTF8).decode("utf-8")
        names: list[str] | None = [_unquoted(name) for name in  # type: ignore[misc]
                                   first.removesuffix("\n").removesuffix("\r").split(",")]
        if not first.strip() or None in names or "\r" in first.rstrip("\r\n"):
            names = self._read_header_with_csv_module()
        if names is None:
            raise ImportFileError(f"{path} is empty: no header row")
        self.columns = _header(names, path)
        if self._parser is not None:
            self._parser.width = len(self.columns)

    def _switch_to_csv_module(self, offset: int, lines_before: int,
                              width: int | None) -> Iterator[_Record]:
        self._binary.seek(offset)
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig" if offset == 0
                                      else "utf-8", newline="")
        self._parser = _CsvRecords(self._text, lines_before, width)
        self._records = iter(self._parser)
        return self._records

    def _read_header_with_csv_module(self) -> list[str] | None:
        record = next(self._switch_to_csv_module(0, 0, None), None)
        if record is None:
            return None
        line, fields, problem = record
        if problem is not None:
            raise ImportFileError(f"{self.path}: the header (line {line}) cannot be read as "
                                  f"CSV: {problem.split('; ')[0]}")
        assert isinstance(fields, list)
        return fields

    def chunks(self, size: int) -> Iterator[_Chunk]:
        number = 0
        lines_before = 1  # the header's
        pending = pl.DataFrame()  # plain lines, split, not handed out yet
        while self._records is None:
            offset = self._binary.tell()
            block = self._binary.read(self.BLOCK_BYTES)
            if block and not block.endswith(b"\n"):
                block += self._binary.readline()
            lines = self._plain_lines(block) if block else None
            if block and lines is None:
                self._switch_to_csv_module(offset, lines_before, len(self.columns))
                break
            lines_before += block.count(b"\n")
            if lines is not None:
                pending = pl.concat([pending, lines])
            while pending.height >= size or (not block and pending.height):
                yield self._chunk(pending.head(size), number)
                number += min(size, pending.height)
                pending = pending.slice(size)
            if not block:
                return
        if pending.height:
            yield self._chunk(pending, number)
            number += pending.height
        yield from self._parsed_chunks(size, number)

    def _plain_lines(self, block: bytes) -> pl.DataFrame | None:
        """The block's non-blank lines split at the commas, or None if it needs a CSV parser:
        a bare carriage return, or a quote that is not around a whole simple field."""
        if block.count(b"\r") != block.count(b"\r\n"):
            return None
        width = len(self.columns)
        text = pl.Series([block.decode("utf-8")]).str.split("\n").explode()
        text = text.str.strip_suffix("\r")
        frame = pl.DataFrame({" line": text.filter(text.str.len_bytes() > 0)}).with_columns(
            pl.col(" line").str.count_matches(",", literal=True).eq(width - 1).alias(" fits"))
        frame = frame.with_columns(pl.col(" line").str.split_exact(",", width - 1)
                                   .struct.rename_fields(self.columns).struct.unnest())
        if b'"' not in block:
            return frame
        quoted = [pl.col(name).str.starts_with('"') for name in self.columns]
        unclear = (~pl.col(" fits") & pl.col(" line").str.contains('"', literal=True)) | (
            pl.col(" fits") & pl.any_horizontal(
                pl.col(name).str.contains('"', literal=True)
                & ~pl.col(name).str.contains(r'^"[^"]*"$') for name in self.columns))
        if frame.select(unclear.any()).item():
            return None
        return frame.with_columns(
            pl.when(is_quoted).then(pl.col(name).str.slice(1, pl.col(name).str.len_chars() - 2))
            .otherwise(pl.col(name)).alias(name)
            for name, is_quoted in zip(self.columns, quoted, strict=True))

    def _chunk(self, lines: pl.DataFrame, number: int) -> _Chunk:
        """Rows numbered on from `number`; a line with the wrong field count is malformed."""
        lines = lines.with_columns(pl.int_range(number + 1, number + 1 + lines.height,
                                                dtype=pl.Int64).alias(ROW))
        malformed = lines.filter(~pl.col(" fits"))
        return _Chunk(lines.filter(" fits").select(*self.columns, ROW),
                      [(row, line.split(",")) for line, row in
                       zip(malformed[" line"], malformed[ROW], strict=True)])

    def _parsed_chunks(self, size: int, number: int) -> Iterator[_Chunk]:
        assert self._records is not None
        width = len(self.columns)
        schema = dict.fromkeys(self.columns, pl.String)
        while True:
            records: list[list[str]] = []
            rows: list[int] = []
            chunk = _Chunk(pl.DataFrame())
            for line, fields, problem in self._records:
                number += 1
                if problem is not None:
                    assert isinstance(fields, str)
                    chunk.unreadable.append((number, fields, f"line {line} (row {number}) "
                                             f"cannot be read as CSV: {problem}"))
                elif len(fields) == width:
                    records.append(fields)
                    rows.append(number)
                else:
                    chunk.malformed.append((number, fields))
                if len(rows) + len(chunk.malformed) + len(chunk.unreadable) >= size:
                    break
            if not rows and not chunk.bad_rows:
                return
            chunk.frame = pl.DataFrame(records, schema=schema, orient="row").with_columns(
                pl.Series(ROW, rows, dtype=pl.Int64))
            yield chunk

    def close(self) -> None:
        (self._text or self._binary).close()


class _ParquetSource:
    """Rows of a Parquet file; every column is turned into text and checked like CSV."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise ImportFileError(
                f"{path} is not a readable Parquet file: {_first_line(error)}") from None
        self.columns = _header(list(self._file.schema_arrow.names), path)
        try:
            empty = pl.from_arrow(_instants_in_utc(self._file.schema_arrow.empty_table()))
        except (pa.ArrowException, pl.exceptions.PolarsError,
                pl.exceptions.PanicException) as error:
            raise ImportFileError(f"{path} has a column type that cannot be read: "
                                  f"{_first_line(error)}") from None
        assert isinstance(empty, pl.DataFrame)
        # A list or struct is no single value to check; refused before anything is written.
        nested = [f"{name} ({dtype})" for name, dtype in zip(self.columns, empty.dtypes,
                                                              strict=True)
                  if dtype.is_nested() or dtype == pl.Object]
        if nested:
            several = len(nested) > 1
            raise ImportFileError(
                f"{path}: column{'s' if several else ''} {', '.join(nested)} "
                f"hold{'' if several else 's'} lists or structs, not single values; flatten "
                f"or drop {'them' if several else 'it'}")

    def chunks(self, size: int) -> Iterator[_Chunk]:
        number = 0
        try:
            for batch in self._file.iter_batches(batch_size=size):
                frame = pl.from_arrow(_instants_in_utc(batch))
                assert isinstance(frame, pl.DataFrame)
                frame = frame.rename(dict(zip(frame.columns, self.columns, strict=True)))
                rows = pl.int_range(number + 1, number + 1 + frame.height, eager=True)
                number += frame.height
                frame = frame.with_columns(rows.alias(ROW))
                undecoded = [_no_problems()]
                for name in [name for name, dtype in frame.schema.items() if dtype == pl.Binary]:
                    text, bad = _decoded(frame[name])
                    frame = frame.with_columns(text)
                    undecoded.append(_problems(frame.filter(bad), name, pl.col(name),
                                               pl.lit(NOT_UTF8)))
                frame = frame.select(*(_as_text(name, dtype) for name, dtype
                                       in frame.schema.items() if name != ROW), ROW)
                yield _Chunk(frame, undecoded=pl.concat(undecoded))
        except (pa.ArrowException, OSError, pl.exceptions.PolarsError,
                pl.exceptions.PanicException) as error:
            raise ImportFileError(f"{self.path}: rows from {number + 1} on cannot be read: "
                                  f"{_first_line(error)}") from None

    def close(self) -> None:
        self._file.close()


def _instants_in_utc(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Timestamp columns with any time zone (`+05:45` as pandas writes an offset, `Asia/...`,
    even a name Polars does not know) relabelled UTC.

    Arrow stores such a column as UTC instants and the zone is only a label, so relabelling
    keeps every instant; Polars then converts them to local time like any other. Polars
    itself cannot read a fixed-offset label such as `+05:45` (it panics).
    """
    columns = []
    for column, kind in zip(data.columns, data.schema.types, strict=True):
        if pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz != "UTC":
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        columns.append(column)
    return type(data).from_arrays(columns, names=data.schema.names)


def _decoded(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A binary column as UTF-8 text, and where it is not UTF-8 (those bytes are shown with
    \\xNN escapes, for the rejects file)."""
    try:
        return values.cast(pl.String), pl.Series([False] * values.len())
    except pl.exceptions.ComputeError:  # rare: find the bad values one by one
        texts = [None if value is None else value.decode("utf-8", "backslashreplace")
                 for value in values]
        bad = [value is not None and text.encode("utf-8") != value
               for value, text in zip(values, texts, strict=True)]
        return pl.Series(values.name, texts, dtype=pl.String), pl.Series(bad)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A Parquet column as the text a CSV file would hold (binary is decoded before)."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:  # an instant: shown in local time like any other
            column = column.dt.convert_time_zone(LOCAL_TZ.key).dt.replace_time_zone(None)
        return pl.when(column.dt.microsecond() == 0).then(
            column.dt.strftime("%Y-%m-%d %H:%M:%S")).otherwise(
            column.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
    if dtype.is_float():  # 5.0 from a pandas column with gaps is the whole number 5
        whole = column.is_finite() & (column == column.round(0))
        # Digits also beyond 64 bits (1e20), so the range check shows the value; the float's
        # own text (1e+300) beyond 38 digits.
        digits = pl.coalesce(column.cast(pl.Int64, strict=False).cast(pl.String),
                             column.cast(pl.Decimal(38, 0), strict=False).cast(pl.String))
        return pl.when(whole).then(pl.coalesce(digits, column.cast(pl.String))
                                   ).otherwise(column.cast(pl.String))
    return column.cast(pl.String)


def _open_source(path: Path) -> _CsvSource | _ParquetSource:
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    if not path.is_file():
        raise ImportFileError(f"{path} is not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _CsvSource(path)
    if suffix in (".parquet", ".pq"):
        return _ParquetSource(path)
    raise ImportFileError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                          "use .csv (UTF-8) or .parquet")


def rejects_path(path: Path) -> Path:
    """Where the rejects of `path` go: `contacts.csv` -> `contacts.rejects.csv` beside it."""
    return path.with_name(path.stem + ".rejects.csv")


class _RejectsFile:
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


# --- In-file duplicates ------------------------------------------------------------------------

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


# --- The import --------------------------------------------------------------------------------

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


def _first_line(error: BaseException) -> str:
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _problems(frame: pl.DataFrame, field_name: str | pl.Expr, value: pl.Expr,
              problem: pl.Expr) -> pl.DataFrame:
    name = pl.lit(field_name) if isinstance(field_name, str) else field_name
    return frame.select(
        pl.col(ROW).alias("row"), name.alias("field"), value.fill_null("").alias("value"),
        problem.alias("problem")).filter(pl.col("problem").is_not_null())


def _key_expr(columns: tuple[str, ...]) -> pl.Expr:
    """One text per row from the key columns; NUL separates parts (checked values hold none)."""
    return pl.concat_str([pl.col(_value(name)).cast(pl.String) for name in columns],
                         separator="\x00")


def _polars_type(table: Table, name: str) -> pl.DataType:
    python_type = table.c[name].type.python_type
    if python_type is dt.datetime:
        return pl.Datetime("us")
    return pl.Int64 if python_type is int else pl.String


class _Importer:
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
        nul = [_Rule(name, pl.when(pl.col(name).str.contains("\x00", literal=True))
                     .then(pl.lit("contains a NUL character"))) for name in kind.columns]
        missing = [_Rule(reference.column, pl.when(
            pl.col(reference.key).is_not_null() & pl.col(_value(reference.target)).is_null()
        ).then(pl.lit(reference.what))) for reference in kind.references]
        self.rules = [*nul, *kind.checks.rules, *missing]

    # Database work, each piece retried on connection errors.
    def retry(self, action: Callable[[], T], what: str) -> T:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                return action()
            except (OperationalError, InterfaceError, DatabaseUnavailable) as error:
                message = scrub(_first_line(error), self.url)
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
                extra = {_referenced(reference.table, name): _polars_type(reference.table, name)
                         for name in reference.extra}
                ids = pl.DataFrame(found, schema={reference.key: pl.String,
                                                  _value(reference.target): pl.Int64, **extra},
                                   orient="row")
                frame = frame.join(ids, on=reference.key, how="left", maintain_order="left")
        return frame

    def _stored_clashes(self, frame: pl.DataFrame, unique: _AlsoUnique) -> pl.DataFrame:
        """New rows whose second unique key is stored under another external_id.

        A row whose own external_id is stored is a duplicate (skipped), not a clash.
        """
        table, own = self.kind.table, _value("external_id")
        with self.engine.connect() as connection:
            holders = self._lookup(connection, table, unique.target,
                                   frame[_value(unique.target)].unique().to_list(),
                                   "external_id")
            known = self._lookup(connection, table, "external_id", frame[own].to_list(),
                                 "external_id")
        stored = pl.DataFrame(holders, orient="row",
                              schema={_value(unique.target): pl.Int64, " holder": pl.String})
        clash = (frame.join(stored, on=_value(unique.target), how="left", maintain_order="left")
                 .filter(pl.col(" holder").is_not_null() & (pl.col(" holder") != pl.col(own))
                         & ~pl.col(own).is_in([key for key, _ in known])))
        return _problems(clash, unique.column, pl.col(unique.column),
                         pl.format(unique.stored, pl.col(" holder")))

    def _out_of_order(self, good: pl.DataFrame, what: str) -> pl.DataFrame:
        """Events out of stage order with their case's stored events and the file's earlier
        ones: a later stage earlier in time (or the reverse), or answered and withdrawn both.
        The earlier event stands; accepted events are remembered for the next chunks."""
        mine = good.select(pl.col(ROW).alias("row"), pl.col(_value("case_id")).alias("case"),
                           pl.col(_value("stage")).alias("stage"),
                           pl.col(_value("at")).alias("at"))

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
                                   pl.col("stage_other"), _shown(pl.col("at_other")), which))
                     .when((other_rank > rank) & (pl.col("at_other") < pl.col("at"))).then(
                         pl.format("after the case's {} event at {} ({})",
                                   pl.col("stage_other"), _shown(pl.col("at_other")), which)))
                 .filter(pl.col("problem").is_not_null())
                 .sort("row", "row_other").unique("row", keep="first", maintain_order=True))
        texts = good.select(pl.col(ROW).alias("row"), pl.col("stage").alias(" stage text"),
                            pl.col("at").alias(" at text"))
        disorder = pairs.join(texts, on="row", how="left").select(
            "row", "field", pl.when(pl.col("field") == "stage").then(pl.col(" stage text"))
            .otherwise(pl.col(" at text")).fill_null("").alias("value"), "problem")
        accepted = mine.join(disorder.select("row"), on="row", how="anti")
        self.events = pl.concat([self.events, accepted])
        return disorder

    def _late_clashes(self, checked: _Checked, refused: pl.DataFrame) -> pl.DataFrame:
        """Rows the insert skipped although their external_id is not stored: another import
        stored their second unique key (the contact's rating) after this batch was checked.
        They are rejected with the stored row named, as when the imports run one after
        the other; a row whose external_id is stored is a duplicate (skipped)."""
        own = _value("external_id")
        frame = checked.good.join(refused.select(pl.col("row").alias(ROW)), on=ROW,
                                  how="anti", maintain_order="left")

        def find() -> pl.DataFrame:
            with self.engine.connect() as connection:
                known = self._lookup(connection, self.kind.table, "external_id",
                                     frame[own].to_list(), "external_id")
            missing = frame.filter(~pl.col(own).is_in([key for key, _ in known]))
            clashes = [self._stored_clashes(missing, unique) for unique in self.kind.also_unique]
            found = pl.concat([_no_problems(), *clashes])
            # A clashing row deleted again meanwhile: still not stored, still rejected.
            unexplained = missing.join(found.select(pl.col("row").alias(ROW)), on=ROW,
                                       how="anti", maintain_order="left")
            return pl.concat([found, _problems(
                unexplained, "(row)", pl.lit(""),
                pl.lit("not stored: it clashed with a row another import stored at the same "
                       "time"))])

        last = frame[ROW].max() if frame.height else checked.first_row
        return self.retry(find, f"checking rows {checked.first_row:,}..{last:,} after storing")

    def _insert(self, frame: pl.DataFrame, first_row: int) -> tuple[int, pl.DataFrame]:
        """Store the rows; rows the database refuses (split off by halving) come back."""
        values = frame.select(pl.col(_value(source)).alias(column)
                              for column, source in self.kind.stored.items())

        def store() -> int:
            with self.engine.begin() as connection:
                if connection.dialect.name == "sqlite":  # index pages of big tables stay cached
                    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                return insert_new_rows_counted(connection, self.kind.table, values)

        last = frame[ROW].max() if frame.height else first_row
        try:
            return self.retry(store, f"storing rows {first_row:,}..{last:,}"), _no_problems()
        except (IntegrityError, DataError) as error:
            if frame.height == 1:
                problem = f"refused by the database: {scrub(_first_line(error), self.url)}"
                return 0, _problems(frame, "(row)", pl.lit(""), pl.lit(problem))
            half = frame.height // 2
            done, refused = self._insert(frame.slice(0, half), first_row)
            more, refused_more = self._insert(frame.slice(half), first_row)
            return done + more, pl.concat([refused, refused_more])

    def check(self, chunk: _Chunk, reject_columns: list[str]) -> _Checked:
        """Everything but the insert: values, references, in-file repeats, stored clashes."""
        frame, kind = chunk.frame, self.kind
        first_row = min([*frame[ROW].to_list()[:1], *chunk.bad_rows])
        last_row = max([*frame[ROW].to_list()[-1:], *chunk.bad_rows])
        what = f"looking up rows {first_row:,}..{last_row:,}"
        parsed = kind.checks.parse(frame)
        if kind.references:
            parsed = self.retry(lambda: self._resolve(parsed), what)
        # All rules in one pass; the per-rule problem lines only for the (few) flagged rows.
        names = [f" rule {number}" for number in range(len(self.rules))]
        flagged = parsed.with_columns(
            rule.problem.alias(name) for rule, name in zip(self.rules, names, strict=True)
        ).filter(pl.any_horizontal(pl.col(name).is_not_null() for name in names))
        problems = [_problems(flagged, rule.field, pl.col(rule.field), pl.col(name))
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
            repeat = good.with_columns(first.alias(" first"))
            value = pl.concat_str([pl.col(name) for name in label], separator=",")
            problems.append(_problems(repeat, ",".join(label), value, pl.when(
                pl.col(" first").is_not_null()).then(pl.format(message, pl.col(" first")))))
            repeats = repeats or problems[-1].height  # the identifying key's repeats
            good = repeat.filter(pl.col(" first").is_null()).drop(" first")
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
        malformed_rows, malformed = _malformed(chunk, reject_columns)
        return _Checked(
            good.sort(ROW), first_row, pl.concat([*problems, malformed]),
            pl.concat([frame.select(ROW, *reject_columns), malformed_rows]),
            read=frame.height + len(chunk.bad_rows), repeats=repeats)

    def store(self, checked: _Checked, rejects: _RejectsFile) -> None:
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


def _malformed(chunk: _Chunk, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
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


def _no_problems() -> pl.DataFrame:
    return pl.DataFrame(schema={"row": pl.Int64, "field": pl.String, "value": pl.String,
                                "problem": pl.String})


def _csv_line(fields: list[str]) -> str:
    return ",".join(f'"{value.replace(chr(34), chr(34) * 2)}"' if any(
        mark in value for mark in ',"\n\r') else value for value in fields)


def import_file(kind_name: str, path: Path, url: str | None = None,
                batch_rows: int = BATCH_ROWS, warn: Warn | None = None) -> ImportSummary:
    """Import one file; raises ImportFileError or ImportDatabaseError with one line."""
    started = time.perf_counter()
    warn = warn or (lambda message: print(message, file=sys.stderr))
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ImportFileError(f"unknown --kind {kind_name!r}; use one of: {', '.join(KINDS)}")
    source = _open_source(path)
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


def _import(kind: Kind, source: _CsvSource | _ParquetSource, path: Path, url: str | None,
            batch_rows: int, warn: Warn, summary: ImportSummary) -> None:
    summary.ignored_columns = [name for name in source.columns if name not in kind.columns]
    if summary.ignored_columns:
        warn(f"warning: ignoring column(s) {', '.join(summary.ignored_columns)}: not part "
             f"of --kind {kind.name} (they are kept in the rejects file)")
    rejects = _RejectsFile(rejects_path(path), source.columns)
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


def _run(kind: Kind, source: _CsvSource | _ParquetSource, url: str, batch_rows: int,
         warn: Warn, summary: ImportSummary, rejects: _RejectsFile) -> None:
    try:
        engine = create_db_engine(url)
    except DatabaseUnavailable as error:
        raise ImportDatabaseError(str(error)) from None
    importer = _Importer(kind, engine, url, warn, summary)
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
        raise ImportDatabaseError(f"database error: {scrub(_first_line(error), url)}; "
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


# --- Command line ------------------------------------------------------------------------------

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
