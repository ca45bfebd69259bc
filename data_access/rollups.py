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
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import ProgrammingError

from data_access.bulk import bulk_insert, insert_new_rows
from data_access.schema import ABANDONED, CASE_STAGES, Base

# Operator-served waits, seconds: [edge, next edge); the last bucket is 3600 s and over.
WAIT_EDGES_S: tuple[int, ...] = (0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600,
                                 900, 1200, 1800, 2700, 3600)
# Resolution time of answered cases, hours from received to answered; the last is 720 h+.
RESOLUTION_EDGES_H: tuple[int, ...] = (0, 1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 168, 240, 336,
                                       504, 720)
# "NPS by wait" buckets: (label, lower bound s inclusive, upper bound s exclusive).
WAIT_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 s", 0, 30), ("30-60 s", 30, 60), ("1-2 min", 60, 120), ("2-5 min", 120, 300),
    ("5-10 min", 300, 600), ("10-20 min", 600, 1200), ("20+ min", 1200, None),
)
QUARTER_MINUTES = 15  # the simulator's finest interval
NO_REASON_KEY = ""  # a detractor who gave no reason (keys cannot be NULL)
WAIT_MEASURES = ("sent", "responses", "promoters", "detractors", "wait_s")  # per NPS wait bucket


def bucket_columns(prefix: str, edges: tuple[int, ...], unit: str) -> tuple[str, ...]:
    """Column names that say their bucket: wait_0_10s … wait_3600s_plus."""
    names = [f"{prefix}_{low}_{high}{unit}" for low, high in itertools.pairwise(edges)]
    return (*names, f"{prefix}_{edges[-1]}{unit}_plus")


WAIT_COLUMNS = bucket_columns("wait", WAIT_EDGES_S, "s")
RESOLUTION_COLUMNS = bucket_columns("resolved_in", RESOLUTION_EDGES_H, "h")
HOUR_COLUMNS = tuple(f"hour_{hour:02d}" for hour in range(24))
SCORE_COLUMNS = tuple(f"score_{score}" for score in range(1, 6))
STAGE_COLUMNS = tuple(f"reached_{stage}" for stage in CASE_STAGES)


def wait_bucket_column(measure: str, bucket: int) -> str:
    """Operator-served contacts' survey counts per NPS-by-wait bucket, e.g. op_sent_w0."""
    return f"op_{measure}_w{bucket}"


# --- SQL that differs between the two databases ------------------------------------------------

@dataclass(frozen=True)
class _Sql:
    dialect: str

    def day(self, column: str) -> str:
        return f"date({column})" if self.dialect == "sqlite" else f"CAST({column} AS date)"

    def month(self, column: str) -> str:
        if self.dialect == "sqlite":
            return f"date({column}, 'start of month')"
        return f"CAST(date_trunc('month', {column}) AS date)"

    def minute_of_day(self, column: str) -> str:
        if self.dialect == "sqlite":
            return (f"(CAST(strftime('%H', {column}) AS INTEGER) * 60"
                    f" + CAST(strftime('%M', {column}) AS INTEGER))")
        return f"CAST(EXTRACT(hour FROM {column}) * 60 + EXTRACT(minute FROM {column}) AS integer)"

    def hours_between(self, start: str, end: str) -> str:
        if self.dialect == "sqlite":  # julianday is a float: round to whole milliseconds
            return f"(round((julianday({end}) - julianday({start})) * 86400000.0) / 3600000.0)"
        return f"(EXTRACT(epoch FROM ({end} - {start})) / 3600.0)"


def _bucket_of(value: str, edges: Iterable[float]) -> str:
    """Index of the [edge, next edge) bucket that `value` falls in; NULL stays NULL."""
    uppers = list(edges)[1:]
    arms = " ".join(f"WHEN {value} < {upper} THEN {index}" for index, upper in enumerate(uppers))
    return f"CASE WHEN {value} IS NULL THEN NULL {arms} ELSE {len(uppers)} END"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


