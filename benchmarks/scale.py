"""Does a page's data cost follow the days it shows, not the raw rows? Scale 1 vs 10 vs naive.

The demo at scale 1 (about 2.5M contacts) and at scale 10 (about 25M) is generated once per
scale and end date into the git-ignored benchmarks/.cache/ (the files benchmarks/pages.py uses;
progress on stderr; one builder per file). A cached demo is brought up to date first: rollups
rebuilt when their definition changed (rollups.ensure_current), indexes added since created.

Each dashboard page, and the simulator's baseline as a sixth, runs the data_access calls it
makes through ui/cache.py, directly (no Streamlit): the default view (last 30 days, per week, no
filters) and the last 12 months per month; the simulator with its defaults (Monday, 8 weeks,
60 min) and its heaviest choice (26 weeks, 15 min). Each repeat gets a fresh connection; the
figure is the median of --repeats after one warm-up. Dates are those of each demo's last day.

The naive approach runs beside it: the page's raw rows for its dates (and the period before)
loaded into Polars (contacts with their survey, cases and e-Otinish stage events, ratings with
their contact and operator) and every figure computed there with group_by. Its headline figures
(KPI tiles, counts per period, breakdowns, lists, the simulator's scenario) must equal the
app's; a difference is listed and fails the run. Percentiles are not compared: the app
interpolates them in histogram buckets, the naive path ranks the raw values. With --whole-table
the naive approach as the issue words it runs too: each raw table loaded whole, then the same
Polars work (scale 1, one repeat).

Columns: scale S = the app's path at scale S, median seconds; ratio = largest over smallest
scale (target <= 1.5); naive scale S = the naive path (at the smallest scale, and the largest
with --naive-at-10); speed-up = naive over the app's path at that scale (target >= 20x);
PostgreSQL scale 1 = the app's path on --postgres URL (a scale-1 demo, generated if empty).
With --roster R, the largest scale is also built with the operator roster of scale R (as many
contacts and ratings, spread over fewer operators) and timed beside the others: the pages'
rows grow tenfold while the segments they rank do not, which isolates what rows cost from
what segments (the agents page ranks every operator) cost.
The app's peak RSS comes from a child process that renders every page through app.py in
Streamlit's AppTest (benchmarks/pages.py's render_times) on the largest scale (target < 1 GB).

    python benchmarks/scale.py [--scales 1 10] [--repeats 5] [--skip-build] [--naive-at-10]
                               [--whole-table] [--postgres URL] [--roster R] [--no-rss]
                               [--build-only]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Select, func, inspect, or_, select
from sqlalchemy.orm import aliased

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages import CACHE, PAGES, VIEWS, render_times  # noqa: E402
from data_access import customer, operations, queries  # noqa: E402
from data_access.config import local_today  # noqa: E402
from data_access.customer import (  # noqa: E402
    E_OTINISH,
    NO_REASON,
    funnel_shares,
    minute_now,
    with_pareto_shares,
    with_year_before,
    year_before_filters,
)
from data_access.dates import first_of_month, month_end, month_starts, period_starts  # noqa: E402
from data_access.demo import DemoConfig, generate_demo, needs_demo  # noqa: E402
from data_access.engine import create_db_engine  # noqa: E402
from data_access.metrics import (  # noqa: E402
    automated_share,
    contact_totals,
    monthly_coverage,
    online_offline_totals,
    open_at_end,
    rating_summary,
    with_backlog,
    with_nps,
    with_online_share,
)
from data_access.operations import (  # noqa: E402
    OPERATOR_COLUMNS,
    OPERATORS_PER_PAGE,
    SCORES,
    OperatorPage,
    channel_volume,
    hour_weekday_grid,
    operator_names,
    served_by_share,
)
from data_access.queries import (  # noqa: E402
    Filters,
    lowest_rated_share,
    rounded,
)
from data_access.rollups import WAIT_BUCKETS, ensure_current  # noqa: E402
from data_access.schema import (  # noqa: E402
    CLOSED_STAGES,
    DETRACTOR_MAX_SCORE,
    AgentRating,
    Base,
    Case,
    CaseEvent,
    Channel,
    Contact,
    DemoLoad,
    NpsSurvey,
    Operator,
    Region,
    ServiceType,
)
from sim.demand import scenario_from_history  # noqa: E402
from sim.learn import baseline_from_database  # noqa: E402
from ui.view_state import ViewState, preset_range  # noqa: E402

RATIO_TARGET, SPEED_UP_TARGET, RSS_TARGET_MB = 1.5, 20.0, 1024.0
MIN_RATINGS = 20  # the agents page's default (SERVICEPULSE_MIN_RATINGS)
SPLIT, CASE_BY = "channel", "category"  # the NPS and complaints pages' default choices
# The simulator's defaults (Monday, 8 weeks, 60 min) and its heaviest choice.
SIM_VIEWS: dict[str, tuple[int, int, int]] = {"Monday, 8 weeks, 60 min": (0, 8, 60),
                                              "Monday, 26 weeks, 15 min": (0, 26, 15)}
Headline = dict[str, Any]


# --- The cached demo databases -----------------------------------------------------------------

def demo_path(scale: float, end: dt.date, roster: float | None = None) -> Path:
    """The demo at `scale` ending `end`: the same file benchmarks/pages.py generates (with its
    own roster size, a file of its own)."""
    return CACHE / f"pages_scale{scale:g}{_roster_part(roster)}_{end}.db"


def _roster_part(roster: float | None) -> str:
    return "" if roster is None else f"_roster{roster:g}"


def build_record(database: Path) -> Path:
    return database.with_suffix(".build.json")


def newest_demo(scale: float, roster: float | None = None) -> Path | None:
    """The cached demo at `scale` with the latest end date, whatever the day."""
    found = sorted(CACHE.glob(f"pages_scale{scale:g}{_roster_part(roster)}_????-??-??.db"))
    return found[-1] if found else None


def prepared_demo(url: str, scale: float, build: bool, roster: float | None = None
                  ) -> str | None:
    """`url` holding a finished demo with current rollups; generated when allowed and missing.

    Without `build` a missing or unfinished demo gives None. Progress goes to stderr.
    """
    engine = create_db_engine(url)
    try:
        with one_builder(url) if build else contextlib.nullcontext():
            if needs_demo(engine):
                if not build:
                    return None
                generate(engine, url, scale, roster)
            else:
                started = time.perf_counter()
                if ensure_current(engine):
                    note(f"  scale {scale:g}: rollups rebuilt (their definition changed) in "
                         f"{time.perf_counter() - started:.0f} s")
                create_missing_indexes(engine, scale)
    finally:
        engine.dispose()
    return url


def create_missing_indexes(engine: Engine, scale: float) -> None:
    """Indexes added to the schema since the demo was cached (ensure_current only does rollups).

    Without them the detail lists would be timed without the partial indexes they rely on.
    """
    started = time.perf_counter()
    with engine.begin() as connection:
        inspector, missing = inspect(connection), []
        for table in Base.metadata.sorted_tables:
            if inspector.has_table(table.name):
                present = {found["name"] for found in inspector.get_indexes(table.name)}
                missing += [index for index in table.indexes if index.name not in present]
        for index in missing:
            index.create(connection)
    if missing:
        note(f"  scale {scale:g}: created the indexes added since it was cached "
             f"({', '.join(str(index.name) for index in missing)}) in "
             f"{time.perf_counter() - started:.0f} s")


def generate(engine: Engine, url: str, scale: float, roster: float | None = None) -> None:
    """The demo ending today, with progress; a SQLite file records how long it took."""
    started = time.perf_counter()
    shown = [""]

    def progress(fraction: float, message: str) -> None:
        if message != shown[0]:
            shown[0] = message
            note(f"  scale {scale:g}: {fraction:4.0%} {message} "
                 f"({time.perf_counter() - started:.0f} s)")

    note(f"generating the scale-{scale:g} demo into {engine.url!r} …")
    config = dataclasses.replace(DemoConfig.ending(scale=scale), roster_scale=roster)
    summary = generate_demo(engine, config, progress)
    seconds = time.perf_counter() - started
    note(f"  scale {scale:g}: {summary.contacts:,} contacts in {seconds:.0f} s")
    if url.startswith("sqlite:///"):
        build_record(Path(url.removeprefix("sqlite:///"))).write_text(
            json.dumps({"seconds": round(seconds, 1), "contacts": summary.contacts}))


@contextlib.contextmanager
def one_builder(url: str) -> Iterator[None]:
    """One builder per SQLite file: a second would purge a demo still being generated."""
    if not url.startswith("sqlite:///"):
        yield
        return
    with open(f"{url.removeprefix('sqlite:///')}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note(f"waiting for another process building {url} …")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def sqlite_demo(scale: float, build: bool, roster: float | None = None) -> str | None:
    """Today's cached demo at `scale` (built when `build`), else the newest cached one."""
    CACHE.mkdir(parents=True, exist_ok=True)
    today = demo_path(scale, local_today(), roster)
    if build or today.exists():
        ready = prepared_demo(f"sqlite:///{today}", scale, build, roster)
        if ready:
            return ready
    older = newest_demo(scale, roster)
    if older is None or older == today:
        return None
    return prepared_demo(f"sqlite:///{older}", scale, build=False, roster=roster)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- The app's data path: what each page's cached wrappers run ---------------------------------

