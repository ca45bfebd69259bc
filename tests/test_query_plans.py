"""Page queries read the daily rollups, never whole raw tables: checked on the query plans.

Why plans: a page's cost must follow the days and segments it shows, not the raw rows behind
them, and a timing test on small test tables cannot tell the two apart. So every SQL statement
each page query runs is captured (with its parameters, as the driver got them) and explained by
the database itself, on both backends:

* no statement reads every row of a raw fact table (a full scan, also through an index);
* page aggregates read no raw table at all: only the detail lists in DETAIL_READS and min/max
  lookups (the first case, the newest contact) may, each through an index or a LIMIT;
* a rollup table is read through a key range whenever its statement has a date range.

PostgreSQL plans with `enable_seqscan = off`: small test tables make the planner prefer
sequential scans even where an index exists, so with it off a remaining Seq Scan means no index
can serve the query. It also makes the planner walk a whole index rather than the table, so an
index scan counts as bounded only when its condition constrains the index's first column, or
when it runs in the order a LIMIT cuts (a top-N). On SQLite, SEARCH is bounded and SCAN is a
full read, also `USING INDEX`, unless it is the outer loop of such a top-N.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Date, DateTime, Engine, bindparam, event, select, text

from data_access import customer, operations, queries, queue
from data_access.history import arrivals_by_quarter
from data_access.queries import GRANULARITIES, Filters
from data_access.schema import Operator
from sim.learn import (
    backtest_history,
    curve_from_database,
    learn_demand,
    learned_patience,
    patience_from_database,
    recorded_staffing,
)

RAW_TABLES = frozenset({"contacts", "nps_surveys", "cases", "case_events", "agent_ratings"})
ROLLUP_PREFIX = "rollup_"

# Detail lists may read raw rows (through an index or with ORDER BY ... LIMIT, never in full):
# they show single rows, which no rollup holds.
DETAIL_READS: dict[str, str] = {
    "customer.low_score_comments": "the newest detractor comments, in the customers' words",
    "customer.open_e_otinish_appeals": "the open e-Otinish appeals, one row each",
    "customer.overdue_cases": "open cases past their target: rollups, and the raw cases of "
                              "the cut-off day only (received before the cut-off time)",
    "operations.operator_trend": "one operator's ratings",
    "queries.latest_contact_date": "the newest contact, anchoring the simulator's weeks",
}
# Page queries allowed to read a rollup without a key range although their statement has a
# date range, with the reason. None is needed today; add one only with its reason.
ROLLUP_SCANS_ALLOWED: dict[str, str] = {}

START, END = dt.date(2022, 1, 1), dt.date(2022, 6, 30)  # inside the seeded story
CHANNELS, REGIONS, SERVICES = ("whatsapp", "e_otinish"), ("almaty_city", "karaganda"), (
    "connection", "tariff_change")
FILTERS: tuple[Filters, ...] = (
    Filters(START, END),
    Filters(START, END, channels=CHANNELS),
    Filters(START, END, regions=REGIONS),
    Filters(START, END, service_types=SERVICES),
    Filters(START, END, CHANNELS, REGIONS, SERVICES),
)
NPS_SPLITS = (None, "channel", "region", "service_type")  # the NPS page's splits
CASE_SPLITS = (None, "category", "channel", "region")
MIN_RATINGS = 20  # the agents page's default
AS_OF = dt.datetime(2022, 7, 31, 12, 0)
LAST_DAY = dt.date(2022, 7, 31)


# --- The calls each page makes -----------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One page query with the arguments a page passes (after the connection)."""

    function: Callable[..., object]
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)

    def run(self, connection: Connection) -> object:
        return self.function(connection, *self.args, **self.kwargs)

    @property
    def label(self) -> str:
        shown = [_shown(value) for value in self.args]
        shown += [f"{name}={_shown(value)}" for name, value in self.kwargs.items()]
        return f"{query_name(self.function)}({', '.join(shown)})"


def query_name(function: Callable[..., object]) -> str:
    """`queries.kpis`, `learn.learn_demand`: module and name, as ui/cache.py spells them."""
    return f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"


def _shown(value: object) -> str:
    if not isinstance(value, Filters):
        return repr(value)
    parts = [f"{value.start}..{value.end}"]
    parts += [f"{name}={','.join(codes)}" for name, codes in (
        ("channels", value.channels), ("regions", value.regions),
        ("service_types", value.service_types)) if codes]
    return f"Filters({', '.join(parts)})"


