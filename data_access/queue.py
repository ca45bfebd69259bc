"""The queue on record: abandonment, service level, ASA, occupancy, and the backtest's history.

Same rules as `queries`: the caller owns the Connection, every figure sums rollup rows (or the
small `staffing` table, 96 × 2 rows a day), user values are bound parameters.

Definitions (documented in the README, the same as the simulator's `sim.results`):
- queued: contacts that wanted a person: answered by an operator or abandoned;
- abandonment rate = abandoned ÷ queued;
- service level X/Y = answered in under Y seconds ÷ queued (an abandon counts as a miss, however
  soon it left). Y must be an edge of `rollups.WAIT_EDGES_S`, where the bucket sums are exact;
- ASA = mean wait of answered contacts;
- occupancy = work ÷ staffed places: the handle seconds of the contacts answered in the hour ÷
  (agents on duty × contacts an agent holds at once × 3600 s). Agents are the recorded ones
  (paid, before shrinkage), so an occupancy near 1 − shrinkage is a fully busy pool. Work is
  counted in the hour the contact started.
The daily rollup (`rollup_contacts`) answers every filter; the quarter-hour one
(`rollup_contact_quarters`, per hour and for the backtest) follows channels only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Connection, Select, Table, func, select

from data_access import rollups
from data_access.queries import Filters, ranged_rows
from data_access.schema import Channel, Staffing

CONTACTS = rollups.TABLES["rollup_contacts"]
QUARTERS = rollups.TABLES["rollup_contact_quarters"]
# The simulator's pools (sim/demand.py POOL_OF) and the contacts one agent holds at once
# (sim/demand.py DIGITAL_CONCURRENCY); tests/test_queue.py checks both agree with the simulator.
POOL_OF: dict[str, str] = {"office": "office", "whatsapp": "digital", "telegram": "digital",
                           "web_cabinet": "digital", "mobile_app": "digital"}
PLACES_PER_AGENT: dict[str, int] = {"digital": 2, "office": 1}
QUARTER_S = rollups.QUARTER_MINUTES * 60
QUARTER_SUMS = ("contacts", "abandoned", "answered", "answered_wait_s", "abandoned_wait_s",
                "answered_handle_s", "escalated", "bot_finished", "self_served")
DAY_SUMS = ("contacts", "by_operator", "by_bot", "by_self_service", "escalated",
            "abandoned", "abandoned_after_bot", "operator_wait_s", "abandoned_wait_s",
            "operator_handle_s", "bot_handle_s", "escalated_bot_s")


def _read(connection: Connection, statement: Select, schema: dict[str, pl.DataType]
          ) -> pl.DataFrame:
    rows = [tuple(row) for row in connection.execute(statement).all()]
    frame = pl.DataFrame(rows, schema=list(schema), orient="row")
    return frame.with_columns(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _sums(rows, keys: list[str], measures: list[str]) -> Select:
    """GROUP BY `keys` of a subquery, each measure summed (0 where none)."""
    key_columns = [rows.c[name] for name in keys]
    return (select(*key_columns, *[func.coalesce(func.sum(rows.c[name]), 0).label(name)
                                   for name in measures])
            .group_by(*key_columns).order_by(*key_columns))


def _quarter_rows(filters: Filters, columns: list) -> Select:
    """Quarter rollup rows in the range (channel filter only), with the channel's code."""
    conditions = [QUARTERS.c.day >= filters.start, QUARTERS.c.day <= filters.end]
    if filters.channels:
        conditions.append(Channel.code.in_(filters.channels))
    return (select(Channel.code.label("channel"), *columns).select_from(QUARTERS)
            .join(Channel, Channel.id == QUARTERS.c.channel_id).where(*conditions))


def _int(names) -> dict[str, pl.DataType]:
    return {name: pl.Int64 for name in names}


def target_bucket_columns(target_s: int) -> tuple[str, ...]:
    """The answered-wait bucket columns below `target_s` (an edge of WAIT_EDGES_S)."""
    if target_s not in rollups.WAIT_EDGES_S or target_s <= 0:
        raise ValueError(f"service-level target_s {target_s!r} must be one of the wait edges "
                         f"{rollups.WAIT_EDGES_S[1:]} (where the record is exact)")
    return rollups.QUARTER_WAIT_COLUMNS[:rollups.WAIT_EDGES_S.index(target_s)]


# --- Abandonment -------------------------------------------------------------------------------

