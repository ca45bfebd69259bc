"""What the daily rollups hold: each rollup's key, measures and the row expressions that derive
them from the raw rows, its table, and the bucket edges and column names the queries read.

`rollups` turns these definitions into triggers (per dialect), rebuilds and counted inserts;
see its docstring for why triggers keep the rollups equal to the raw rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
)

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
class DialectSql:
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
    derived: Callable[[DialectSql], dict[str, str]]
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


def _contacts_derived(sql: DialectSql) -> dict[str, str]:
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


def _surveys_derived(sql: DialectSql) -> dict[str, str]:
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


def _cases_derived(sql: DialectSql) -> dict[str, str]:
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
    def derived(sql: DialectSql) -> dict[str, str]:
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