def page_calls(operator: str) -> dict[str, list[Call]]:
    """Every page query with every granularity, split and filter a page can pass."""
    calls: dict[str, list[Call]] = {}

    def add(function: Callable[..., object], *args: object, **kwargs: object) -> None:
        calls.setdefault(query_name(function), []).append(Call(function, args, kwargs))

    for filters in FILTERS:
        for function in (queries.kpis, queries.nps_by_wait_bucket, queries.case_counts,
                         queries.front_line_coverage, customer.detractor_reasons,
                         customer.e_otinish_funnel, operations.median_wait_s,
                         operations.wait_by_channel, operations.rating_distribution):
            add(function, filters)
        add(customer.low_score_comments, filters, 50)
        add(customer.open_e_otinish_appeals, filters, AS_OF, 200)
        add(customer.overdue_cases, filters, AS_OF,
            {"complaint": 15.0, "appeal": 15.0, "e_otinish": 15.0})
        add(operations.contacts_by_hour_weekday, filters, True)
        add(operations.operator_table, filters, MIN_RATINGS)
        add(operations.operator_table, filters, MIN_RATINGS, search="bek", order="worst",
            page=10_000)  # past the end: counted, then the last page
        add(operations.operator_trend, filters, operator)
        for granularity in GRANULARITIES:
            add(queries.contacts_by_period, filters, granularity)
            add(customer.case_trend_with_yoy, filters, granularity)
            add(customer.resolution_estimates, filters, granularity, AS_OF,
                {"complaint": 15.0, "appeal": 15.0, "e_otinish": 15.0})
            for split in NPS_SPLITS:
                add(queries.nps_by_period, filters, granularity, by=split)
            for split in CASE_SPLITS:
                add(queries.cases_by_period, filters, granularity, by=split)
        for split in CASE_SPLITS[1:]:
            add(customer.case_breakdown, filters, split)
        for function in (queue.queue_by_channel, queue.abandonment_by_channel_hour,
                         queue.occupancy_by_pool_hour):  # Overview and Channels: the queue
            add(function, filters)
    # The simulator page: its baseline day (the newest contact, then the last weeks' demand)
    # and its wait -> NPS curve.
    for interval_minutes in (15, 30, 60):
        for weekday in (0, 6):  # Monday and Sunday (0 in SQL's numbering)
            add(learn_demand, weekday, 8, interval_minutes, LAST_DAY)
    add(queries.latest_contact_date)
    add(curve_from_database)
    # Its learned patience and recorded staffing, and the last 4 weeks' backtest history.
    add(learned_patience, LAST_DAY - dt.timedelta(days=55), LAST_DAY)
    add(patience_from_database, 8, LAST_DAY)
    for weekday in (0, 6):
        add(recorded_staffing, weekday, LAST_DAY - dt.timedelta(days=55), LAST_DAY, 60)
    add(backtest_history, LAST_DAY - dt.timedelta(days=27), LAST_DAY)
    # The plan page (ui/plan.py): 420 days of arrivals per quarter, 8 weeks of handling.
    add(arrivals_by_quarter, LAST_DAY - dt.timedelta(days=419), LAST_DAY)
    add(queries.handling_by_channel, Filters(LAST_DAY - dt.timedelta(days=55), LAST_DAY))
    return calls


PAGE_QUERIES = tuple(sorted(page_calls("OP00001")))


def operator_in_table(connection: Connection) -> str:
    """A front-line operator's id, read from the table as the agents page's picker offers it."""
    chosen = connection.scalar(select(Operator.external_id).where(Operator.team == "front_line")
                               .order_by(Operator.id).limit(1))
    assert chosen, "the seeded database has no front-line operator"
    return chosen


# --- Capturing and explaining statements -------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    """SQL and parameters exactly as the DBAPI cursor received them."""

    sql: str
    params: Any


@contextmanager
def captured(connection: Connection) -> Iterator[list[Statement]]:
    """Every statement `connection` sends while inside, with the driver's own parameters."""
    statements: list[Statement] = []

    def keep(conn, cursor, sql, params, context, executemany) -> None:
        statements.append(Statement(sql, params))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", keep)


@dataclass(frozen=True)
class Read:
    """One table a plan reads: which, the plan line saying how, and whether in full."""

    table: str
    line: str
    full: bool  # every row of the table, or of one of its indexes, is visited


