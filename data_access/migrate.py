"""Schema migrations of the raw tables (Alembic), and where they run.

The revisions live in `data_access/migrations/versions/`; there is no alembic.ini: the script
location is set here. Only the raw tables are migrated. The derived rollup tables keep their
own definition hash and are rebuilt from the raw rows when it changes (`rollups.install`),
which runs right after the raw tables' upgrade, in the same transaction.

- `python -m data_access migrate` upgrades a database to the newest revision (head);
- `init`, `demo` and the other writers create a new database at head (`ensure_schema`);
- a database made before migrations existed (no `alembic_version` table) is recognised by its
  columns: stamped with the baseline revision, then upgraded;
- the app upgrades on start (`ensure_current`); a role that may not (a read-only dashboard
  role) gets `SchemaOutdated`, which names the command above.

On SQLite the upgrade runs in one explicit `BEGIN IMMEDIATE` transaction with foreign keys
off (batch mode copies a table and drops the old one: with foreign keys on, that drop would
delete the surveys that cascade from it); `PRAGMA foreign_key_check` must come back empty
before the commit. PostgreSQL's DDL is transactional anyway; an advisory lock keeps two
starting processes from upgrading at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from data_access import rollups
from data_access.config import mask_url
from data_access.engine import first_line
from data_access.schema import Base

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
MIGRATE_COMMAND = "python -m data_access migrate"
_LOCK_KEY = 7202611251  # pg_advisory_xact_lock: one upgrade at a time (rollups use ...250)


class SchemaOutdated(RuntimeError):
    """The raw tables are older than this version and this role cannot upgrade them."""


class MigrationFailed(RuntimeError):
    """An upgrade that would leave the database inconsistent; it was rolled back."""


def raw_tables() -> set[str]:
    """The tables Alembic owns: every table of the ORM except the derived rollups."""
    return {table.name for table in rollups.raw_tables()}


def raw_metadata() -> MetaData:
    """The raw tables at head, what the newest revision must produce (autogenerate's target)."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        if table.name in raw_tables():
            table.to_metadata(metadata)
    return metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate compares the raw tables only: rollups and alembic's own table are not ours."""
    if type_ == "table":
        return name in raw_tables()
    table = getattr(obj, "table", None)
    return table is None or table.name in raw_tables()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    return script_directory().get_current_head()


def stamped_revision(connection: Connection) -> str | None:
    """The revision in alembic_version (None without the table); reads only."""
    return MigrationContext.configure(connection).get_current_revision()


def recognised_revision(connection: Connection) -> str | None:
    """The revision an unstamped database's raw tables match, by their columns; None: empty.

    Databases made before migrations existed are the baseline. One made by `create_all` from
    this code (tests, scripts) already has every table (`staffing` since 0004): it is at head;
    one by the code of 0002 or 0003 without `staffing` is taken as 0002 (0003 changes only
    CHECKs, which upgrading again leaves the same).
    """
    found = inspect(connection)
    if not found.has_table("contacts"):
        return None
    if found.has_table("staffing"):
        return head()
    columns = {column["name"] for column in found.get_columns("contacts")}
    return "0002_contacts_bot_s" if "bot_s" in columns else BASELINE


def schema_revision(connection: Connection) -> str | None:
    """Stamped, else recognised; None for a database without ServicePulse tables."""
    return stamped_revision(connection) or recognised_revision(connection)


def is_current(connection: Connection) -> bool:
    return schema_revision(connection) == head()


def outdated_message(connection: Connection) -> str | None:
    """One line for a database older than this code (None when it is at head or empty)."""
    revision = schema_revision(connection)
    if revision is None or revision == head():
        return None
    url = mask_url(connection.engine.url.render_as_string(hide_password=False))
    return (f"the schema of {url} is at revision {revision}, this version needs {head()}; "
            f"run `{MIGRATE_COMMAND}` as the writing role")


@dataclass(frozen=True)
class MigrationReport:
    before: str | None  # None: an empty database, created at head
    after: str
    recognised: bool  # the database had no alembic_version and was stamped by its columns
    rollups_rebuilt: bool
    seconds: float

    def line(self) -> str:
        if self.before is None:
            what = f"created the schema at {self.after}"
        elif self.before == self.after:
            what = f"already at {self.after}"
        else:
            what = f"upgraded {self.before} -> {self.after}"
        if self.recognised:
            what += f" (no alembic_version table: recognised as {self.before} and stamped)"
        rebuilt = "; rollups rebuilt" if self.rollups_rebuilt else ""
        return f"Schema: {what}{rebuilt} in {self.seconds:.1f} s."


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One real transaction for DDL and data, on a connection of its own.

    SQLite: Python's sqlite3 leaves DDL outside its implicit transactions, so a separate
    engine takes over BEGIN (IMMEDIATE: writers queue behind it) and turns foreign keys off
    for the table copies; the keys are checked before the commit.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        with engine.begin() as connection:
            yield connection
        return
    own = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(own, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # autocommit: BEGIN is ours
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()

    @event.listens_for(own, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with own.begin() as connection:
            yield connection
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise MigrationFailed(
                    f"the upgrade would leave {len(broken)} rows with a broken foreign key "
                    f"(first: {tuple(broken[0])}); rolled back")
    finally:
        own.dispose()


def migrate(engine: Engine) -> MigrationReport:
    """Bring the raw tables to head and the rollups to this code's definition, all or nothing.

    An empty database gets the newest tables and is stamped head; an unstamped one is
    stamped with the revision its columns match first.
    """
    started = time.perf_counter()
    with _transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
        config = alembic_config(connection)
        before = stamped_revision(connection)
        recognised = False
        if before is None:
            before = recognised_revision(connection)
            if before is None:  # empty: the newest tables at once
                Base.metadata.create_all(connection, tables=[
                    table for table in Base.metadata.sorted_tables
                    if table.name in raw_tables()])
                command.stamp(config, "head")
            else:
                recognised = True
                command.stamp(config, before)
        command.upgrade(config, "head")
        after = stamped_revision(connection)
        rebuilt = rollups.install(connection)
    return MigrationReport(before, after, recognised, rebuilt, time.perf_counter() - started)


def ensure_schema(engine: Engine) -> MigrationReport | None:
    """What every writer calls first: tables at head, rollups current (no work when they are)."""
    with engine.connect() as connection:
        if is_current(connection) and stamped_revision(connection) is not None and (
                rollups.installed_version(connection)
                == rollups.definition_version(connection.dialect.name)):
            return None
    return migrate(engine)


def ensure_current(engine: Engine) -> MigrationReport | None:
    """On app start: upgrade an older database (None when nothing was due).

    Raises SchemaOutdated when this role may not change the schema (a read-only role).
    """
    with engine.connect() as connection:
        if is_current(connection):
            return None
    try:
        return migrate(engine)
    except (ProgrammingError, OperationalError) as error:  # permission denied, read-only file
        with engine.connect() as connection:
            message = outdated_message(connection)
        raise SchemaOutdated(
            f"{message or 'the schema is older than this version'} "
            f"(this role cannot upgrade it: {first_line(error)})") from error