DATA: dict[str, Callable[..., Any]] = {
    "kpis": queries.kpis,
    "nps_by_period": queries.nps_by_period,
    "nps_by_wait_bucket": queries.nps_by_wait_bucket,
    "contacts_by_period": queries.contacts_by_period,
    "cases_by_period": queries.cases_by_period,
    "front_line_coverage": queries.front_line_coverage,
    "detractor_reasons": customer.detractor_reasons,
    "low_score_comments": customer.low_score_comments,
    "case_trend_with_yoy": customer.case_trend_with_yoy,
    "case_breakdown": customer.case_breakdown,
    "e_otinish_funnel": customer.e_otinish_funnel,
    "open_e_otinish_appeals": customer.open_e_otinish_appeals,
    "median_wait_s": operations.median_wait_s,
    "wait_by_channel": operations.wait_by_channel,
    "contacts_by_hour_weekday": operations.contacts_by_hour_weekday,
    "rating_distribution": operations.rating_distribution,
    "operator_table": operations.operator_table,
    "operator_trend": operations.operator_trend,
    "baseline": baseline_from_database,
}


class Database:
    """The app's path: each call is the data_access function a page's cached wrapper runs."""

    def __init__(self, connection: Connection, view: ViewState | None = None) -> None:
        self.connection = connection  # the view is Naive's concern: it loads by dates

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return functools.partial(DATA[name], self.connection)


def operator_ranking(monthly: pl.DataFrame, last_month: dt.date, min_ratings: int
                     ) -> pl.DataFrame:
    """The naive path's operator ranking: ratings and score sums per operator and month in,
    one row per operator out, in `operations.operator_table`'s order and columns."""
    keys = ["operator", "name", "team", "region"]
    previous_month = first_of_month(first_of_month(last_month) - dt.timedelta(days=1))

    def month_mean(month: dt.date, name: str) -> pl.DataFrame:
        return monthly.filter(pl.col("period") == month).select(
            "operator", (pl.col("score_sum") / pl.col("ratings")).alias(name))

    month_means = pl.col("score_sum") / pl.col("ratings")
    table = (
        monthly.group_by(keys).agg(
            pl.col("ratings").sum(),
            (pl.col("score_sum").sum() / pl.col("ratings").sum()).alias("mean_score"),
            month_means.sort_by("period").alias("monthly_means"),
        )
        .join(month_mean(first_of_month(last_month), "last_mean"), on="operator", how="left")
        .join(month_mean(previous_month, "previous_mean"), on="operator", how="left")
        .with_columns(trend=pl.col("last_mean") - pl.col("previous_mean"),
                      ranked=pl.col("ratings") >= min_ratings)
        .with_columns(rank=pl.when(pl.col("ranked")).then(pl.col("mean_score"))
                      .rank("dense", descending=True).cast(pl.Int64))
    )
    return table.sort(["rank", "mean_score", "operator"], descending=[False, True, False],
                      nulls_last=True).select(OPERATOR_COLUMNS)


# --- The naive path: raw rows into Polars, group_by there ---------------------------------------

BATCH_ROWS = 250_000
EVERY = {"day": "1d", "week": "1w", "month": "1mo"}  # Polars truncates weeks to Monday, as SQL
CONTACT_SCHEMA = {
    "id": pl.Int64, "started_at": pl.Datetime("us"), "channel": pl.String,
    "is_online": pl.Boolean, "is_24x7": pl.Boolean, "region": pl.String,
    "service_type": pl.String, "served_by": pl.String, "wait_s": pl.Int64,
    "survey_id": pl.Int64, "answered": pl.Boolean, "score": pl.Int64, "reason": pl.String,
    "suggestion": pl.String, "answered_at": pl.Datetime("us")}
CASE_SCHEMA = {
    "id": pl.Int64, "external_id": pl.String, "kind": pl.String, "channel": pl.String,
    "region": pl.String, "category": pl.String, "received_at": pl.Datetime("us"),
    "status": pl.String, "resolved_at": pl.Datetime("us")}
EVENT_SCHEMA = {"case_id": pl.Int64, "stage": pl.String, "at": pl.Datetime("us")}
RATING_SCHEMA = {
    "operator_id": pl.Int64, "operator": pl.String, "name": pl.String, "team": pl.String,
    "operator_region": pl.String, "channel": pl.String, "region": pl.String,
    "service_type": pl.String, "score": pl.Int64, "rated_at": pl.Datetime("us")}