# --- The rollups -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rollup:
    """One rollup table: which raw rows it counts, its keys and its summed measures.

    `derived` are per-row values over the source row `{r}` and its parent row `{p}`; keys and
    measures refer to them as `d.<name>`. `parent` names the table whose row gives the keys,
    joined on `parent_id` (a column of the source).
    """

    name: str
    source: str
    key_types: dict[str, object]
    derived: Callable[[_Sql], dict[str, str]]
    measures: dict[str, str]
    parent: str | None = None
    parent_id: str | None = None
    condition: str = "1 = 1"
    extra_indexes: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.key_types)


_DIMS = {"channel_id": SmallInteger, "region_id": SmallInteger, "service_type_id": SmallInteger}
_CASE_KEYS = {"day": Date, "kind": String(16), "channel_id": SmallInteger,
              "region_id": SmallInteger, "category": String(128)}
_OPERATOR = "d.served_by = 'operator'"
_ESCALATED = f"{_OPERATOR} AND d.bot_s IS NOT NULL"
# "Served" counts leave the abandoned contacts out: they are counted on their own.
_SERVED = f"d.served_by <> '{ABANDONED}'"
_ABANDONED = f"d.served_by = '{ABANDONED}'"

# Abandoned contacts by the seconds they waited before giving up (same edges as served waits).
ABANDONED_WAIT_COLUMNS = bucket_columns("abandoned_wait", WAIT_EDGES_S, "s")
ABANDONED_HOUR_COLUMNS = tuple(f"abandoned_h{hour:02d}" for hour in range(24))
# Operator-answered contacts per quarter hour by wait: service level within any edge is exact.
QUARTER_WAIT_COLUMNS = bucket_columns("answered_wait", WAIT_EDGES_S, "s")


def _contact_dims(row: str) -> dict[str, str]:
    return {"channel_id": f"{row}.channel_id", "region_id": f"{row}.region_id",
            "service_type_id": f"{row}.service_type_id"}


def _contact_values() -> dict[str, str]:
    """What the contact measures test, per raw contact row."""
    return {"served_by": "{r}.served_by", "wait_s": "{r}.wait_s", "handle_s": "{r}.handle_s",
            "bot_s": "{r}.bot_s", "wait_bucket": _bucket_of("{r}.wait_s", WAIT_EDGES_S)}


def _contacts_derived(sql: _Sql) -> dict[str, str]:
    return {"day": sql.day("{r}.started_at"), **_contact_dims("{r}"), **_contact_values(),
            "hour": f"({sql.minute_of_day('{r}.started_at')} / 60)"}


def _sum_when(condition: str, value: str) -> str:
    return f"CASE WHEN {condition} THEN {value} ELSE 0 END"


def _abandoned_measures() -> dict[str, str]:
    return {
        "abandoned": _flag(_ABANDONED),
        "abandoned_wait_s": _sum_when(_ABANDONED, "d.wait_s"),
        # Gave up waiting for a person after the bot had started the contact.
        "abandoned_after_bot": _flag(f"{_ABANDONED} AND d.bot_s IS NOT NULL"),
        **{column: _flag(f"{_ABANDONED} AND d.wait_bucket = {index}")
           for index, column in enumerate(ABANDONED_WAIT_COLUMNS)},
        **{column: _flag(f"{_ABANDONED} AND d.hour = {hour}")
           for hour, column in enumerate(ABANDONED_HOUR_COLUMNS)},
    }


