"""Daily rollups: what every dashboard reads, kept equal to the raw rows by database triggers.

A page's cost must follow the days and segments it shows, not the raw rows behind them. Each
rollup table holds one row per day and segment (channel × region × service type, or the
case's kind × channel × region × category) with counts, sums and histogram buckets as
columns, so its size is bounded by the calendar and the reference data, whatever the volume.

Why triggers: every writer (the demo, the feed, the import, an operator's own ETL or a hand
-written INSERT) then updates the rollups in its own transaction, so they are never stale and
never double-counted. PostgreSQL runs one grouped upsert per statement over the transition
tables (a COPY of a month stays one statement); SQLite runs a row trigger with an UPSERT.
Updates subtract the old row and add the new one; deletes subtract. A parent row (a contact
for its survey and rating, a case for its stage events) gives the keys, so its updates move
its children's counts too, and its delete takes them out before the cascade removes them.
TRUNCATE is not followed: run `python -m data_access rebuild-rollups` after one.

Percentiles that sums cannot give come from histogram buckets (edges below, documented in the
README); a percentile is interpolated inside its bucket, so it is exact to the bucket's width.

The definitions (tables, columns, bucket edges) are in `rollup_tables`; this module generates
and installs the triggers, rebuilds, and inserts with the rollups kept or paused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    UniqueConstraint,
    bindparam,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import ProgrammingError

from data_access.bulk import bulk_insert, insert_new_rows

# The definitions, also read as rollups.X across the app (so all are imported here).
from data_access.rollup_tables import (  # noqa: F401
    ABANDONED_HOUR_COLUMNS,
    ABANDONED_WAIT_COLUMNS,
    HOUR_COLUMNS,
    MONTHLY,
    MONTHLY_NAMES,
    NO_REASON_KEY,
    PAUSE,
    PAUSE_SETTING,
    QUARTER_MINUTES,
    QUARTER_WAIT_COLUMNS,
    RESOLUTION_COLUMNS,
    RESOLUTION_EDGES_H,
    ROLLUPS,
    SCORE_COLUMNS,
    STAGE_COLUMNS,
    STATE,
    TABLES,
    WAIT_BUCKETS,
    WAIT_COLUMNS,
    WAIT_EDGES_S,
    WAIT_MEASURES,
    DialectSql,
    Rollup,
    wait_bucket_column,
)
from data_access.schema import Base

# --- SQL generation ----------------------------------------------------------------------------

def _rows(rollup: Rollup, sql: DialectSql, sign: int, row: str, parent: str,
          from_where: str) -> str:
    """One signed SELECT of the derived values; `from_where` names where the rows come from."""
    values = {"r": row, "p": parent}
    derived = ", ".join(f"{expression.format(**values)} AS {name}"
                        for name, expression in rollup.derived(sql).items())
    condition = rollup.condition.format(**values)
    return f"SELECT {sign} AS sign, {derived} {from_where.format(condition=condition)}"


def _upsert(rollup: Rollup, selects: list[str], dialect: str) -> str:
    keys = ", ".join(f"d.{key}" for key in rollup.keys)
    sums = ", ".join(f"SUM(d.sign * ({expression}))" for expression in rollup.measures.values())
    columns = ", ".join([*rollup.keys, *rollup.measures])
    updates = ", ".join(f"{name} = {rollup.name}.{name} + excluded.{name}"
                        for name in rollup.measures)
    # A fence keeps the derived values computed once per row: flattened into the outer
    # query, each measure would recompute them (about 3× slower on SQLite).
    fence = "LIMIT -1" if dialect == "sqlite" else "OFFSET 0"
    return (f"INSERT INTO {rollup.name} ({columns}) SELECT {keys}, {sums} "
            f"FROM ({' UNION ALL '.join(selects)} {fence}) d WHERE 1 = 1 GROUP BY {keys} "
            f"ORDER BY {keys} ON CONFLICT ({', '.join(rollup.keys)}) DO UPDATE SET {updates}")


def _parent_join(rollup: Rollup, parent_rows: str) -> str:
    return f"JOIN {parent_rows} p ON p.id = r.{rollup.parent_id}"


def rebuild_sql(rollup: Rollup, dialect: str, only: str = "1 = 1") -> str:
    """The rollup recomputed from all raw rows (the reference the triggers must equal).

    `only` narrows the source rows `r` (a bound id range for a bulk load).
    """
    join = _parent_join(rollup, rollup.parent) if rollup.parent else ""
    rows = _rows(rollup, DialectSql(dialect), 1, "r", "p",
                 f"FROM {rollup.source} r {join} WHERE {{condition}} AND {only}")
    return _upsert(rollup, [rows], dialect)


def _sqlite_triggers(rollup: Rollup) -> list[str]:
    sql = DialectSql("sqlite")

    def from_source(row: str) -> str:  # the source row is NEW/OLD; look its parent up
        if rollup.parent:
            return (f"FROM {rollup.parent} p WHERE p.id = {row}.{rollup.parent_id} "
                    "AND {condition}")
        return "WHERE {condition}"

    def from_parent(row: str) -> str:  # the parent row is NEW/OLD; take its children
        return f"FROM {rollup.source} r WHERE r.{rollup.parent_id} = {row}.id AND {{condition}}"

    def source_rows(sign: int, row: str) -> str:
        return _rows(rollup, sql, sign, row, "p", from_source(row))

    def parent_rows(sign: int, row: str) -> str:
        return _rows(rollup, sql, sign, "r", row, from_parent(row))

    statements = [
        ("AFTER INSERT", rollup.source, "insert", [[source_rows(1, "NEW")]]),
        ("AFTER UPDATE", rollup.source, "update",
         [[source_rows(-1, "OLD")], [source_rows(1, "NEW")]]),
        ("AFTER DELETE", rollup.source, "delete", [[source_rows(-1, "OLD")]]),
    ]
    if rollup.parent:
        statements += [
            ("AFTER UPDATE", rollup.parent, "parent_update",
             [[parent_rows(-1, "OLD")], [parent_rows(1, "NEW")]]),
            # Before: the cascade removes the children after the parent row is gone.
            ("BEFORE DELETE", rollup.parent, "parent_delete", [[parent_rows(-1, "OLD")]]),
        ]
    triggers = []
    for timing, table, event, steps in statements:
        body = "; ".join(_upsert(rollup, selects, "sqlite") for selects in steps)
        triggers.append(f"CREATE TRIGGER {rollup.name}_{event} {timing} ON {table} "
                        f"FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM {PAUSE.name}) "
                        f"BEGIN {body}; END")
    return triggers


def _postgres_triggers(rollup: Rollup) -> list[str]:
    sql = DialectSql("postgresql")

    def source_rows(sign: int, rows: str) -> str:
        join = _parent_join(rollup, rollup.parent) if rollup.parent else ""
        return _rows(rollup, sql, sign, "r", "p", f"FROM {rows} r {join} WHERE {{condition}}")

    def parent_rows(sign: int, rows: str) -> str:
        return _rows(rollup, sql, sign, "r", "p",
                     f"FROM {rollup.source} r {_parent_join(rollup, rows)} WHERE {{condition}}")

    def old_parent_row(sign: int) -> str:
        return _rows(rollup, sql, sign, "r", "OLD",
                     f"FROM {rollup.source} r WHERE r.{rollup.parent_id} = OLD.id "
                     "AND {condition}")

    new, old, both = ("NEW TABLE AS new_rows", "OLD TABLE AS old_rows",
                      "OLD TABLE AS old_rows NEW TABLE AS new_rows")
    plans = [
        ("insert", "AFTER INSERT", rollup.source, new, [source_rows(1, "new_rows")]),
        ("update", "AFTER UPDATE", rollup.source, both,
         [source_rows(-1, "old_rows"), source_rows(1, "new_rows")]),
        ("delete", "AFTER DELETE", rollup.source, old, [source_rows(-1, "old_rows")]),
    ]
    if rollup.parent:
        plans += [
            ("parent_update", "AFTER UPDATE", rollup.parent, both,
             [parent_rows(-1, "old_rows"), parent_rows(1, "new_rows")]),
            ("parent_delete", "BEFORE DELETE", rollup.parent, None, [old_parent_row(-1)]),
        ]
    statements = []
    for event, timing, table, transition, selects in plans:
        name = f"{rollup.name}_{event}"
        result = "OLD" if transition is None else "NULL"
        statements.append(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
            f"BEGIN IF current_setting('{PAUSE_SETTING}', true) = 'on' THEN RETURN {result}; "
            f"END IF; {_upsert(rollup, selects, 'postgresql')}; RETURN {result}; END $body$")
        level = ("FOR EACH ROW" if transition is None
                 else f"REFERENCING {transition} FOR EACH STATEMENT")
        statements.append(f"CREATE TRIGGER {name} {timing} ON {table} {level} "
                          f"EXECUTE FUNCTION {name}()")
    return statements


def raw_tables() -> list[Table]:
    """The tables rows are written to (Alembic migrates these; rollups are derived)."""
    return [table for table in Base.metadata.sorted_tables
            if table.name not in TABLES and table not in (STATE, PAUSE)]


def _raw_index_names() -> list[str]:
    return sorted(index.name for table in raw_tables() for index in table.indexes)


def trigger_sql(dialect: str) -> list[str]:
    make = _postgres_triggers if dialect == "postgresql" else _sqlite_triggers
    return [statement for rollup in ROLLUPS for statement in make(rollup)]


def definition_version(dialect: str) -> str:
    """A fingerprint of the rollup tables and triggers: a change rebuilds them on start."""
    parts = [repr([(rollup.name, rollup.key_types.keys(), list(rollup.measures))
                   for rollup in ROLLUPS]), *trigger_sql(dialect), *_raw_index_names()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# --- Install, rebuild, check -------------------------------------------------------------------

class RollupsOutdated(RuntimeError):
    """The database's rollups were built by another version and this role cannot rebuild."""