OPERATOR_SCHEMA = {"id": pl.Int64, "team": pl.String, "region": pl.String,
                   "active_from": pl.Date, "active_to": pl.Date}
SIM_SCHEMA = {"started_at": pl.Datetime("us"), "channel": pl.String, "served_by": pl.String,
              "handle_s": pl.Int64, "bot_s": pl.Int64}


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _dims(filters: Filters, service: bool = True) -> pl.Expr:
    """Rows of the filter's code lists (none given: every row)."""
    condition = pl.lit(True)
    lists = [("channel", filters.channels), ("region", filters.regions)]
    if service:
        lists.append(("service_type", filters.service_types))
    for name, codes in lists:
        if codes:
            condition &= pl.col(name).is_in(codes)
    return condition


def _within(column: str, filters: Filters, service: bool = True) -> pl.Expr:
    """Rows of the filter's dates (`column` in local time) and code lists."""
    return pl.col(column).is_between(pl.lit(filters.start_at), pl.lit(filters.end_before),
                                     closed="left") & _dims(filters, service)


def _period(column: str, granularity: str) -> pl.Expr:
    return pl.col(column).dt.truncate(EVERY[granularity]).dt.date().alias("period")


def _count(condition: pl.Expr | None = None) -> pl.Expr:
    counted = pl.len() if condition is None else condition.sum()
    return counted.cast(pl.Int64)