CONTACTS = Rollup(
    name="rollup_contacts", source="contacts",
    key_types={"day": Date, **_DIMS},
    derived=_contacts_derived,
    measures={
        "contacts": _flag(_SERVED),
        "by_operator": _flag(_OPERATOR),
        "by_bot": _flag("d.served_by = 'bot'"),
        "by_self_service": _flag("d.served_by = 'self_service'"),
        "operator_wait_s": _sum_when(_OPERATOR, "d.wait_s"),
        "operator_handle_s": _sum_when(_OPERATOR, "d.handle_s"),
        "automated_handle_s": _sum_when("d.served_by IN ('bot', 'self_service')", "d.handle_s"),
        "bot_handle_s": _sum_when("d.served_by = 'bot'", "d.handle_s"),
        # Escalated: started in the bot, finished by a person (bot_s is their bot time).
        "escalated": _flag(_ESCALATED),
        "escalated_bot_s": _sum_when(_ESCALATED, "d.bot_s"),
        **{column: _flag(f"{_OPERATOR} AND d.wait_bucket = {index}")
           for index, column in enumerate(WAIT_COLUMNS)},
        **{column: _flag(f"{_SERVED} AND d.hour = {hour}")
           for hour, column in enumerate(HOUR_COLUMNS)},
        **_abandoned_measures(),
    },
)

# Per quarter hour and channel: what the queue measures (service level, ASA, abandonment,
# occupancy) and the backtest read, with `answered` = operator-served.
CONTACT_QUARTERS = Rollup(
    name="rollup_contact_quarters", source="contacts",
    key_types={"day": Date, "channel_id": SmallInteger, "quarter": SmallInteger},
    derived=lambda sql: {"day": sql.day("{r}.started_at"), "channel_id": "{r}.channel_id",
                         "quarter": f"({sql.minute_of_day('{r}.started_at')} / "
                                    f"{QUARTER_MINUTES})", **_contact_values()},
    measures={
        "contacts": _flag(_SERVED),
        "abandoned": _flag(_ABANDONED),
        "answered": _flag(_OPERATOR),
        "answered_wait_s": _sum_when(_OPERATOR, "d.wait_s"),
        "abandoned_wait_s": _sum_when(_ABANDONED, "d.wait_s"),
        "answered_handle_s": _sum_when(_OPERATOR, "d.handle_s"),
        "escalated": _flag(_ESCALATED),
        "bot_finished": _flag("d.served_by = 'bot'"),
        "self_served": _flag("d.served_by = 'self_service'"),
        **{column: _flag(f"{_OPERATOR} AND d.wait_bucket = {index}")
           for index, column in enumerate(QUARTER_WAIT_COLUMNS)},
    },
)


def _surveys_derived(sql: _Sql) -> dict[str, str]:
    nps_edges = [low for _, low, _ in WAIT_BUCKETS]
    return {"day": sql.day("{p}.started_at"), **_contact_dims("{p}"),
            "served_by": "{p}.served_by", "wait_s": "{p}.wait_s",
            "nps_wait_bucket": _bucket_of("{p}.wait_s", nps_edges),
            "answered": _flag("{r}.score IS NOT NULL"), "score": "{r}.score"}


_PROMOTER, _DETRACTOR = "d.score >= 9", "d.score <= 6"


def _by_wait_bucket(index: int) -> dict[str, str]:
    here = f"{_OPERATOR} AND d.nps_wait_bucket = {index}"
    return {
        wait_bucket_column("sent", index): _flag(here),
        wait_bucket_column("responses", index): _flag(f"{here} AND d.answered = 1"),
        wait_bucket_column("promoters", index): _flag(f"{here} AND {_PROMOTER}"),
        wait_bucket_column("detractors", index): _flag(f"{here} AND {_DETRACTOR}"),
        wait_bucket_column("wait_s", index): f"CASE WHEN {here} THEN d.wait_s ELSE 0 END",
    }


SURVEYS = Rollup(
    name="rollup_surveys", source="nps_surveys", parent="contacts", parent_id="contact_id",
    key_types={"day": Date, **_DIMS},
    derived=_surveys_derived,
    measures={
        "surveys_sent": "1",
        "responses": "d.answered",
        "promoters": _flag(_PROMOTER),
        "passives": _flag("d.score BETWEEN 7 AND 8"),
        "detractors": _flag(_DETRACTOR),
        **{column: expression for index in range(len(WAIT_BUCKETS))
           for column, expression in _by_wait_bucket(index).items()},
    },
)