@dataclass(frozen=True)
class Problem:
    rule: str  # "full scan", "raw read" or "rollup unranged"
    why: str
    line: str


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_LOOKUP = re.compile(r"^\s*SELECT\s+(?:min|max)\(\s*[\w.\"]+\s*\)(?:\s+AS\s+\w+)?\s+"
                     r"FROM\s+\"?\w+\"?\s*$", re.IGNORECASE)
_ORDERED_LIMIT = re.compile(r"\bORDER\s+BY\b.*\bLIMIT\b", re.IGNORECASE | re.DOTALL)
_TABLE_REF = re.compile(r"(?:\bFROM|\bJOIN|,)\s+\"?(?P<table>\w+)\"?"
                        r"(?:\s+(?:AS\s+)?\"?(?P<alias>\w+)\"?)?", re.IGNORECASE)
_NOT_ALIASES = frozenset({
    "as", "on", "join", "inner", "left", "right", "full", "outer", "cross", "natural", "where",
    "group", "order", "limit", "offset", "union", "except", "intersect", "having", "window",
    "using", "lateral", "returning"})
_SQLITE_READ = re.compile(r"^(?P<op>SCAN|SEARCH|BLOOM FILTER ON) (?P<name>\S+)(?P<rest>.*)$")
_STREAMING_JOINS = frozenset({"Nested Loop", "Hash Join", "Merge Join"})
_PASS_THROUGH = frozenset({"Limit", "Result", "Subquery Scan", "Unique", "Append",
                           "Merge Append", "Gather", "Gather Merge"})


def _is_watched(table: str) -> bool:
    return table in RAW_TABLES or table.startswith(ROLLUP_PREFIX)


def _values(params: Any) -> Sequence[object]:
    if isinstance(params, Mapping):
        return list(params.values())
    return list(params or ())


def has_date_range(statement: Statement) -> bool:
    """A bound date or timestamp (SQLite gets them as ISO strings) means a dated statement."""
    return any(isinstance(value, dt.date)
               or (isinstance(value, str) and _ISO_DAY.match(value) is not None)
               for value in _values(statement.params))


def table_names(sql: str) -> dict[str, str]:
    """Plan names (table or alias) of the raw and rollup tables a statement reads."""
    names: dict[str, str] = {}
    for match in _TABLE_REF.finditer(sql):
        table, alias = match["table"], match["alias"]
        if not _is_watched(table):
            continue
        names[table] = table
        if alias and alias.lower() not in _NOT_ALIASES:
            names[alias] = table
    return names


def _bounds(leading: str | None, condition: str | None) -> bool:
    """An index condition that seeks on the index's first column (not a walk of all of it)."""
    if not condition:
        return False
    if leading is None:  # an expression index: any condition on it seeks
        return True
    cast = r"(?:\)?::[a-z ]+?)?\)?"  # PostgreSQL shows (kind)::text = 'appeal'::text
    seek = r"\s*(?:=|<=|>=|<(?!>)|>|IS NULL)"  # not <>, nor IS NOT NULL (nearly all of it)
    return re.search(rf"\b{re.escape(leading)}\b{cast}{seek}", condition) is not None