def installed_version(connection: Connection) -> str | None:
    if not inspect(connection).has_table(STATE.name):
        return None
    return connection.scalar(select(STATE.c.version))


def drop_triggers(connection: Connection) -> None:
    """Every rollup trigger (a migration that copies a raw table drops them first)."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(text(
            "SELECT tgname, relname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
            "WHERE NOT tgisinternal AND tgname LIKE 'rollup\\_%'")).all()
        for trigger, table in rows:
            connection.execute(text(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"'))
        return
    names = connection.scalars(text(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup\\_%' "
        "ESCAPE '\\'")).all()
    for name in names:
        connection.execute(text(f'DROP TRIGGER IF EXISTS "{name}"'))


def install(connection: Connection) -> bool:
    """Create the rollup tables and triggers when missing or outdated, then fill them.

    Returns True when it (re)built them. Runs in the caller's transaction, so the triggers
    and the rebuild appear together; on PostgreSQL an advisory lock keeps two starting
    processes from doing it twice at once.
    """
    dialect = connection.dialect.name
    version = definition_version(dialect)
    if installed_version(connection) == version:
        return False
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7202611250)"))
        if installed_version(connection) == version:
            return False
    drop_triggers(connection)
    for table in (*TABLES.values(), STATE, PAUSE):
        table.drop(connection, checkfirst=True)
        table.create(connection)
    for statement in trigger_sql(dialect):
        connection.execute(text(statement))
    for table in raw_tables():  # indexes added since the database was made
        for index in table.indexes:
            index.create(connection, checkfirst=True)
    rebuild(connection)
    connection.execute(STATE.insert().values(version=version))
    return True


def ensure_schema(engine: Engine) -> None:
    """The raw tables at the newest revision, the rollups and their triggers: every writer
    calls this first (see `data_access.migrate`)."""
    from data_access.migrate import ensure_schema as migrated  # migrate imports this module

    migrated(engine)


def ensure_current(engine: Engine) -> bool:
    """Rebuild outdated rollups on start (True if it did); a read-only role gets a clear error."""
    with engine.connect() as connection:
        if installed_version(connection) == definition_version(connection.dialect.name):
            return False
    try:
        with engine.begin() as connection:
            return install(connection)
    except ProgrammingError as error:  # e.g. permission denied: a read-only role
        raise RollupsOutdated(
            "the rollup tables are missing or from another version and this database role "
            "cannot rebuild them; run `python -m data_access rebuild-rollups` as the writer"
        ) from error


def _hold_writers(connection: Connection) -> None:
    """PostgreSQL writers of the raw tables wait (SHARE lock) until the caller commits, so
    that no row is counted both by a trigger and by a pass over the raw or daily rows; SQLite
    has one writer at a time anyway."""
    if connection.dialect.name == "postgresql":
        sources = sorted({rollup.source for rollup in ROLLUPS}
                         | {rollup.parent for rollup in ROLLUPS if rollup.parent})
        connection.execute(text(f"LOCK TABLE {', '.join(sources)} IN SHARE MODE"))


@dataclass(frozen=True)
class RebuildReport:
    rows: dict[str, int]
    seconds: float


def rebuild(connection: Connection) -> RebuildReport:
    """Recompute every rollup from the raw rows, in the caller's transaction.

    Writers wait meanwhile (`_hold_writers`).
    """
    started = time.perf_counter()
    dialect = connection.dialect.name
    _hold_writers(connection)
    rows = {}
    for rollup in ROLLUPS:
        connection.execute(TABLES[rollup.name].delete())
        connection.execute(text(rebuild_sql(rollup, dialect)))
        rows[rollup.name] = int(connection.scalar(
            select(text("count(*)")).select_from(TABLES[rollup.name])) or 0)
    return RebuildReport(rows, time.perf_counter() - started)


@contextmanager
def _insert_triggers_paused(connection: Connection, tables: Collection[str]) -> Iterator[None]:
    """Inside the block, inserts into `tables` leave the rollups alone (the caller counts them).

    PostgreSQL: a transaction-local setting that every trigger function checks first. SQLite:
    the insert triggers are dropped and re-created from their stored text, since a paused row
    trigger still tests its WHEN clause per row (about half the cost of a bulk insert). No
    other connection sees either: the setting is local and SQLite has one writer. A failure
    inside the block leaves the triggers to the transaction's rollback.
    """
    if connection.dialect.name == "postgresql":
        pause = text("SELECT set_config(:name, :value, true)")
        connection.execute(pause, {"name": PAUSE_SETTING, "value": "on"})
        yield
        connection.execute(pause, {"name": PAUSE_SETTING, "value": "off"})
        return
    names = [f"{rollup.name}_insert" for rollup in ROLLUPS if rollup.source in tables]
    stored = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN :names")
        .bindparams(bindparam("names", expanding=True)), {"names": names}).all()
    for name, _ in stored:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _, definition in stored:
        connection.exec_driver_sql(definition)


def bulk_insert_counted(connection: Connection,
                        loads: Sequence[tuple[Table, pl.DataFrame, str]],
                        monthly: bool = True) -> None:
    """Bulk-insert frames whose `id` values no other writer uses, rollups included.

    The triggers would cost more than the load: SQLite's row triggers about 4x, PostgreSQL's
    statement triggers a join of every COPY to its parents per rollup. So they are paused
    inside this transaction and each rollup is added in one grouped pass over the loaded id
    range, before the same commit. With `monthly=False` the monthly rollups are left to one
    `derive_monthly` at the end of the caller's load.
    """
    dialect = connection.dialect.name
    with _insert_triggers_paused(connection, {table.name for table, _, _ in loads}):
        for table, frame, id_column in loads:
            bulk_insert(connection, table, frame)
            if frame.is_empty():
                continue
            low, high = int(frame[id_column].min()), int(frame[id_column].max())
            for rollup in ROLLUPS:
                if rollup.source == table.name and (monthly or rollup.name not in MONTHLY_NAMES):
                    connection.execute(text(rebuild_sql(
                        rollup, dialect, f"r.{id_column} BETWEEN {low} AND {high}")))


# The key that names a batch's rows once they are stored (each is unique in its table).
_BATCH_KEYS = {"contacts": ("external_id",), "nps_surveys": ("contact_id",),
               "cases": ("external_id",), "case_events": ("case_id", "stage"),
               "agent_ratings": ("external_id",)}


def insert_new_rows_counted(connection: Connection, table: Table, frame: pl.DataFrame) -> int:
    """Append the rows whose unique keys are not stored yet, rollups included; returns how
    many were inserted (see `bulk.insert_new_rows`).

    PostgreSQL's statement triggers make one grouped pass per batch already. On SQLite a row
    trigger per row costs about 4× the import, so the batch is staged in a temporary table,
    rows clashing with stored ones are dropped from it, and inside the same transaction the
    triggers are paused and each rollup gets one grouped pass over the batch's keys.
    """
    counted = any(rollup.source == table.name for rollup in ROLLUPS)
    if connection.dialect.name != "sqlite" or frame.is_empty() or not counted:
        return insert_new_rows(connection, table, frame)
    # The pause row is written first: it takes the write lock, so no other writer can store
    # one of this batch's keys between the check below and the insert.
    connection.execute(PAUSE.insert().values(paused=1))
    stage = f"new_{table.name}"
    columns = ", ".join(frame.columns)
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{stage}")
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {stage} AS SELECT {columns} FROM {table.name} WHERE 0")
    bulk_insert(connection, Table(stage, MetaData(), *[Column(name) for name in frame.columns]),
                frame)
    for key in _unique_keys(table, frame.columns):  # stored already: not this batch's rows
        match = " AND ".join(f"stored.{name} = {stage}.{name}" for name in key)
        connection.exec_driver_sql(f"DELETE FROM {stage} WHERE EXISTS "
                                   f"(SELECT 1 FROM {table.name} stored WHERE {match})")
    inserted = connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage} WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING").rowcount
    key = _BATCH_KEYS[table.name]
    only = f"({', '.join(f'r.{name}' for name in key)}) IN (SELECT {', '.join(key)} FROM {stage})"
    for rollup in ROLLUPS:
        if rollup.source == table.name:
            connection.execute(text(rebuild_sql(rollup, "sqlite", only)))
    connection.execute(PAUSE.delete())
    connection.exec_driver_sql(f"DROP TABLE temp.{stage}")
    return inserted


def _unique_keys(table: Table, columns: Sequence[str]) -> list[tuple[str, ...]]:
    """Every unique key of `table` (primary key, constraints, indexes) made of `columns`."""
    keys = [tuple(column.name for column in table.primary_key.columns)]
    keys += [tuple(column.name for column in constraint.columns)
             for constraint in table.constraints if isinstance(constraint, UniqueConstraint)]
    keys += [tuple(column.name for column in index.columns)
             for index in table.indexes if index.unique]
    keys += [(column.name,) for column in table.columns if column.unique]
    return sorted({key for key in keys if key and set(key) <= set(columns)})


def derive_monthly(connection: Connection) -> None:
    """Recompute every monthly rollup from its daily one (small), not from the raw rows.

    A bulk load that skipped the monthly passes (`bulk_insert_counted(monthly=False)`) calls
    this in its last transaction; the daily rollups are exact, so their months are too.
    """
    _hold_writers(connection)
    month = DialectSql(connection.dialect.name).month("day")
    for daily_name, monthly_name in MONTHLY.items():
        daily = next(rollup for rollup in ROLLUPS if rollup.name == daily_name)
        others = [key for key in daily.keys if key != "day"]
        sums = ", ".join(f"SUM({name})" for name in daily.measures)
        connection.execute(TABLES[monthly_name].delete())
        connection.execute(text(
            f"INSERT INTO {monthly_name} ({', '.join([*daily.keys, *daily.measures])}) "
            f"SELECT {', '.join([month, *others])}, {sums} FROM {daily_name} "
            f"GROUP BY {', '.join([month, *others])}"))


def clear(connection: Connection) -> None:
    """Empty every rollup (after the raw tables were emptied, e.g. an interrupted demo)."""
    for table in TABLES.values():
        connection.execute(table.delete())