DETRACTOR_REASONS = Rollup(
    name="rollup_detractor_reasons", source="nps_surveys", parent="contacts",
    parent_id="contact_id",
    key_types={"day": Date, **_DIMS, "reason": String(64)},
    derived=lambda sql: {"day": sql.day("{p}.started_at"), **_contact_dims("{p}"),
                         "reason": f"COALESCE({{r}}.reason, '{NO_REASON_KEY}')"},
    measures={"detractors": "1"},
    condition="{r}.score <= 6",
)


def _cases_derived(sql: _Sql) -> dict[str, str]:
    hours = sql.hours_between("{r}.received_at", "{r}.resolved_at")
    return {"day": sql.day("{r}.received_at"), "kind": "{r}.kind",
            "channel_id": "{r}.channel_id", "region_id": "{r}.region_id",
            "category": "{r}.category", "status": "{r}.status",
            "resolution_bucket": _bucket_of(hours, RESOLUTION_EDGES_H)}


CASES = Rollup(
    name="rollup_cases", source="cases", key_types=dict(_CASE_KEYS),
    derived=_cases_derived,
    measures={
        "received": "1",
        "answered": _flag("d.status = 'answered'"),
        "withdrawn": _flag("d.status = 'withdrawn'"),
        **{column: _flag(f"d.status = 'answered' AND d.resolution_bucket = {index}")
           for index, column in enumerate(RESOLUTION_COLUMNS)},
    },
)

CASE_CLOSURES = Rollup(
    name="rollup_case_closures", source="cases", key_types=dict(_CASE_KEYS),
    derived=lambda sql: {"day": sql.day("{r}.resolved_at"), "kind": "{r}.kind",
                         "channel_id": "{r}.channel_id", "region_id": "{r}.region_id",
                         "category": "{r}.category"},
    measures={"closed": "1"},
    condition="{r}.resolved_at IS NOT NULL",
)

# All days at once: the backlog open at a range's start is the totals less what came and
# went from that day on, so it reads the days since the start, not the whole history.
CASE_TOTALS = Rollup(
    name="rollup_case_totals", source="cases",
    key_types={name: type_ for name, type_ in _CASE_KEYS.items() if name != "day"},
    derived=lambda sql: {"kind": "{r}.kind", "channel_id": "{r}.channel_id",
                         "region_id": "{r}.region_id", "category": "{r}.category",
                         "resolved": _flag("{r}.resolved_at IS NOT NULL")},
    measures={"received": "1", "closed": "d.resolved"},
)

CASE_STAGES_REACHED = Rollup(
    name="rollup_case_stages", source="case_events", parent="cases", parent_id="case_id",
    key_types=dict(_CASE_KEYS),
    derived=lambda sql: {"day": sql.day("{p}.received_at"), "kind": "{p}.kind",
                         "channel_id": "{p}.channel_id", "region_id": "{p}.region_id",
                         "category": "{p}.category", "stage": "{r}.stage"},
    measures={column: _flag(f"d.stage = '{stage}'")
              for stage, column in zip(CASE_STAGES, STAGE_COLUMNS, strict=True)},
)

RATINGS = Rollup(
    name="rollup_ratings", source="agent_ratings", parent="contacts", parent_id="contact_id",
    key_types={"day": Date, "operator_id": Integer, **_DIMS},
    derived=lambda sql: {"day": sql.day("{r}.rated_at"), "operator_id": "{r}.operator_id",
                         **_contact_dims("{p}"), "score": "{r}.score"},
    measures={"ratings": "1", "score_sum": "d.score",
              **{column: _flag(f"d.score = {score}")
                 for score, column in enumerate(SCORE_COLUMNS, start=1)}},
    extra_indexes=(("operator_id", "day"),),
)

# The same without the rated contact's segment: what the operator pages read when no
# channel, region or service type filter is set (about half the rows).
OPERATOR_DAYS = Rollup(
    name="rollup_operator_days", source="agent_ratings",
    key_types={"day": Date, "operator_id": Integer},
    derived=lambda sql: {"day": sql.day("{r}.rated_at"), "operator_id": "{r}.operator_id",
                         "score": "{r}.score"},
    measures=dict(RATINGS.measures),
    extra_indexes=(("operator_id", "day"),),
)



