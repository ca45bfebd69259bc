"""Bulk loading of Polars frames: executemany on SQLite, COPY on PostgreSQL.

Row-by-row ORM inserts would take minutes for the 2.5M demo contacts; these paths take seconds.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection, Table, text

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.6f"


def _sqlite_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """SQLAlchemy stores SQLite datetimes as ISO text; match its format so ranges compare."""
    return frame.with_columns(
        [
            pl.col(name).dt.strftime(_SQLITE_DATETIME)
            for name, dtype in frame.schema.items()
            if dtype == pl.Datetime or isinstance(dtype, pl.Datetime)
        ]
        + [
            pl.col(name).dt.strftime("%Y-%m-%d")
            for name, dtype in frame.schema.items()
            if dtype == pl.Date
        ]
    )


def bulk_insert(connection: Connection, table: Table, frame: pl.DataFrame) -> int:
    """Append `frame` (columns named as in `table`) inside the caller's transaction."""
    if frame.is_empty():
        return 0
    if connection.dialect.name == "postgresql":
        _copy(connection, table.name, frame)
    else:
        connection.exec_driver_sql(_sqlite_insert(table, frame), _sqlite_ready(frame).rows())
    return frame.height


def insert_new_rows(connection: Connection, table: Table, frame: pl.DataFrame) -> int:
    """Append the rows whose unique keys are not stored yet; returns how many were inserted.

    A conflict on any unique key skips the row instead of failing the batch, so an import that is
    re-run (after a crash, say) stores every row once, and the count tells new rows from skipped.
    PostgreSQL COPYs into a temporary table first, since COPY itself cannot skip conflicts.
    """
    if frame.is_empty():
        return 0
    columns = ", ".join(frame.columns)
    if connection.dialect.name == "postgresql":
        stage = f"new_{table.name}"
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {stage} AS SELECT {columns} FROM {table.name} WITH NO DATA")
        _copy(connection, stage, frame)
        result = connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage} "
            "ON CONFLICT DO NOTHING")
        connection.exec_driver_sql(f"DROP TABLE {stage}")
        return result.rowcount
    cursor = connection.connection.driver_connection.cursor()
    # sqlite3 sums the changes of an executemany: conflicting rows add nothing. Rows are
    # streamed from the frame rather than listed first.
    cursor.executemany(_sqlite_insert(table, frame) + " ON CONFLICT DO NOTHING",
                       _sqlite_ready(frame).iter_rows())
    inserted = cursor.rowcount
    cursor.close()
    return inserted


def _sqlite_insert(table: Table, frame: pl.DataFrame) -> str:
    placeholders = ", ".join("?" for _ in frame.columns)
    return f"INSERT INTO {table.name} ({', '.join(frame.columns)}) VALUES ({placeholders})"


def _copy(connection: Connection, table_name: str, frame: pl.DataFrame) -> None:
    """COPY a frame into a PostgreSQL table inside the caller's transaction."""
    cursor = connection.connection.driver_connection.cursor()
    csv = frame.write_csv(include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f",
                          date_format="%Y-%m-%d", null_value="")
    with cursor.copy(f"COPY {table_name} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)"
                     ) as copy:
        copy.write(csv)
    cursor.close()


def advance_sequences(connection: Connection, tables: list[Table]) -> None:
    """After explicit-id COPY, move PostgreSQL's identity sequences past the loaded ids."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