class Explainer:
    """Plans of captured statements on one connection, each explained once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self._reads: dict[tuple[str, str], list[Read]] = {}
        self._leading: dict[str, str | None] | None = None

    def reads(self, statement: Statement) -> list[Read]:
        key = (statement.sql, repr(statement.params))
        if key not in self._reads:
            explain = self._sqlite_reads if self.dialect == "sqlite" else self._postgres_reads
            self._reads[key] = explain(statement)
        return self._reads[key]

    def problems(self, statement: Statement, detail: bool = False,
                 rollup_scans_allowed: bool = False) -> list[Problem]:
        """What the rules in the module docstring find wrong with one statement's plan."""
        if not statement.sql.lstrip().upper().startswith(("SELECT", "WITH")):
            return []
        lookup = _LOOKUP.match(statement.sql) is not None
        dated = has_date_range(statement)
        found = []
        for read in self.reads(statement):
            if read.table in RAW_TABLES and read.full:
                found.append(Problem("full scan", f"reads every row of raw table {read.table}",
                                     read.line))
            elif read.table in RAW_TABLES and not (detail or lookup):
                found.append(Problem(
                    "raw read", f"a page aggregate reads raw table {read.table} (only detail "
                                "lists and min/max lookups may; aggregates read rollups)",
                    read.line))
            elif read.table not in RAW_TABLES and read.full and dated \
                    and not rollup_scans_allowed:
                found.append(Problem(
                    "rollup unranged", f"rollup {read.table} is read without a key range "
                                       "although the statement has a date range", read.line))
        return found

    def _sqlite_reads(self, statement: Statement) -> list[Read]:
        rows = self.connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement.sql, statement.params).all()
        names = table_names(statement.sql)
        # A scan that is the outer loop of ORDER BY ... LIMIT, in the order asked for (no sort
        # of all rows), stops after LIMIT rows: the detail lists' top-N.
        top_n = (_ORDERED_LIMIT.search(statement.sql) is not None
                 and not any(row[3] == "USE TEMP B-TREE FOR ORDER BY" for row in rows))
        outer = next((row[0] for row in rows
                      if row[1] == 0 and row[3].startswith(("SCAN ", "SEARCH "))), None)
        reads = []
        for node, _, _, detail in rows:
            match = _SQLITE_READ.match(detail)
            if match is None or match["name"] not in names:
                continue
            if match["op"] == "SEARCH":  # an automatic index or a skip-scan reads it all
                full = "AUTOMATIC" in match["rest"] or "(ANY(" in match["rest"]
            elif match["op"] == "SCAN":
                full = not (top_n and node == outer)
            else:  # a Bloom filter is built from every row
                full = True
            reads.append(Read(names[match["name"]], detail, full))
        return reads

    def _postgres_reads(self, statement: Statement) -> list[Read]:
        self.connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = self.connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + statement.sql, statement.params).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        reads: list[Read] = []
        self._walk(plan[0]["Plan"], False, reads)
        return reads

    def _leading_columns(self) -> dict[str, str | None]:
        """Index name -> its first column (None for an expression), for this schema."""
        if self._leading is None:
            rows = self.connection.exec_driver_sql(
                "SELECT ic.relname, a.attname FROM pg_index i "
                "JOIN pg_class ic ON ic.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = ic.relnamespace "
                "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE n.nspname = current_schema()").all()
            self._leading = {index: column for index, column in rows}
        return self._leading

    def _walk(self, node: dict, limited: bool, reads: list[Read]) -> None:
        """Collect relation scans; `limited`: only as many rows as a Limit above asks flow."""
        kind = node["Node Type"]
        limited = limited or kind == "Limit"
        for child in node.get("Plans", []):
            relationship = child.get("Parent Relationship")
            if relationship in ("InitPlan", "SubPlan"):
                inherits = False
            elif kind in _PASS_THROUGH:
                inherits = limited
            elif kind in _STREAMING_JOINS:
                inherits = limited and relationship == "Outer"
            else:  # Sort, Aggregate, Hash, Materialize, WindowAgg...: consume every row
                inherits = False
            self._walk(child, inherits, reads)
        table = node.get("Relation Name")
        if table is None or not _is_watched(table):
            return
        leading = self._leading_columns()
        if kind == "Seq Scan":
            full = True
        elif kind in ("Index Scan", "Index Only Scan"):
            full = not limited and not _bounds(leading.get(node["Index Name"]),
                                               node.get("Index Cond"))
        elif kind == "Bitmap Heap Scan":
            full = not all(_bounds(leading.get(leaf["Index Name"]), leaf.get("Index Cond"))
                           for leaf in _bitmap_leaves(node))
        else:
            full = False
        reads.append(Read(table, _postgres_line(node), full))


def _bitmap_leaves(node: dict) -> Iterator[dict]:
    for child in node.get("Plans", []):
        if child["Node Type"] == "Bitmap Index Scan":
            yield child
        else:
            yield from _bitmap_leaves(child)


def _postgres_line(node: dict) -> str:
    """The scan as EXPLAIN's text format shows it, with its conditions."""
    kind = node["Node Type"]
    if node.get("Scan Direction") == "Backward":
        kind += " Backward"
    line = kind + (f" using {node['Index Name']}" if node.get("Index Name") else "")
    line += f" on {node['Relation Name']}"
    if node.get("Alias") and node["Alias"] != node["Relation Name"]:
        line += f" {node['Alias']}"
    conditions = [f"{name}: {node[name]}" for name in ("Index Cond", "Recheck Cond", "Filter")
                  if node.get(name)]
    conditions += [f"Bitmap Index Scan using {leaf['Index Name']}: "
                   f"{leaf.get('Index Cond')}" for leaf in _bitmap_leaves(node)]
    return line + (f"  [{'; '.join(conditions)}]" if conditions else "")