def abandonment_by_channel_hour(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel and hour of arrival: queued, abandoned and the abandonment rate.

    Columns: channel, hour, queued, abandoned, abandonment_rate (None where nobody queued).
    Follows the channel filter only (the quarter-hour rollup has no region or service type).
    """
    measures = ["answered", "abandoned"]
    rows = _quarter_rows(filters, [(QUARTERS.c.quarter // 4).label("hour"),
                                   *[QUARTERS.c[name] for name in measures]]).subquery()
    frame = _read(connection, _sums(rows, ["channel", "hour"], measures),
                  {"channel": pl.String, "hour": pl.Int32} | _int(measures))
    return with_abandonment_rate(frame.with_columns(
        queued=pl.col("answered") + pl.col("abandoned"))).select(
        "channel", "hour", "queued", "abandoned", "abandonment_rate")


def with_abandonment_rate(frame: pl.DataFrame) -> pl.DataFrame:
    """abandonment_rate = abandoned ÷ queued, None where nobody queued."""
    return frame.with_columns(abandonment_rate=pl.when(pl.col("queued") > 0)
                              .then(pl.col("abandoned") / pl.col("queued")))


def queue_by_channel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel, every filter applied: queued, answered, abandoned, waits and wait buckets.

    Columns: channel, answered, abandoned, queued, operator_wait_s, wait_0_10s … (answered
    waits, rollups.WAIT_COLUMNS), abandonment_rate, asa_s.
    """
    measures = ["by_operator", "abandoned", "operator_wait_s", *rollups.WAIT_COLUMNS]
    rows = ranged_rows(connection, CONTACTS, filters, lambda table: select(
        Channel.code.label("channel"), *[table.c[name] for name in measures])
        .select_from(table).join(Channel, Channel.id == table.c.channel_id)).subquery()
    frame = _read(connection, _sums(rows, ["channel"], measures),
                  {"channel": pl.String} | _int(measures))
    return with_abandonment_rate(frame.rename({"by_operator": "answered"}).with_columns(
        queued=pl.col("answered") + pl.col("abandoned"))).with_columns(
        asa_s=pl.when(pl.col("answered") > 0)
        .then(pl.col("operator_wait_s") / pl.col("answered")))


def abandonment_total(queue: pl.DataFrame) -> dict[str, float | int | None]:
    """The Overview tile: queued, abandoned and the rate over every channel of `queue`."""
    queued, abandoned = int(queue["queued"].sum() or 0), int(queue["abandoned"].sum() or 0)
    return {"queued": queued, "abandoned": abandoned,
            "abandonment_rate": abandoned / queued if queued else None}


def service_level_by_channel(queue: pl.DataFrame, targets: dict[str, tuple[float, int]]
                             ) -> pl.DataFrame:
    """Recorded service level per channel against its target (share, seconds).

    `queue` is `queue_by_channel`'s frame. Channels without a target are left out. Columns:
    channel, queued, service_level (None where nobody queued), sl_target, sl_target_s, asa_s,
    abandonment_rate, meets_target.
    """
    rows = []
    for row in queue.iter_rows(named=True):
        if row["channel"] not in targets:
            continue
        share, seconds = targets[row["channel"]]
        below = rollups.WAIT_COLUMNS[:len(target_bucket_columns(seconds))]
        within = sum(row[column] for column in below)
        level = within / row["queued"] if row["queued"] else None
        rows.append({"channel": row["channel"], "queued": row["queued"],
                     "within_target": within, "service_level": level, "sl_target": share,
                     "sl_target_s": seconds,
                     "asa_s": row["asa_s"], "abandonment_rate": row["abandonment_rate"],
                     "meets_target": None if level is None else level >= share})
    schema = {"channel": pl.String, "queued": pl.Int64, "within_target": pl.Int64,
              "service_level": pl.Float64,
              "sl_target": pl.Float64, "sl_target_s": pl.Int64, "asa_s": pl.Float64,
              "abandonment_rate": pl.Float64, "meets_target": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row")


def service_level_total(levels: pl.DataFrame) -> float | None:
    """All queued contacts' service level, each against its own channel's target."""
    queued = int(levels["queued"].sum() or 0)
    return int(levels["within_target"].sum() or 0) / queued if queued else None


# --- Occupancy ---------------------------------------------------------------------------------

def staffing_by_quarter(connection: Connection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Agents on duty per day, quarter and pool, as recorded (day, quarter, pool, agents)."""
    statement = (select(Staffing.day, Staffing.quarter, Staffing.pool, Staffing.agents)
                 .where(Staffing.day >= start, Staffing.day <= end)
                 .order_by(Staffing.day, Staffing.quarter, Staffing.pool))
    return _read(connection, statement, {"day": pl.Date, "quarter": pl.Int32,
                                         "pool": pl.String, "agents": pl.Int64})


def occupancy_by_pool_hour(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per pool and hour of the day over the range: work, staffed place-seconds, occupancy.

    A pool is all its channels: channel, region and service type filters do not reach it.
    Columns: pool, hour, work_s, staffed_s, mean_agents (per day of the range), occupancy
    (None where nobody was on duty).
    """
    rows = _quarter_rows(Filters(filters.start, filters.end),
                         [(QUARTERS.c.quarter // 4).label("hour"),
                          QUARTERS.c.answered_handle_s]).subquery()
    work = _read(connection, _sums(rows, ["channel", "hour"], ["answered_handle_s"]),
                 {"channel": pl.String, "hour": pl.Int32, "answered_handle_s": pl.Int64})
    staff_rows = (select(Staffing.pool, (Staffing.quarter // 4).label("hour"), Staffing.agents)
                  .where(Staffing.day >= filters.start, Staffing.day <= filters.end)).subquery()
    staffed = _read(connection, _sums(staff_rows, ["pool", "hour"], ["agents"]),
                    {"pool": pl.String, "hour": pl.Int32, "agents": pl.Int64})
    return occupancy_table(work, staffed, (filters.end - filters.start).days + 1)


def occupancy_table(work: pl.DataFrame, staffed: pl.DataFrame, days: int) -> pl.DataFrame:
    """Occupancy per pool and hour from work per channel and hour and agent-quarters."""
    pools = pl.DataFrame({"channel": list(POOL_OF), "pool": list(POOL_OF.values())})
    places = pl.DataFrame({"pool": list(PLACES_PER_AGENT),
                           "places": list(PLACES_PER_AGENT.values())})
    per_pool = (work.join(pools, on="channel").group_by("pool", "hour")
                .agg(work_s=pl.col("answered_handle_s").sum()))
    return (staffed.join(places, on="pool", how="left")
            .with_columns(staffed_s=pl.col("agents") * pl.col("places") * QUARTER_S,
                          mean_agents=pl.col("agents") / (4 * max(days, 1)))
            .join(per_pool, on=["pool", "hour"], how="full", coalesce=True)
            .with_columns(pl.col("work_s", "staffed_s").fill_null(0))
            .with_columns(occupancy=pl.when(pl.col("staffed_s") > 0)
                          .then(pl.col("work_s") / pl.col("staffed_s")))
            .select("pool", "hour", pl.col("work_s").cast(pl.Float64),
                    pl.col("staffed_s").cast(pl.Float64), "mean_agents", "occupancy")
            .sort("pool", "hour"))


# --- History for the simulator -----------------------------------------------------------------

def queue_history(connection: Connection, start: dt.date, end: dt.date,
                  quarters: bool = True) -> pl.DataFrame:
    """Per day, channel and quarter (or hour, without `quarters`): the queue's record.

    Columns: day, channel, quarter|hour, QUARTER_SUMS, and the answered-wait buckets
    (rollups.QUARTER_WAIT_COLUMNS). The backtest's and the patience estimate's input.
    """
    measures = [*QUARTER_SUMS, *rollups.QUARTER_WAIT_COLUMNS]
    slot = (QUARTERS.c.quarter if quarters else QUARTERS.c.quarter // 4).label(
        "quarter" if quarters else "hour")
    rows = _quarter_rows(Filters(start, end), [QUARTERS.c.day, slot,
                                               *[QUARTERS.c[name] for name in measures]]
                         ).subquery()
    keys = ["day", "channel", slot.name]
    return _read(connection, _sums(rows, keys, measures),
                 {"day": pl.Date, "channel": pl.String, slot.name: pl.Int32} | _int(measures))


def queue_sums_by_channel(connection: Connection, start: dt.date, end: dt.date
                          ) -> pl.DataFrame:
    """Per channel over the range: answered, abandoned, their wait sums and handle sum.

    What the patience estimate needs: abandons and the seconds waited by all who queued.
    """
    measures = ["answered", "abandoned", "answered_wait_s", "abandoned_wait_s",
                "answered_handle_s"]
    rows = _quarter_rows(Filters(start, end), [QUARTERS.c[name] for name in measures]
                         ).subquery()
    return _read(connection, _sums(rows, ["channel"], measures),
                 {"channel": pl.String} | _int(measures))


def handle_sums_by_hour(connection: Connection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per channel and hour: answered contacts and their handle seconds (for AHT by hour)."""
    measures = ["answered", "answered_handle_s"]
    rows = _quarter_rows(Filters(start, end), [(QUARTERS.c.quarter // 4).label("hour"),
                                               *[QUARTERS.c[name] for name in measures]]
                         ).subquery()
    return _read(connection, _sums(rows, ["channel", "hour"], measures),
                 {"channel": pl.String, "hour": pl.Int32} | _int(measures))


def automation_by_day(connection: Connection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per day and channel: who served, the bot → human path and the abandons (DAY_SUMS)."""
    measures = list(DAY_SUMS)
    rows = (select(CONTACTS.c.day, Channel.code.label("channel"),
                   *[CONTACTS.c[name] for name in measures])
            .select_from(CONTACTS).join(Channel, Channel.id == CONTACTS.c.channel_id)
            .where(CONTACTS.c.day >= start, CONTACTS.c.day <= end)).subquery()
    return _read(connection, _sums(rows, ["day", "channel"], measures),
                 {"day": pl.Date, "channel": pl.String} | _int(measures))


def _table_days(table: Table, connection: Connection) -> tuple[dt.date | None, dt.date | None]:
    first, last = connection.execute(select(func.min(table.c.day), func.max(table.c.day))).one()
    return tuple(dt.date.fromisoformat(v) if isinstance(v, str) else v for v in (first, last))


def staffing_days(connection: Connection) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with staffing on record (None, None without any)."""
    return _table_days(Staffing.__table__, connection)