def by_month(rollup: Rollup) -> Rollup:
    """The same rollup per month (`day` is the month's first day).

    A year is then 12 rows per segment, not one per active day (up to 365): queries take
    the months a range covers whole from here and only the days at its edges from the daily
    table (see `queries.whole_month_rows`).
    """
    def derived(sql: _Sql) -> dict[str, str]:
        values = rollup.derived(sql)
        return values | {"day": sql.month(values["day"])}

    return replace(rollup, name=f"{rollup.name}_by_month", derived=derived, extra_indexes=())


CONTACTS_BY_MONTH = by_month(CONTACTS)
SURVEYS_BY_MONTH = by_month(SURVEYS)
OPERATOR_MONTHS = by_month(OPERATOR_DAYS)
CASES_BY_MONTH = by_month(CASES)
CLOSURES_BY_MONTH = by_month(CASE_CLOSURES)
STAGES_BY_MONTH = by_month(CASE_STAGES_REACHED)
REASONS_BY_MONTH = by_month(DETRACTOR_REASONS)

ROLLUPS: tuple[Rollup, ...] = (CONTACTS, CONTACT_QUARTERS, SURVEYS, DETRACTOR_REASONS, CASES,
                               CASE_CLOSURES, CASE_TOTALS, CASE_STAGES_REACHED, RATINGS,
                               OPERATOR_DAYS, OPERATOR_MONTHS, CASES_BY_MONTH,
                               CLOSURES_BY_MONTH, STAGES_BY_MONTH, REASONS_BY_MONTH,
                               CONTACTS_BY_MONTH, SURVEYS_BY_MONTH)
# Daily rollup name -> its monthly sibling's name.
MONTHLY: dict[str, str] = {daily.name: monthly.name for daily, monthly in (
    (OPERATOR_DAYS, OPERATOR_MONTHS), (CASES, CASES_BY_MONTH), (CASE_CLOSURES, CLOSURES_BY_MONTH),
    (CASE_STAGES_REACHED, STAGES_BY_MONTH), (DETRACTOR_REASONS, REASONS_BY_MONTH),
    (CONTACTS, CONTACTS_BY_MONTH), (SURVEYS, SURVEYS_BY_MONTH))}
MONTHLY_NAMES = frozenset(MONTHLY.values())


def _table(rollup: Rollup) -> Table:
    columns = [Column(name, type_, primary_key=True) for name, type_ in rollup.key_types.items()]
    columns += [Column(name, BigInteger, nullable=False) for name in rollup.measures]
    indexes = [Index(f"ix_{rollup.name}_{'_'.join(names)}", *names)
               for names in rollup.extra_indexes]
    return Table(rollup.name, Base.metadata, *columns, *indexes)


TABLES: dict[str, Table] = {rollup.name: _table(rollup) for rollup in ROLLUPS}
STATE = Table("rollup_state", Base.metadata, Column("version", String(64), primary_key=True))
# A row here (never committed: see `insert_new_rows_counted`) pauses the SQLite row triggers.
PAUSE = Table("rollup_pause", Base.metadata, Column("paused", SmallInteger, primary_key=True))
# 'on' for the rest of a transaction (set_config(..., true)) pauses the PostgreSQL triggers.
PAUSE_SETTING = "servicepulse.rollups_paused"


# --- SQL generation ----------------------------------------------------------------------------

def _rows(rollup: Rollup, sql: _Sql, sign: int, row: str, parent: str, from_where: str) -> str:
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
    rows = _rows(rollup, _Sql(dialect), 1, "r", "p",
                 f"FROM {rollup.source} r {join} WHERE {{condition}} AND {only}")
    return _upsert(rollup, [rows], dialect)


def _sqlite_triggers(rollup: Rollup) -> list[str]:
    sql = _Sql("sqlite")

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
    sql = _Sql("postgresql")

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
    if connection.dialect.name != "sqlite" or frame.is_empty():
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
    month = _Sql(connection.dialect.name).month("day")
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