# --- The checks --------------------------------------------------------------------------------

_ANALYSED: set[str] = set()


def plan_from_full_statistics(engine: Engine) -> None:
    """Gather PostgreSQL's statistics once, from every row, so each run gets the same plans.

    Autovacuum analyses a freshly seeded database at a moment of its own, and plans with and
    without statistics differ (a detail list's index scan becomes a bitmap scan of its whole
    partial index). Target 1000 samples 300,000 rows, more than any test table holds. SQLite
    keeps no statistics, as the app never runs ANALYZE there.
    """
    key = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql" or key in _ANALYSED:
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL default_statistics_target = 1000")
        connection.exec_driver_sql("ANALYZE")
    _ANALYSED.add(key)


def _report(name: str, dialect: str, calls: int,
            found: list[tuple[Call, Statement, Problem]]) -> str:
    """Each distinct problem once in full (call, statement, plan line); the rest counted."""
    lines = [f"{name} on {dialect}: {len(found)} plan problems in "
             f"{len({call.label for call, _, _ in found})} of {calls} calls"]
    seen: dict[tuple[str, str], list[str]] = {}
    for call, statement, problem in found:
        key = (problem.rule, re.sub(r"'[^']*'|\b\d+\b", "…", problem.line))
        if key in seen:
            seen[key].append(call.label)
            continue
        seen[key] = []
        lines += [f"- {problem.rule}: {problem.why}", f"  call: {call.label}",
                  f"  plan: {problem.line}", f"  SQL:  {' '.join(statement.sql.split())}",
                  f"  params: {statement.params!r}"]
    for (rule, line), others in seen.items():
        if others:
            lines.append(f"- the same {rule} ({line}) also in {len(others)} more calls, "
                         f"e.g. {others[0]}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", PAGE_QUERIES)
def test_page_query_plans_read_rollups_not_raw_rows(seeded_engine, name):
    plan_from_full_statistics(seeded_engine)
    with seeded_engine.connect() as connection:
        calls = page_calls(operator_in_table(connection))[name]
        explainer = Explainer(connection)
        found = []
        for call in calls:
            with captured(connection) as statements:
                call.run(connection)
            assert statements, f"{call.label} ran no SQL: the capture is broken"
            for statement in statements:
                found += [(call, statement, problem) for problem in explainer.problems(
                    statement, detail=name in DETAIL_READS,
                    rollup_scans_allowed=name in ROLLUP_SCANS_ALLOWED)]
    if found:
        pytest.fail(_report(name, connection.dialect.name, len(calls), found), pytrace=False)


def test_every_page_query_is_checked():
    """A query added to ui/cache.py's cached list must get its calls here."""
    source = Path(__file__).resolve().parents[1] / "ui" / "cache.py"
    wrapped = {ast.unparse(node.args[0]) for node in ast.walk(ast.parse(source.read_text()))
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id == "_cached" and node.args}
    assert len(wrapped) >= 10, f"found only {sorted(wrapped)} in {source}"
    assert wrapped <= set(PAGE_QUERIES), f"not checked: {sorted(wrapped - set(PAGE_QUERIES))}"
    assert {"learn.learn_demand", "learn.curve_from_database"} <= set(PAGE_QUERIES)
    assert set(DETAIL_READS) | set(ROLLUP_SCANS_ALLOWED) <= set(PAGE_QUERIES)


@pytest.mark.parametrize(("leading", "condition", "seeks"), [
    ("started_at", "((started_at >= '2022-01-01 00:00:00'::timestamp without time zone) AND "
                   "(started_at < '2022-07-01 00:00:00'::timestamp without time zone))", True),
    ("status", "((status)::text = 'answered'::text)", True),
    ("resolved_at", "(resolved_at IS NULL)", True),
    ("id", "(id = nps_surveys.contact_id)", True),
    ("status", "((kind)::text = 'appeal'::text)", False),  # not the first column: a walk
    ("status", "((status)::text <> ALL ('{answered,withdrawn}'::text[]))", False),
    ("started_at", "(started_at IS NOT NULL)", False),
    ("day", "(channel_id = 3)", False),
    ("day", None, False),
])
def test_an_index_condition_seeks_only_on_the_first_column(leading, condition, seeks):
    assert _bounds(leading, condition) is seeks


