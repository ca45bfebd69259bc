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
    columns = list(frame.columns)
    dialect = connection.dialect.name
    if dialect == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        column_list = ", ".join(columns)
        csv = frame.write_csv(include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f",
                              date_format="%Y-%m-%d", null_value="")
        with cursor.copy(f"COPY {table.name} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(csv)
        cursor.close()
    else:
        placeholders = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"
        connection.exec_driver_sql(statement, _sqlite_ready(frame).rows())
    return frame.height


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
