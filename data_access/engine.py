"""Engine construction and the one-line error people see when the database is not there."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from data_access.config import mask_url, resolve_database_url, scrub


class DatabaseUnavailable(RuntimeError):
    """Raised with a single human-readable line; the URL in it is always masked."""


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str | None = None) -> Engine:
    """Build an engine; SQLite gets WAL and foreign keys on every connection."""
    url = url or resolve_database_url()
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _enable_sqlite_pragmas)
            return engine
        return create_engine(
            parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5}
        )
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as error:
        raise DatabaseUnavailable(
            f"Invalid database URL {mask_url(url)}: {scrub(first_line(error), url)}"
        ) from error
    except OSError as error:  # e.g. the SQLite folder cannot be created
        raise DatabaseUnavailable(
            f"Cannot open database {mask_url(url)}: {scrub(first_line(error), url)}"
        ) from error


def check_connection(engine: Engine) -> None:
    """Fail fast with a readable message instead of a driver traceback."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        url = engine.url.render_as_string(hide_password=False)
        raise DatabaseUnavailable(
            f"Cannot reach database {mask_url(url)}: "
            f"{scrub(first_line(error), url)}"
        ) from error


def connect_checked(url: str | None = None) -> Engine:
    engine = create_db_engine(url)
    check_connection(engine)
    return engine


def require_schema(engine: Engine) -> None:
    """Commands need the tables at this version's revision; say so instead of failing on the
    first query (an older database names `python -m data_access migrate`)."""
    from data_access.migrate import outdated_message  # it imports the schema and rollups

    if not inspect(engine).has_table("contacts"):
        raise DatabaseUnavailable(
            f"Database {mask_url(engine.url.render_as_string(False))} has no ServicePulse "
            "tables; run `python -m data_access demo` or `python -m data_access init` first")
    with engine.connect() as connection:
        outdated = outdated_message(connection)
    if outdated:
        raise DatabaseUnavailable(outdated[0].upper() + outdated[1:])


def first_line(error: BaseException) -> str:
    """The first line of an error (of the driver's own, for a SQLAlchemy error): the part
    that says what is wrong; the error's type name when it has no text."""
    error = getattr(error, "orig", None) or error
    message = str(error).strip().splitlines()
    return message[0] if message else type(error).__name__