def test_aliases_resolve_to_their_tables():
    sql = ("SELECT count(*) FROM contacts AS c JOIN nps_surveys s ON s.contact_id = c.id "
           "JOIN channels ch ON ch.id = c.channel_id, rollup_cases WHERE c.id > 0")
    assert table_names(sql) == {"contacts": "contacts", "c": "contacts",
                                "nps_surveys": "nps_surveys", "s": "nps_surveys",
                                "rollup_cases": "rollup_cases"}
    assert table_names("SELECT 1 FROM cases JOIN regions ON regions.id = cases.region_id") == {
        "cases": "cases"}


# The detector itself: statements it must flag (rule expected) and must let pass (None).
_DAY_RANGE = {"first": dt.date(2022, 1, 1), "last": dt.date(2022, 1, 31)}
_MOMENT_RANGE = {"start": dt.datetime(2022, 1, 1), "end": dt.datetime(2022, 2, 1)}
DETECTOR_CASES: list[tuple[str, dict[str, object], bool, str | None]] = [
    # (SQL, parameters, read as a detail list?, the rule that must fire or None)
    ("SELECT count(*) FROM contacts WHERE handle_s > 5", {}, False, "full scan"),
    ("SELECT count(*) FROM contacts WHERE handle_s > 5", {}, True, "full scan"),
    ("SELECT count(*) FROM contacts AS c WHERE c.handle_s > 5", {}, True, "full scan"),
    ("SELECT count(*) FROM contacts", {}, True, "full scan"),  # a walk of a whole index
    ("SELECT count(*) FROM contacts WHERE channel_id = 3", {}, True, "full scan"),
    ("SELECT count(*) FROM nps_surveys s JOIN contacts c ON c.id = s.contact_id "
     "WHERE s.score < 3", {}, True, "full scan"),
    ("SELECT count(*) FROM contacts WHERE started_at >= :start AND started_at < :end",
     _MOMENT_RANGE, False, "raw read"),
    ("SELECT count(*) FROM contacts WHERE started_at >= :start AND started_at < :end",
     _MOMENT_RANGE, True, None),
    ("SELECT max(contacts.started_at) FROM contacts", {}, False, None),
    # Top-N in an index's order stops after LIMIT rows; a sort first, or no LIMIT, reads all.
    ("SELECT contact_id FROM nps_surveys ORDER BY contact_id DESC LIMIT 5", {}, True, None),
    ("SELECT contact_id FROM nps_surveys ORDER BY contact_id DESC", {}, True, "full scan"),
    ("SELECT id FROM contacts ORDER BY handle_s DESC LIMIT 5", {}, True, "full scan"),
    ("SELECT sum(contacts) FROM rollup_contacts WHERE COALESCE(day, day) >= :first",
     {"first": _DAY_RANGE["first"]}, False, "rollup unranged"),
    ("SELECT sum(contacts) FROM rollup_contacts WHERE day >= :first AND day <= :last",
     _DAY_RANGE, False, None),
    ("SELECT sum(contacts) FROM rollup_contacts", {}, False, None),  # no date range asked
]


@pytest.mark.parametrize(("sql", "params", "detail", "rule"), DETECTOR_CASES)
def test_detector_flags_what_it_must(seeded_engine, sql, params, detail, rule):
    types = {name: Date() if isinstance(value, dt.date) and not isinstance(value, dt.datetime)
             else DateTime() for name, value in params.items()}
    statement = text(sql).bindparams(*[bindparam(name, type_=type_)
                                       for name, type_ in types.items()])
    plan_from_full_statistics(seeded_engine)
    with seeded_engine.connect() as connection:
        with captured(connection) as statements:
            connection.execute(statement, params).all()
        explainer = Explainer(connection)
        (executed,) = statements
        problems = explainer.problems(executed, detail=detail)
        reads = explainer.reads(executed)
    assert reads, f"no watched table found in the plan of {sql}"
    assert {problem.rule for problem in problems} == ({rule} if rule else set()), (
        f"{sql} on {connection.dialect.name}: expected {rule or 'no problem'}, got "
        f"{[(problem.rule, problem.line) for problem in problems]}; plan reads {reads}")
