"""Arrivals per day, channel and quarter hour: the history the demand forecast learns from.

Arrivals are everyone who came, served or not: the rollup's served `contacts` plus its
`abandoned` when the database has that column (a database not yet migrated to it counts the
served only; `counts_abandoned` tells which). Read from
`rollup_contact_quarters`, so the cost follows the days asked for, not the raw rows.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Connection, column, inspect, literal, select

from data_access import rollups
from data_access.schema import Channel

QUARTERS_TABLE = "rollup_contact_quarters"
HISTORY_SCHEMA = {"day": pl.Date, "channel": pl.String, "quarter": pl.Int16,
                  "contacts": pl.Int64, "abandoned": pl.Int64, "arrivals": pl.Int64}


def counts_abandoned(connection: Connection) -> bool:
    """Whether this database's quarter rollup has the `abandoned` column (Alembic 0003+)."""
    columns = inspect(connection).get_columns(QUARTERS_TABLE)
    return any(column["name"] == "abandoned" for column in columns)


def arrivals_by_quarter(connection: Connection, start: dt.date, end: dt.date,
                        channels: tuple[str, ...] = ()) -> pl.DataFrame:
    """Arrivals per day, channel code and quarter (0..95) from start to end inclusive.

    Sparse: a quarter with no arrival has no row (the forecast fills zeros on its own grid).
    `channels` limits to those codes (empty: all). Columns: HISTORY_SCHEMA.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    table = rollups.TABLES[QUARTERS_TABLE]
    abandoned = (table.c.get("abandoned", column("abandoned"))
                 if counts_abandoned(connection) else literal(0))
    statement = (
        select(table.c.day, Channel.code.label("channel"), table.c.quarter,
               table.c.contacts, abandoned.label("abandoned"))
        .select_from(table).join(Channel, Channel.id == table.c.channel_id)
        .where(table.c.day >= start, table.c.day <= end)
        .order_by(table.c.day, Channel.code, table.c.quarter)
    )
    if channels:
        statement = statement.where(Channel.code.in_(channels))
    rows = connection.execute(statement).all()  # `day` is typed Date: dates on both backends
    frame = pl.DataFrame([tuple(row) for row in rows], orient="row",
                         schema={"day": pl.Date, "channel": pl.String, "quarter": pl.Int16,
                                 "contacts": pl.Int64, "abandoned": pl.Int64})
    return frame.with_columns(arrivals=pl.col("contacts") + pl.col("abandoned")
                              ).select(list(HISTORY_SCHEMA))
