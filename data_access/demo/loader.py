"""Loading the demo into a database: one committed month at a time, generated on one core
while the database writes the previous month on the other."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import (
    Connection,
    Engine,
    ForeignKeyConstraint,
    Index,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import AddConstraint, DropConstraint

from data_access import rollups
from data_access.bulk import advance_sequences, bulk_insert
from data_access.config import local_now
from data_access.dates import month_starts
from data_access.demo.cases import build_cases
from data_access.demo.contacts import (
    MonthBatch,
    build_month,
    subscriber_keys,
)
from data_access.demo.plan import (
    DemoConfig,
    DemoError,
    Streams,
    build_operators,
    build_plan,
)
from data_access.reference import seed_reference
from data_access.rollups import ensure_schema
from data_access.schema import (
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    DemoLoad,
    NpsSurvey,
    Operator,
    Staffing,
)

ProgressCallback = Callable[[float, str], None]


@dataclass
class DemoSummary:
    contacts: int = 0  # served ones, as the seed table counts them
    abandoned: int = 0
    staffing_rows: int = 0
    surveys: int = 0
    responses: int = 0
    ratings: int = 0
    operators: int = 0
    cases: int = 0
    case_events: int = 0
    seconds: float = 0.0
    months: list[str] = field(default_factory=list)

    def add(self, batch: MonthBatch, cases: pl.DataFrame, events: pl.DataFrame) -> None:
        abandoned = int((batch.contacts["served_by"] == "abandoned").sum())
        self.contacts += batch.contacts.height - abandoned
        self.abandoned += abandoned
        self.staffing_rows += batch.staffing.height
        self.surveys += batch.surveys.height
        self.responses += int(batch.surveys["answered"].sum())
        self.ratings += batch.ratings.height
        self.cases += cases.height
        self.case_events += events.height if cases.height else 0


def _write_month(engine: Engine, batch: MonthBatch, cases: pl.DataFrame,
                 events: pl.DataFrame) -> None:
    """One committed transaction per month: an interrupted load keeps whole months only."""
    with engine.begin() as connection:
        rollups.bulk_insert_counted(connection, [
            (Contact.__table__, batch.contacts, "id"),
            (NpsSurvey.__table__, batch.surveys, "contact_id"),
            (AgentRating.__table__, batch.ratings, "contact_id"),
            (Case.__table__, cases, "id"),
            (CaseEvent.__table__, events, "case_id"),
        ], monthly=False)  # derived from the daily rollups once, at the end
        bulk_insert(connection, Staffing.__table__, batch.staffing)  # no rollup reads it


def _wait_and_report(pending: tuple[Future, str], report: ProgressCallback,
                     fraction: float) -> None:
    future, message = pending
    future.result()
    report(0.02 + 0.98 * fraction, message)


def _unfinished_load(connection: Connection) -> bool:
    return bool(connection.scalar(select(func.count()).select_from(DemoLoad).where(
        DemoLoad.finished_at.is_(None))))


def _purge_demo(connection: Connection) -> None:
    """Remove what an interrupted demo load left, children before parents."""
    for model in (AgentRating, NpsSurvey, CaseEvent, Case, Contact, Operator, Staffing,
                  DemoLoad):
        connection.execute(delete(model))
    rollups.clear(connection)  # the triggers leave rows of zeros behind


def _deferred_indexes(connection: Connection) -> list[Index]:
    """PostgreSQL builds an index once faster than it maintains it row by row during COPY.

    The demo loads into empty tables, so their non-unique indexes can be dropped first and
    built at the end (an interrupted load is purged and redone, indexes included).
    """
    if connection.dialect.name != "postgresql":
        return []
    return [index for table in (Contact.__table__, Case.__table__, AgentRating.__table__)
            for index in table.indexes if not index.unique]


def _deferred_foreign_keys(connection: Connection) -> list[ForeignKeyConstraint]:
    """PostgreSQL checks a foreign key with one query per inserted row (four per contact):
    most of a COPY's time. The demo's rows refer only to reference rows, operators and rows
    it loaded before, so the loaded tables' keys are dropped with the indexes and added back
    at the end, which checks every row in one pass per key.
    """
    if connection.dialect.name != "postgresql":
        return []
    return [key for model in (Contact, NpsSurvey, AgentRating, Case, CaseEvent)
            for key in model.__table__.foreign_key_constraints]


def _add_missing(connection: Connection, keys: list[ForeignKeyConstraint]) -> None:
    """Add the keys the database lacks (a redone load finds those it dropped gone already)."""
    for key in keys:
        stored = {found["name"] for found in inspect(connection).get_foreign_keys(key.table.name)}
        if key.name not in stored:
            # Not isolated: the shared metadata must keep the key in every CREATE TABLE.
            connection.execute(AddConstraint(key, isolate_from_table=False))


def needs_demo(engine: Engine) -> bool:
    """True for a database without contacts, or whose demo load never finished."""
    if not inspect(engine).has_table(Contact.__tablename__):
        return True
    with engine.connect() as connection:
        has_contact = connection.scalar(select(Contact.id).limit(1)) is not None
        unfinished = (inspect(connection).has_table(DemoLoad.__tablename__)
                      and _unfinished_load(connection))
    return not has_contact or unfinished


def generate_demo(engine: Engine, config: DemoConfig,
                  progress: ProgressCallback | None = None) -> DemoSummary:
    """Create the schema if needed and load the demo story, one committed month at a time."""
    problems = config.problems()
    if problems:
        raise DemoError("; ".join(problems))
    report = progress or (lambda _fraction, _message: None)
    started = time.perf_counter()
    ensure_schema(engine)
    with engine.begin() as connection:
        seed_reference(connection)
        if _unfinished_load(connection):
            _purge_demo(connection)
        for model, what in ((Contact, "contacts"), (Operator, "operators"),
                            (Staffing, "staffing rows")):
            existing = connection.scalar(select(func.count()).select_from(model))
            if existing:
                raise DemoError(f"the database already holds {existing} {what}; "
                                "demo data goes into an empty database")
        load_id = connection.execute(insert(DemoLoad).values(
            started_at=local_now(), first_day=config.start, last_day=config.end,
            scale=config.scale, seed=config.seed)).inserted_primary_key[0]
        operators = build_operators(config, Streams(config.seed))
        bulk_insert(connection, Operator.__table__, operators)
        deferred = _deferred_indexes(connection)
        for index in deferred:
            index.drop(connection, checkfirst=True)
        deferred_keys = _deferred_foreign_keys(connection)
        for key in deferred_keys:
            connection.execute(DropConstraint(key, if_exists=True))

    streams = Streams(config.seed)
    summary = DemoSummary(operators=operators.height)
    report(0.02, "Planning the calendar")
    plan = build_plan(config, streams)
    keys = subscriber_keys(config)
    months = month_starts(config.start, config.end)
    next_contact, next_case = 1, 1
    # Generate month n+1 while a writer thread loads month n: the database works on the
    # second core. Progress is reported from this thread, which Streamlit requires.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-writer") as writer:
        pending: tuple[Future, str] | None = None
        for number, month_start in enumerate(months, start=1):
            batch = build_month(config, plan, operators, keys, streams, month_start, next_contact)
            cases, events = build_cases(config, plan, month_start, next_case, streams)
            if pending is not None:
                _wait_and_report(pending, report, (number - 1) / len(months))
            pending = (writer.submit(_write_month, engine, batch, cases, events),
                       f"Loaded {month_start:%Y-%m}: "
                       f"{next_contact - 1 + batch.contacts.height:,} contacts so far")
            next_contact += batch.contacts.height
            next_case += cases.height
            summary.add(batch, cases, events)
            summary.months.append(month_start.strftime("%Y-%m"))
        if pending is not None:
            _wait_and_report(pending, report, 1.0)
    with engine.begin() as connection:
        advance_sequences(connection, [Contact.__table__, Case.__table__, CaseEvent.__table__,
                                       AgentRating.__table__, Operator.__table__])
        for index in deferred:
            index.create(connection, checkfirst=True)
        _add_missing(connection, deferred_keys)
        rollups.derive_monthly(connection)
        connection.execute(update(DemoLoad).where(DemoLoad.id == load_id)
                           .values(finished_at=local_now()))
    summary.seconds = time.perf_counter() - started
    return summary