def _nearest_rank(column: str, percent: int) -> pl.Expr:
    return pl.col(column).sort().get((pl.len() * percent + 99) // 100 - 1)


def _nps_counts() -> list[pl.Expr]:
    score = pl.col("score")
    return [_count().alias("surveys_sent"), _count(pl.col("answered")).alias("responses"),
            _count(score >= 9).alias("promoters"), _count(score.is_between(7, 8)).alias(
                "passives"), _count(score <= 6).alias("detractors")]


class Naive:
    """A page's raw rows for its dates (and the period before) in Polars, figures by group_by.

    Each table is loaded on first use, once per page run: contacts with their survey, cases
    with e-Otinish stage events, ratings with their contact and operator, and operators.
    """

    def __init__(self, connection: Connection, view: ViewState | None) -> None:
        self.connection = connection
        if view is not None:
            self.first = view.previous.start
            year_before = year_before_filters(view.filters, view.granularity).start
            self.cases_first = min(self.first, year_before)
            self.end_before = view.filters.end_before

    def _load(self, statement: Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        """In batches: 25M rows fetched at once would be tens of GB of Python objects."""
        frames = list(pl.read_database(statement, self.connection, iter_batches=True,
                                       batch_size=BATCH_ROWS, schema_overrides=schema))
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    @cached_property
    def contacts(self) -> pl.DataFrame:
        statement = (
            select(Contact.id, Contact.started_at, Channel.code.label("channel"),
                   Channel.is_online, Channel.is_24x7, Region.code.label("region"),
                   ServiceType.code.label("service_type"), Contact.served_by, Contact.wait_s,
                   NpsSurvey.contact_id.label("survey_id"), NpsSurvey.answered, NpsSurvey.score,
                   NpsSurvey.reason, NpsSurvey.suggestion, NpsSurvey.answered_at)
            .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
            .join(Region, Region.id == Contact.region_id)
            .join(ServiceType, ServiceType.id == Contact.service_type_id)
            .outerjoin(NpsSurvey, NpsSurvey.contact_id == Contact.id)
            .where(Contact.started_at >= _at(self.first), Contact.started_at < self.end_before))
        return self._load(statement, CONTACT_SCHEMA)

    def _case_rows(self) -> list:
        """Received before the end and touching the span: received, closed or open in it."""
        first = _at(self.cases_first)
        return [Case.received_at < self.end_before,
                or_(Case.received_at >= first, Case.resolved_at.is_(None),
                    Case.resolved_at >= first)]

    @cached_property
    def cases(self) -> pl.DataFrame:
        statement = (
            select(Case.id, Case.external_id, Case.kind, Channel.code.label("channel"),
                   Region.code.label("region"), Case.category, Case.received_at, Case.status,
                   Case.resolved_at)
            .select_from(Case).join(Channel, Channel.id == Case.channel_id)
            .join(Region, Region.id == Case.region_id).where(*self._case_rows()))
        return self._load(statement, CASE_SCHEMA)

    @cached_property
    def events(self) -> pl.DataFrame:
        """Stage events of the span's e-Otinish appeals (the funnel and the open list)."""
        statement = (
            select(CaseEvent.case_id, CaseEvent.stage, CaseEvent.at)
            .select_from(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
            .join(Channel, Channel.id == Case.channel_id)
            .where(*self._case_rows(), Case.kind == "appeal", Channel.code == E_OTINISH))
        return self._load(statement, EVENT_SCHEMA)

    @cached_property
    def ratings(self) -> pl.DataFrame:
        operator_region, contact_region = aliased(Region), aliased(Region)
        statement = (
            select(AgentRating.operator_id, Operator.external_id.label("operator"),
                   Operator.name, Operator.team, operator_region.code.label("operator_region"),
                   Channel.code.label("channel"), contact_region.code.label("region"),
                   ServiceType.code.label("service_type"), AgentRating.score,
                   AgentRating.rated_at)
            .select_from(AgentRating).join(Operator, Operator.id == AgentRating.operator_id)
            .join(operator_region, operator_region.id == Operator.region_id)
            .join(Contact, Contact.id == AgentRating.contact_id)
            .join(Channel, Channel.id == Contact.channel_id)
            .join(contact_region, contact_region.id == Contact.region_id)
            .join(ServiceType, ServiceType.id == Contact.service_type_id)
            .where(AgentRating.rated_at >= _at(self.first),
                   AgentRating.rated_at < self.end_before))
        return self._load(statement, RATING_SCHEMA)

    @cached_property
    def operators(self) -> pl.DataFrame:
        statement = (select(Operator.id, Operator.team, Region.code.label("region"),
                            Operator.active_from, Operator.active_to)
                     .join(Region, Region.id == Operator.region_id))
        return self._load(statement, OPERATOR_SCHEMA)

    # NPS and contacts

    def _surveys(self, filters: Filters) -> pl.DataFrame:
        return self.contacts.filter(_within("started_at", filters),
                                    pl.col("survey_id").is_not_null())

    def nps_by_period(self, filters: Filters, granularity: str = "month",
                      by: str | None = None) -> pl.DataFrame:
        keys = ["period", *([by] if by else [])]
        return with_nps(self._surveys(filters).with_columns(_period("started_at", granularity))
                        .group_by(keys).agg(_nps_counts()).sort(keys))

    def nps_by_wait_bucket(self, filters: Filters) -> pl.DataFrame:
        bucket = pl.sum_horizontal([(pl.col("wait_s") >= upper).cast(pl.Int64)
                                    for _, _, upper in WAIT_BUCKETS if upper is not None])
        labels = pl.DataFrame({"bucket": range(len(WAIT_BUCKETS)),
                               "wait_bucket": [label for label, _, _ in WAIT_BUCKETS]},
                              schema={"bucket": pl.Int64, "wait_bucket": pl.String})
        counts = (self._surveys(filters).filter(pl.col("served_by") == "operator")
                  .group_by(bucket.alias("bucket"))
                  .agg(*_nps_counts(), pl.col("wait_s").mean().alias("avg_wait_s")))
        return with_nps(labels.join(counts, on="bucket", how="inner").sort("bucket"))

    def contacts_by_period(self, filters: Filters, granularity: str = "month") -> pl.DataFrame:
        operator = pl.col("served_by") == "operator"
        return with_online_share(
            self.contacts.filter(_within("started_at", filters))
            .group_by(_period("started_at", granularity), "channel", "is_online")
            .agg(_count().alias("contacts"), _count(operator).alias("served_by_operator"),
                 _count(pl.col("served_by") == "bot").alias("served_by_bot"),
                 _count(pl.col("served_by") == "self_service").alias("self_service"),
                 pl.col("wait_s").filter(operator).sum().cast(pl.Int64).alias("wait_sum_s"))
            .sort("period", "channel"))

    def detractor_reasons(self, filters: Filters) -> pl.DataFrame:
        frame = (self._detractors(filters).group_by("reason")
                 .agg(_count().alias("detractors")))
        return with_pareto_shares(frame.with_columns(pl.col("reason").fill_null(NO_REASON)),
                                  "reason", "detractors")

    def _detractors(self, filters: Filters) -> pl.DataFrame:
        return self._surveys(filters).filter(pl.col("answered"),
                                             pl.col("score") <= DETRACTOR_MAX_SCORE)

    def low_score_comments(self, filters: Filters, limit: int = 50) -> pl.DataFrame:
        return (self._detractors(filters).filter(pl.col("suggestion").is_not_null())
                .sort("answered_at", "id", descending=True).head(limit)
                .select("answered_at", "score", pl.col("reason").fill_null(NO_REASON),
                        "suggestion", "channel", "region", "service_type"))

    def _waits(self, filters: Filters) -> pl.DataFrame:
        return self.contacts.filter(_within("started_at", filters),
                                    pl.col("served_by") == "operator")

    def median_wait_s(self, filters: Filters) -> float | None:
        """Exact nearest rank over the raw waits (the app interpolates in its buckets)."""
        waits = self._waits(filters)["wait_s"].sort()
        return float(waits[(waits.len() * 50 + 99) // 100 - 1]) if waits.len() else None

    def wait_by_channel(self, filters: Filters) -> pl.DataFrame:
        return (self._waits(filters).group_by("channel")
                .agg(_count().alias("contacts"), pl.col("wait_s").mean().alias("mean_wait_s"),
                     _nearest_rank("wait_s", 50).cast(pl.Float64).alias("median_wait_s"),
                     _nearest_rank("wait_s", 90).cast(pl.Float64).alias("p90_wait_s"))
                .sort("channel"))

    def contacts_by_hour_weekday(self, filters: Filters, only_24x7: bool = True
                                 ) -> pl.DataFrame:
        rows = self.contacts.filter(_within("started_at", filters),
                                    pl.col("is_24x7") if only_24x7 else pl.lit(True))
        counts = rows.group_by((pl.col("started_at").dt.weekday() % 7).cast(pl.Int64)
                               .alias("dow"),
                               pl.col("started_at").dt.hour().cast(pl.Int64).alias("hour")
                               ).agg(_count().alias("contacts"))
        return hour_weekday_grid(counts, filters.start, filters.end)

    # Cases

    def _cases(self, filters: Filters) -> pl.DataFrame:
        """The filter's channels and regions (cases have no service type)."""
        return self.cases.filter(_dims(filters, service=False))

    def _received(self, filters: Filters, granularity: str) -> pl.DataFrame:
        return (self._cases(filters).filter(_within("received_at", filters, service=False))
                .group_by(_period("received_at", granularity), "kind")
                .agg(_count().alias("received")).sort("period", "kind"))

    def cases_by_period(self, filters: Filters, granularity: str = "month",
                        by: str | None = "category") -> pl.DataFrame:
        groups = ["kind", *([by] if by else [])]
        keys = ["period", *groups]
        cases = self._cases(filters)
        received_rows = (cases.filter(_within("received_at", filters, service=False))
                         .with_columns(_period("received_at", granularity)))
        answered = pl.col("status") == "answered"
        received = received_rows.group_by(keys).agg(_count().alias("received"),
                                                    _count(answered).alias("answered"))
        hours = (pl.col("resolved_at") - pl.col("received_at")).dt.total_microseconds() / 3.6e9
        percentiles = (received_rows.filter(answered).with_columns(hours=hours)
                       .group_by(keys).agg(_nearest_rank("hours", 50).alias(
                           "median_resolution_h"),
                           _nearest_rank("hours", 90).alias("p90_resolution_h")))
        closed = (cases.filter(_within("resolved_at", filters, service=False))
                  .group_by(_period("resolved_at", granularity), *groups)
                  .agg(_count().alias("closed")))
        opening = (cases.filter(pl.col("received_at") < filters.start_at,
                                pl.col("resolved_at").is_null()
                                | (pl.col("resolved_at") >= filters.start_at))
                   .group_by(groups).agg(_count().alias("opening")))
        return (
            with_backlog(received, closed, opening, groups,
                         period_starts(filters.start, filters.end, granularity))
            .join(percentiles, on=keys, how="left")
            .with_columns(pl.col("answered").fill_null(0)).sort(keys))

    def case_trend_with_yoy(self, filters: Filters, granularity: str = "month"
                            ) -> pl.DataFrame:
        earlier = year_before_filters(filters, granularity)
        first_case = self.connection.scalar(select(func.min(Case.received_at)))  # index lookup
        return with_year_before(self._received(filters, granularity),
                                self._received(earlier, granularity), granularity,
                                data_start=first_case.date() if first_case else None,
                                earlier_from=earlier.start)

    def case_breakdown(self, filters: Filters, by: str) -> pl.DataFrame:
        frame = (self._cases(filters).filter(_within("received_at", filters, service=False))
                 .group_by("kind", by).agg(_count().alias("received")))
        return frame.with_columns(
            share_of_kind=pl.col("received") / pl.col("received").sum().over("kind"),
        ).sort(["kind", "received", by], descending=[False, True, False])

    def _e_otinish(self, filters: Filters) -> pl.DataFrame:
        return self._cases(filters).filter(pl.col("kind") == "appeal",
                                           pl.col("channel") == E_OTINISH)

    def e_otinish_funnel(self, filters: Filters) -> pl.DataFrame:
        received = self._e_otinish(filters).filter(
            _within("received_at", filters, service=False))
        reached = (self.events.join(received.select(pl.col("id").alias("case_id")),
                                    on="case_id")
                   .group_by("stage").agg(pl.col("case_id").n_unique().cast(pl.Int64)
                                          .alias("cases")))
        return funnel_shares(reached, received.height)

    def open_e_otinish_appeals(self, filters: Filters, as_of: dt.datetime, limit: int = 200
                               ) -> pl.DataFrame:
        stages = self.events.select("case_id", pl.col("stage").alias("status"),
                                    pl.col("at").alias("stage_since"))
        return (
            self._e_otinish(filters)
            .filter(pl.col("received_at") < filters.end_before,
                    ~pl.col("status").is_in(CLOSED_STAGES))
            .join(stages, left_on=["id", "status"], right_on=["case_id", "status"], how="left")
            .sort("received_at", "id").head(limit)
            .select("external_id", "received_at", "category", "region",
                    pl.col("status").alias("stage"), "stage_since",
                    age_days=(pl.lit(as_of, pl.Datetime("us")) - pl.col("received_at"))
                    .dt.total_seconds(fractional=True) / 86_400))

    # Ratings and operators

    def _ratings(self, filters: Filters) -> pl.DataFrame:
        return self.ratings.filter(_within("rated_at", filters))

    def rating_distribution(self, filters: Filters) -> pl.DataFrame:
        counts = self._ratings(filters).group_by("score").agg(_count().alias("ratings"))
        total = pl.col("ratings").sum()
        return (pl.DataFrame({"score": SCORES}, schema={"score": pl.Int64})
                .join(counts, on="score", how="left")
                .with_columns(pl.col("ratings").fill_null(0))
                .with_columns(share=pl.when(total > 0).then(pl.col("ratings") / total)))

    def front_line_coverage(self, filters: Filters) -> pl.DataFrame:
        windows = pl.DataFrame(
            [(month, max(month, filters.start), min(month_end(month), filters.end))
             for month in month_starts(filters.start, filters.end)],
            schema={"period": pl.Date, "window_start": pl.Date, "window_end": pl.Date},
            orient="row")
        in_region = pl.col("region").is_in(filters.regions) if filters.regions else pl.lit(True)
        active = (
            windows.join(self.operators.filter(pl.col("team") == "front_line", in_region),
                         how="cross")
            .filter(pl.col("active_from") <= pl.col("window_end"),
                    pl.col("active_to").is_null()
                    | (pl.col("active_to") >= pl.col("window_start")))
            .group_by("period").agg(pl.col("id").n_unique().cast(pl.Int64)
                                    .alias("active_operators")))
        # Rated counts only operators active on the front line in that month's window, as
        # the app's query does: the share is (rated ∩ active) ÷ active.
        rated = (
            self.ratings.filter(_within("rated_at", Filters(filters.start, filters.end)),
                                pl.col("team") == "front_line",
                                pl.col("operator_region").is_in(filters.regions)
                                if filters.regions else pl.lit(True))
            .with_columns(_period("rated_at", "month"))
            .join(windows, on="period")
            .join(self.operators.select(pl.col("id").alias("operator_id"), "active_from",
                                        "active_to"), on="operator_id")
            .filter(pl.col("active_from") <= pl.col("window_end"),
                    pl.col("active_to").is_null()
                    | (pl.col("active_to") >= pl.col("window_start")))
            .group_by("period")
            .agg(pl.col("operator_id").n_unique().cast(pl.Int64).alias("rated_operators")))
        partial = windows.select("period", partial_month=(
            (pl.col("window_start") != pl.col("period"))
            | (pl.col("window_end") != pl.col("period").dt.month_end())))
        return monthly_coverage(active, rated).join(partial, on="period", how="left")

    def operator_table(self, filters: Filters, min_ratings: int) -> OperatorPage:
        """Every operator ranked in Polars, then the first page, as the page asks for it."""
        monthly = (self._ratings(filters)
                   .group_by(_period("rated_at", "month"), "operator", "name", "team",
                             pl.col("operator_region").alias("region"))
                   .agg(_count().alias("ratings"), pl.col("score").sum().alias("score_sum")))
        table = operator_ranking(monthly, filters.end, min_ratings)
        return OperatorPage(table.head(OPERATORS_PER_PAGE), 1,
                            max(1, -(-table.height // OPERATORS_PER_PAGE)), table.height,
                            table.height)

    def operator_trend(self, filters: Filters, operator: str) -> pl.DataFrame:
        score = pl.col("score")
        return (self._ratings(filters).filter(pl.col("operator") == operator)
                .group_by(_period("rated_at", "month"))
                .agg(_count().alias("ratings"), (score.sum() / pl.len()).alias("mean_score"),
                     *[_count(score == value).alias(f"score_{value}") for value in SCORES])
                .sort("period"))

    # KPI tiles

    def kpis(self, filters: Filters, rated_share: bool = True) -> dict[str, Any]:
        contacts = self.contacts.filter(_within("started_at", filters))
        nps = with_nps(self._surveys(filters).select(_nps_counts())).row(0, named=True)
        online = int(contacts["is_online"].sum())
        operator = contacts.filter(pl.col("served_by") == "operator")
        cases = self._cases(filters).filter(_within("received_at", filters, service=False))
        appeals = cases.filter(pl.col("kind") == "appeal")
        return {
            "from": filters.start.isoformat(), "to": filters.end.isoformat(),
            "nps": rounded(nps["nps"], 2), "nps_moe": rounded(nps["nps_moe"], 2),
            **{name: int(nps[name]) for name in ("responses", "surveys_sent")},
            "answer_rate": rounded(nps["answer_rate"], 4),
            **{name: int(nps[name]) for name in ("promoters", "passives", "detractors")},
            "contacts_online": online, "contacts_offline": contacts.height - online,
            "online_share": rounded(online / contacts.height, 4) if contacts.height else None,
            "complaints": cases.height - appeals.height, "appeals": appeals.height,
            "e_otinish_appeals": appeals.filter(pl.col("channel") == E_OTINISH).height,
            "avg_wait_s": (rounded(int(operator["wait_s"].sum()) / operator.height, 1)
                           if operator.height else None),
        } | ({"operators_rated_share": lowest_rated_share(self.front_line_coverage(filters))}
             if rated_share else {})

    # The simulator's baseline

    def baseline(self, weekday: int, weeks: int, interval_minutes: int
                 ) -> tuple[Any, str]:
        latest = self.connection.scalar(select(func.max(Contact.started_at)))  # index lookup
        if latest is None:
            return None, "the database holds no contacts"
        end = latest.date()
        filters = Filters(end - dt.timedelta(days=7 * weeks - 1), end)
        rows = self._load(
            select(Contact.started_at, Channel.code.label("channel"), Contact.served_by,
                   Contact.handle_s, Contact.bot_s)
            .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
            .where(Contact.started_at >= filters.start_at,
                   Contact.started_at < filters.end_before), SIM_SCHEMA)
        started = pl.col("started_at")
        days = operations.weekday_days(filters.start, filters.end)["days"][weekday]
        arrivals = (
            rows.filter(started.dt.weekday() == weekday + 1)
            .group_by("channel", ((started.dt.hour().cast(pl.Int64) * 60
                                   + started.dt.minute().cast(pl.Int64)) // interval_minutes)
                      .alias("interval"))
            .agg(_count().alias("contacts"))
            .with_columns(days=pl.lit(days), mean_contacts=pl.col("contacts") / max(days, 1))
            .sort("channel", "interval"))
        operator = pl.col("served_by") == "operator"
        bot = pl.col("served_by") == "bot"
        escalated = operator & pl.col("bot_s").is_not_null()
        handling = (
            rows.group_by("channel")
            .agg(_count().alias("contacts"), _count(operator).alias("by_operator"),
                 _count(~operator).alias("automated"), _count(bot).alias("by_bot"),
                 _count(pl.col("served_by") == "self_service").alias("by_self_service"),
                 _count(escalated).alias("escalated"),
                 pl.col("handle_s").filter(operator).mean().alias("operator_aht_s"),
                 pl.col("handle_s").filter(~operator).mean().alias("automated_handle_s"),
                 pl.col("handle_s").filter(bot).mean().alias("bot_handle_s"),
                 pl.col("bot_s").filter(escalated).mean().alias("escalated_bot_s"))
            .with_columns(automated_share=pl.col("automated") / pl.col("contacts"))
            .sort("channel"))
        if handling.is_empty() or arrivals.is_empty():
            return None, f"the database has no contacts from {filters.start} to {end}"
        scenario = scenario_from_history(arrivals, handling, weekday, interval_minutes)
        return (scenario, "learned") if scenario.channels else (None, "no simulated channel")


Source = Database | Naive


# --- The pages: their data calls for one view, and the headline figures both paths share -------


class WholeTableNaive(Naive):
    """The issue's naive approach as worded: each raw table whole into a DataFrame, then
    the page's dates and figures in Polars (the range-limited `Naive` is the harder rival)."""

    def __init__(self, connection: Connection, view: ViewState | None) -> None:
        super().__init__(connection, view)
        if view is not None:
            self.first = self.cases_first = dt.date(1, 1, 1)
            self.end_before = dt.datetime(9999, 12, 31)

def _rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    return frame.select(columns).sort(columns, nulls_last=True).rows()


def _kpis(source: Source, view: ViewState) -> Headline:
    """Both periods' KPI tiles (without the rated share: only the agents page shows it, from
    its coverage chart's figures)."""
    now = source.kpis(view.filters, rated_share=False)
    before = source.kpis(view.previous, rated_share=False)
    return {"KPIs": now, "KPIs of the period before": before}


def _median_waits(source: Source, view: ViewState) -> None:
    """The median wait tiles; not compared: the app interpolates in its wait buckets."""
    source.median_wait_s(view.filters)
    source.median_wait_s(view.previous)


def overview(source: Source, view: ViewState) -> Headline:
    figures = _kpis(source, view)
    periods = source.nps_by_period(view.filters, view.granularity)
    cases = source.cases_by_period(view.filters, view.granularity, by=None)
    _median_waits(source, view)
    mix = online_offline_totals(source.contacts_by_period(view.filters, view.granularity))
    trend = source.case_trend_with_yoy(view.filters, view.granularity)
    return figures | {
        "NPS responses per period": _rows(periods, "period", "surveys_sent", "responses",
                                          "promoters", "detractors"),
        "contacts per period online/offline": _rows(mix, "period", "mode", "contacts"),
        "cases received per period with the year before": _rows(
            trend, "period", "kind", "received", "received_year_before"),
        "open appeals at the end": open_at_end(cases, "appeal"),
    }


def nps(source: Source, view: ViewState) -> Headline:
    figures = _kpis(source, view)
    source.nps_by_period(view.filters, view.granularity)
    by_split = source.nps_by_period(view.filters, view.granularity, by=SPLIT)
    reasons = source.detractor_reasons(view.filters)
    waits = source.nps_by_wait_bucket(view.filters)
    comments = source.low_score_comments(view.filters, 50)
    return figures | {
        "NPS responses per period and channel": _rows(by_split, "period", SPLIT, "responses",
                                                      "promoters", "detractors"),
        "detractors per reason": _rows(reasons, "reason", "detractors"),
        "NPS by wait bucket": _rows(waits, "wait_bucket", "surveys_sent", "responses",
                                    "promoters", "detractors"),
        "low-score comments": _rows(comments, "answered_at", "score", "reason", "channel"),
    }


def complaints(source: Source, view: ViewState) -> Headline:
    figures = _kpis(source, view)
    counted = ("period", "kind", "received", "answered", "closed", "open_backlog")
    cases = source.cases_by_period(view.filters, view.granularity, by=None)
    earlier = source.cases_by_period(view.previous, view.granularity, by=None)
    trend = source.case_trend_with_yoy(view.filters, view.granularity)
    breakdown = source.case_breakdown(view.filters, CASE_BY)
    funnel = source.e_otinish_funnel(view.filters)
    open_appeals = source.open_e_otinish_appeals(view.filters, minute_now(), 200)
    return figures | {
        "cases per period": _rows(cases, *counted),
        "cases per period before": _rows(earlier, *counted),
        "cases received per period with the year before": _rows(
            trend, "period", "kind", "received", "received_year_before"),
        "cases by category": _rows(breakdown, "kind", CASE_BY, "received"),
        "e-Otinish funnel": _rows(funnel, "stage", "cases"),
        "open e-Otinish appeals": _rows(open_appeals, "external_id", "stage"),
    }


def channels(source: Source, view: ViewState) -> Headline:
    counted = ("period", "channel", "contacts", "served_by_operator", "served_by_bot",
               "self_service", "wait_sum_s")
    contacts = source.contacts_by_period(view.filters, view.granularity)
    earlier = source.contacts_by_period(view.previous, view.granularity)
    figures = {"contact tiles": (contact_totals(contacts), contact_totals(earlier))}
    _median_waits(source, view)
    heatmap = source.contacts_by_hour_weekday(view.filters, True)
    waits = source.wait_by_channel(view.filters)
    channel_volume(contacts)
    served_by_share(contacts)
    return figures | {
        "contacts per period and channel": _rows(contacts, *counted),
        "contacts per period and channel before": _rows(earlier, *counted),
        "automated share": (automated_share(contacts), automated_share(earlier)),
        "24/7 contacts per weekday and hour": _rows(heatmap, "weekday", "hour", "contacts"),
        "operator-served contacts per channel": _rows(waits, "channel", "contacts"),
    }


def agents(source: Source, view: ViewState) -> Headline:
    scores = source.rating_distribution(view.filters)
    before = source.rating_distribution(view.previous)
    coverage = source.front_line_coverage(view.filters)
    coverage_before = source.front_line_coverage(view.previous)
    listing = source.operator_table(view.filters, MIN_RATINGS)
    names = operator_names(listing.rows)
    trend = (source.operator_trend(view.filters, next(iter(names))) if names
             else pl.DataFrame({"period": [], "ratings": []}))
    return {
        "ratings and mean": (rating_summary(scores), rating_summary(before)),
        "ratings per score": _rows(scores, "score", "ratings"),
        "front line rated (lowest month)": (lowest_rated_share(coverage),
                                            lowest_rated_share(coverage_before)),
        "front line rated per month": _rows(coverage, "period", "active_operators",
                                            "rated_operators"),
        "operators ranked (first page)": _rows(listing.rows, "operator", "ratings", "rank"),
        "operators rated, pages": (listing.rated, listing.pages),
        "first operator's months": _rows(trend, "period", "ratings"),
    }


def simulator(source: Source, choice: tuple[int, int, int]) -> Headline:
    scenario, _ = source.baseline(*choice)
    return {"baseline scenario": scenario}


DASHBOARDS: dict[str, Callable[[Source, ViewState], Headline]] = {
    "overview": overview, "nps": nps, "complaints": complaints, "channels": channels,
    "agents": agents}
assert tuple(DASHBOARDS) == PAGES, "benchmarks/pages.py lists other pages"


@dataclass(frozen=True)
class Cell:
    """One page in one view: its data calls, given a source of figures."""

    page: str
    view: str
    state: ViewState | None  # the dashboards' view; None for the simulator
    run: Callable[[Source], Headline]


def cells(end: dt.date) -> list[Cell]:
    """Every page in both views, on a demo ending `end` (today's dates on today's demo)."""
    found = []
    for label, params in VIEWS.items():
        preset = params["range"]
        view = ViewState(preset, *preset_range(preset, end), params["grain"])
        found += [Cell(page, label, view, functools.partial(page_run, view=view))
                  for page, page_run in DASHBOARDS.items()]
    found += [Cell("simulator", label, None, functools.partial(simulator, choice=choice))
              for label, choice in SIM_VIEWS.items()]
    return found


def timed(engine: Engine, run: Callable[[Connection], Headline], repeats: int
          ) -> tuple[float, Headline]:
    """Median seconds of `repeats` runs after one warm-up, each on a fresh connection."""
    engine.dispose()
    with engine.connect() as connection:
        headline = run(connection)
    seconds = []
    for _ in range(repeats):
        engine.dispose()  # no connection (nor its page cache) carried over
        started = time.perf_counter()
        with engine.connect() as connection:
            run(connection)
        seconds.append(time.perf_counter() - started)
    engine.dispose()
    return statistics.median(seconds), headline


def differences(app: Headline, naive: Headline) -> list[str]:
    """Each headline figure the two paths disagree on, with its first differing part."""
    found = []
    for name, value in app.items():
        other = naive.get(name)
        if value == other:
            continue
        if isinstance(value, dict) and isinstance(other, dict):
            detail = ", ".join(f"{key} {value[key]!r} vs {other.get(key)!r}" for key in value
                               if value[key] != other.get(key))
        elif isinstance(value, list) and isinstance(other, list):
            pairs = enumerate(zip(value, other, strict=False))
            at = next((index for index, (one, two) in pairs if one != two),
                      min(len(value), len(other)))
            detail = (f"{len(value)} vs {len(other)} rows, first difference at row {at}: "
                      f"{value[at] if at < len(value) else None!r} vs "
                      f"{other[at] if at < len(other) else None!r}")
        else:
            detail = f"{value!r:.300} vs {other!r:.300}"
        found.append(f"{name} (app vs naive): {detail}")
    return found


def demo_end(engine: Engine) -> dt.date:
    """The last day of the newest demo load: the views' 'today'."""
    with engine.connect() as connection:
        last = connection.scalar(select(DemoLoad.last_day).order_by(DemoLoad.id.desc())
                                 .limit(1))
        return last or queries.latest_contact_date(connection) or local_today()


# --- Sizes, memory, and the table ------------------------------------------------------------

def describe(label: str, url: str, engine: Engine) -> str:
    """Size on disk, contacts, demo end and (when recorded) how long the demo took to build."""
    with engine.connect() as connection:
        contacts = connection.scalar(select(func.count()).select_from(Contact))
        operators = connection.scalar(select(func.count()).select_from(Operator))
        if connection.dialect.name == "postgresql":
            size = connection.scalar(select(func.pg_database_size(func.current_database())))
            built = ""
        else:
            path = Path(url.removeprefix("sqlite:///"))
            size = sum(part.stat().st_size for part in (path, Path(f"{path}-wal"))
                       if part.exists())
            record = build_record(path)
            built = (f", built in {json.loads(record.read_text())['seconds']:.0f} s"
                     if record.exists() else ", build time not recorded")
    return (f"{label}: {size / 2**30:.2f} GiB, {contacts:,} contacts, {operators:,} "
            f"operators, demo ending "
            f"{demo_end(engine)}{built}")


def rss_child() -> None:
    """Render every page through app.py in AppTest (DATABASE_URL), then print the peak RSS."""
    import streamlit.logger

    streamlit.logger.set_log_level("error")
    first = {}
    for label, params in VIEWS.items():
        for page in PAGES:
            first[f"{page}, {label}"] = render_times(page, params)[0]
    first["simulator"] = render_times("simulator", {})[0]
    print(json.dumps({"rss_mb": peak_rss_mb(), "first_render_s": first}))


def peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage: Linux keeps ru_maxrss across execve, so a child
    started from this (large) benchmark would report the parent's peak; VmHWM is per image."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def app_rss(url: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--rss-child"], capture_output=True,
                          text=True, env={**os.environ, "DATABASE_URL": url}, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"the AppTest child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]

    def line(cells_: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width)
                                 for cell, width in zip(cells_, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows:
        print(line(row))


def table(layout: list[Cell], scales: list[float], figures: dict[tuple[str, str, str], float],
          naive_scales: list[float], postgres: bool, whole_scale: float | None = None,
          roster: str | None = None) -> None:
    """page | view | a column per scale | ratio | naive and speed-up per scale | PostgreSQL |
    the largest scale with a fixed roster, and its ratio to the smallest scale."""
    low, high = scales[0], scales[-1]
    header = ["page", "view", *(f"scale {scale:g}" for scale in scales)]
    if len(scales) > 1:
        header.append(f"ratio {high:g}/{low:g} (≤ {RATIO_TARGET:g})")
    compared = [("naive", "naive (range)", scale) for scale in naive_scales]
    if whole_scale is not None:
        compared.append(("whole", "naive (whole table)", whole_scale))
    for _, name, scale in compared:
        header += [f"{name} scale {scale:g}", f"speed-up (≥ {SPEED_UP_TARGET:g}×)"]
    if postgres:
        header.append("PostgreSQL scale 1")
    if roster:
        header += [roster, f"ratio to scale {low:g} (≤ {RATIO_TARGET:g})"]

    def seconds(key: tuple[str, str, str]) -> str:
        return f"{figures[key]:.3f} s" if key in figures else "–"

    rows = []
    for cell in layout:
        key = (cell.page, cell.view)
        row = [cell.page, cell.view, *(seconds((*key, f"app {scale:g}")) for scale in scales)]
        if len(scales) > 1:
            first, last = figures.get((*key, f"app {low:g}")), figures.get(
                (*key, f"app {high:g}"))
            ratio = last / first if first and last else None
            row.append("–" if ratio is None else f"{ratio:.2f} {verdict(ratio <= RATIO_TARGET)}")
        for prefix, _, scale in compared:
            app, naive = figures.get((*key, f"app {scale:g}")), figures.get(
                (*key, f"{prefix} {scale:g}"))
            row.append(seconds((*key, f"{prefix} {scale:g}")))
            speed_up = naive / app if app and naive else None
            row.append("–" if speed_up is None
                       else f"{speed_up:.1f}× {verdict(speed_up >= SPEED_UP_TARGET)}")
        if postgres:
            row.append(seconds((*key, "postgres")))
        if roster:
            first, fixed = figures.get((*key, f"app {low:g}")), figures.get((*key, "roster"))
            row.append(seconds((*key, "roster")))
            row.append(f"{fixed / first:.2f} {verdict(fixed / first <= RATIO_TARGET)}"
                       if first and fixed else "–")
        rows.append(row)
    print_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-build", action="store_true",
                        help="never generate: use the newest cached demo of each scale")
    parser.add_argument("--build-only", action="store_true",
                        help="generate (or bring up to date) the demos, measure nothing")
    parser.add_argument("--naive-at-10", action="store_true",
                        help="also run the naive path at the largest scale (slow)")
    parser.add_argument("--whole-table", action="store_true",
                        help="also the naive path that loads each raw table whole, as the "
                             "issue words it (scale 1, one repeat: it is slow)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also time the app's path on this PostgreSQL (scale-1 demo)")
    parser.add_argument("--roster", type=float, metavar="R",
                        help="also time the largest scale with the roster of scale R: as many "
                             "rows, the operators the agents page ranks held fixed")
    parser.add_argument("--no-rss", action="store_true", help="skip the AppTest memory run")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child()
        return
    scales = sorted(set(args.scales))
    urls = {scale: sqlite_demo(scale, build=not args.skip_build) for scale in scales}
    for scale, url in urls.items():
        if url is None:
            note(f"no cached scale-{scale:g} demo: run without --skip-build to generate it")
    scales = [scale for scale in scales if urls[scale]]
    postgres = (prepared_demo(args.postgres, 1.0, build=not args.skip_build)
                if args.postgres else None)
    if args.postgres and postgres is None:
        raise SystemExit("the PostgreSQL database holds no finished demo (drop --skip-build)")
    databases = {f"scale {scale:g}": urls[scale] for scale in scales}
    roster_label = None
    if args.roster is not None:
        roster_url = sqlite_demo(scales[-1], not args.skip_build, args.roster)
        if roster_url is None:
            raise SystemExit("no cached demo with that roster (drop --skip-build)")
        roster_label = f"scale {scales[-1]:g}, roster {args.roster:g}"
        databases[roster_label] = roster_url
    if postgres:
        databases["PostgreSQL scale 1"] = postgres
    engines = {label: create_db_engine(url) for label, url in databases.items()}
    sizes = [describe(label, databases[label], engine) for label, engine in engines.items()]
    if args.build_only or not scales:
        print(*sizes, sep="\n")
        return

    naive_scales = [scales[0]] + ([scales[-1]] if args.naive_at_10 and len(scales) > 1 else [])
    figures: dict[tuple[str, str, str], float] = {}
    mismatches: list[str] = []
    layout = cells(demo_end(engines[f"scale {scales[0]:g}"]))
    runs = [(f"scale {scale:g}", f"app {scale:g}", Database) for scale in scales]
    runs += [(f"scale {scale:g}", f"naive {scale:g}", Naive) for scale in naive_scales]
    if args.whole_table:
        runs.append((f"scale {scales[0]:g}", f"whole {scales[0]:g}", WholeTableNaive))
    if postgres:
        runs.append(("PostgreSQL scale 1", "postgres", Database))
    if roster_label:
        runs.append((roster_label, "roster", Database))
    headlines: dict[tuple[str, str, str], Headline] = {}
    for label, column, kind in runs:
        engine = engines[label]
        for cell in cells(demo_end(engine)):
            if kind is WholeTableNaive and cell.state is None:
                continue  # the simulator's naive already reads whole weeks of raw rows
            seconds, headline = timed(
                engine, lambda connection, cell=cell, kind=kind: cell.run(kind(connection,
                                                                              cell.state)),
                1 if kind is WholeTableNaive else args.repeats)
            figures[(cell.page, cell.view, column)] = seconds
            note(f"{column:<9} {cell.page:<10} {cell.view:<26} {seconds:8.3f} s")
            if kind is Database:
                headlines[(label, cell.page, cell.view)] = headline
            else:  # the app's path at this scale ran first
                mismatches += [f"{label} {cell.page}, {cell.view}: {difference}"
                               for difference in differences(
                                   headlines[(label, cell.page, cell.view)], headline)]

    rss = None
    if not args.no_rss:
        note(f"rendering every page through AppTest on scale {scales[-1]:g} for its RSS …")
        rss = app_rss(urls[scales[-1]])

    print(f"\nmedian of {args.repeats} after one warm-up, fresh connection each; views as of "
          "each demo's last day")
    table(layout, scales, figures, naive_scales, postgres is not None,
          scales[0] if args.whole_table else None, roster_label)
    print(*sizes, sep="\n")
    if rss is not None:
        slowest = max(rss["first_render_s"].items(), key=lambda item: item[1])
        print(f"app peak RSS, every dashboard in both views and the simulator through "
              f"AppTest on scale {scales[-1]:g}: {rss['rss_mb']:.0f} MB "
              f"(target < {RSS_TARGET_MB:.0f} MB) "
              f"{verdict(rss['rss_mb'] < RSS_TARGET_MB)}; slowest first render "
              f"{slowest[1]:.1f} s ({slowest[0]})")
    if mismatches:
        print(f"the naive path disagrees with the app's in {len(mismatches)} figures:",
              *mismatches, sep="\n  ")
        raise SystemExit(1)
    print("naive and app paths agree on every headline figure compared")


if __name__ == "__main__":
    main()
