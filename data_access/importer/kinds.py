"""What each `--kind` reads, how its rows are checked and where they are stored."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import Table

from data_access.importer.checks import VALUE_MAX, Checks, is_given, shown_time
from data_access.importer.columns import referenced_column, value_column
from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES
from data_access.schema import (
    ABANDONED,
    CASE_KINDS,
    CASE_STAGES,
    CLOSED_STAGES,
    SERVED_BY,
    STAFFING_POOLS,
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    NpsSurvey,
    Operator,
    Staffing,
)

INT_MAX = 2**31 - 1  # INTEGER columns (wait_s, handle_s, bot_s)
MAX_AGENTS = 100_000  # agents on duty in one pool and quarter hour
STAGE_RANK = {stage: min(rank, CASE_STAGES.index(CLOSED_STAGES[0]))
              for rank, stage in enumerate(CASE_STAGES)}  # answered and withdrawn rank alike


@dataclass(frozen=True)
class Reference:
    """An input column that names a row of another table by its external id."""

    column: str  # input column, e.g. operator_external_id
    table: Table
    target: str  # the id it resolves to, e.g. operator_id
    what: str  # how the problem names the missing row
    extra: tuple[str, ...] = ()  # columns of the referenced row read too (see `referenced`)

    @property
    def key(self) -> str:
        return value_column(self.column)


@dataclass(frozen=True)
class AlsoUnique:
    """A second unique key (one rating per contact): a clash is rejected, never skipped.

    The messages take the earlier row's number (in the file) or the stored row's external_id.
    """

    column: str  # input column reported on
    target: str  # the table column that is unique
    in_file: str
    stored: str


@dataclass(frozen=True)
class Kind:
    """What one `--kind` reads, how it is checked and where it is stored."""

    name: str
    table: Table
    checks: Checks
    key: tuple[str, ...]  # input columns that identify a row (in the file and in the table)
    stored: dict[str, str]  # table column -> typed value
    references: tuple[Reference, ...] = ()
    also_unique: tuple[AlsoUnique, ...] = ()

    @property
    def columns(self) -> list[str]:
        return self.checks.columns

    @property
    def required_columns(self) -> list[str]:
        return [name for name in self.columns if name not in self.checks.optional]


def _codes(rows: tuple) -> dict[str, int]:
    return {row.code: row.id for row in rows}


def _contacts() -> Kind:
    checks = Checks()
    checks.text("external_id")
    checks.timestamp("started_at")
    checks.choice("channel", _codes(CHANNELS), "channel code", target="channel_id")
    no_contacts = [channel.id for channel in CHANNELS if not channel.takes_contacts]
    checks.rule("channel", pl.col(value_column("channel_id")).is_in(no_contacts),
                "this channel takes no contacts (cases only)")
    checks.choice("region", _codes(REGIONS), "region code", target="region_id", list_codes=False)
    checks.choice("service_type", _codes(SERVICE_TYPES), "service type code",
                  target="service_type_id")
    checks.choice("served_by", {value: value for value in SERVED_BY}, "served_by")
    checks.text("operator_external_id", required=False)
    checks.empty_unless("operator_external_id", pl.col(value_column("served_by")) == "operator",
                        "served_by is operator")
    checks.integer("wait_s", 0, INT_MAX)
    checks.integer("handle_s", 0, INT_MAX)
    checks.text("subscriber_key")
    served_by = pl.col(value_column("served_by"))
    checks.rule("handle_s", (served_by == ABANDONED) & (pl.col(value_column("handle_s")) != 0),
                "must be 0 when served_by is abandoned (nobody handled it; wait_s is the time "
                "it waited before giving up)")
    # Seconds with the chat bot before the person queue: on contacts a person finished or
    # that gave up waiting for one.
    checks.integer("bot_s", 0, INT_MAX, required=False, in_header=False)
    checks.rule("bot_s", is_given("bot_s") & ~served_by.is_in(["operator", ABANDONED]),
                "must be empty unless served_by is operator or abandoned (bot_s is the bot "
                "time of a contact handed to the person queue; a contact the bot finished has "
                "served_by bot)")
    return Kind(
        "contacts", Contact.__table__, checks, key=("external_id",),
        references=(Reference("operator_external_id", Operator.__table__, "operator_id",
                               "no operator with this external_id"),),
        stored={"external_id": "external_id", "started_at": "started_at",
                "channel_id": "channel_id", "region_id": "region_id",
                "service_type_id": "service_type_id", "served_by": "served_by",
                "operator_id": "operator_id", "wait_s": "wait_s", "handle_s": "handle_s",
                "subscriber_key": "subscriber_key", "bot_s": "bot_s"})


def _surveys() -> Kind:
    checks = Checks()
    checks.text("contact_external_id")
    checks.timestamp("sent_at")
    checks.boolean("answered")
    answered = pl.col(value_column("answered"))
    checks.integer("score", 0, 10, required=False)
    checks.empty_unless("score", answered, "answered is true")
    checks.text("reason", required=False, in_header=False)
    checks.rule("reason", ~answered & is_given("reason"), "must be empty unless answered is true")
    checks.text("suggestion", required=False, max_length=VALUE_MAX, in_header=False)
    checks.rule("suggestion", ~answered & is_given("suggestion"),
                "must be empty unless answered is true")
    checks.timestamp("answered_at", required=False, in_header=False)
    checks.empty_unless("answered_at", answered, "answered is true")
    checks.not_before("answered_at", "sent_at")
    served_by = pl.col(referenced_column(Contact.__table__, "served_by"))
    checks.rule("contact_external_id", served_by == ABANDONED,
                "the contact was abandoned (served_by): nobody served it, so it has no survey")
    return Kind(
        "surveys", NpsSurvey.__table__, checks, key=("contact_external_id",),
        references=(Reference("contact_external_id", Contact.__table__, "contact_id",
                               "no contact with this external_id (import contacts first)",
                               extra=("served_by",)),),
        stored={"contact_id": "contact_id", "sent_at": "sent_at", "answered": "answered",
                "score": "score", "reason": "reason", "suggestion": "suggestion",
                "answered_at": "answered_at"})


def _cases() -> Kind:
    checks = Checks()
    checks.text("external_id")
    checks.choice("kind", {value: value for value in CASE_KINDS}, "kind")
    checks.choice("channel", _codes(CHANNELS), "channel code", target="channel_id")
    no_cases = [channel.id for channel in CHANNELS if not channel.takes_cases]
    checks.rule("channel", pl.col(value_column("channel_id")).is_in(no_cases),
                "this channel takes no cases")
    checks.text("category", max_length=128)
    checks.choice("region", _codes(REGIONS), "region code", target="region_id", list_codes=False)
    checks.timestamp("received_at")
    checks.choice("status", {value: value for value in CASE_STAGES}, "status")
    checks.timestamp("resolved_at", required=False)
    checks.empty_unless("resolved_at", pl.col(value_column("status")).is_in(CLOSED_STAGES),
                        f"status is {' or '.join(CLOSED_STAGES)}")
    checks.not_before("resolved_at", "received_at")
    return Kind(
        "cases", Case.__table__, checks, key=("external_id",),
        stored={"external_id": "external_id", "kind": "kind", "channel_id": "channel_id",
                "category": "category", "region_id": "region_id",
                "received_at": "received_at", "status": "status",
                "resolved_at": "resolved_at"})


def _case_events() -> Kind:
    """Each event is checked against its case here; against the case's other events (stored
    or earlier in the file) in `Importer._out_of_order`."""
    checks = Checks()
    checks.text("case_external_id")
    checks.choice("stage", {value: value for value in CASE_STAGES}, "stage")
    checks.timestamp("at")
    case = Case.__table__
    at, stage = pl.col(value_column("at")), pl.col(value_column("stage"))
    received, status, resolved = (pl.col(referenced_column(case, name))
                                  for name in ("received_at", "status", "resolved_at"))
    closing, case_closed = stage.is_in(CLOSED_STAGES), status.is_in(CLOSED_STAGES)
    rank = stage.replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64)
    status_rank = status.replace_strict(STAGE_RANK, default=None, return_dtype=pl.Int64)
    checks.rule("at", at < received,
                pl.format("before the case's received_at {}", shown_time(received)))
    checks.rule("stage", closing & status.is_not_null() & ~case_closed,
                pl.format("the case's status is {}: it has no closing event ({}) yet", status,
                          stage))
    checks.rule("stage", closing & case_closed & (stage != status),
                pl.format("the case's status is {}: answered and withdrawn exclude each other",
                          status))
    checks.rule("stage", ~closing & ~case_closed & (rank > status_rank),
                pl.format("the case's status is {}: {} is a later stage", status, stage))
    checks.rule("at", closing & (stage == status) & (at != resolved),
                pl.format("the closing event must be at the case's resolved_at {}",
                          shown_time(resolved)))
    checks.rule("at", ~closing & (at > resolved),
                pl.format("after the case's resolved_at {}", shown_time(resolved)))
    return Kind(
        "case_events", CaseEvent.__table__, checks, key=("case_external_id", "stage"),
        references=(Reference("case_external_id", case, "case_id",
                               "no case with this external_id (import cases first)",
                               extra=("received_at", "status", "resolved_at")),),
        stored={"case_id": "case_id", "stage": "stage", "at": "at"})


def _ratings() -> Kind:
    checks = Checks()
    checks.text("external_id")
    checks.text("contact_external_id")
    checks.text("operator_external_id")
    checks.integer("score", 1, 5)
    checks.timestamp("rated_at")
    served_by = pl.col(referenced_column(Contact.__table__, "served_by"))
    checks.rule("contact_external_id", served_by != "operator",
                pl.format("the contact was served by {} (served_by), not an operator: only "
                          "a contact a person served is rated", served_by))
    return Kind(
        "ratings", AgentRating.__table__, checks, key=("external_id",),
        references=(
            Reference("contact_external_id", Contact.__table__, "contact_id",
                       "no contact with this external_id (import contacts first)",
                       extra=("served_by",)),
            Reference("operator_external_id", Operator.__table__, "operator_id",
                       "no operator with this external_id")),
        also_unique=(AlsoUnique(
            "contact_external_id", "contact_id",
            in_file="contact already rated in row {}; one rating per contact",
            stored="contact already rated: rating {} is stored for it; one rating per contact"),),
        stored={"external_id": "external_id", "operator_id": "operator_id",
                "contact_id": "contact_id", "score": "score", "rated_at": "rated_at"})


def _staffing() -> Kind:
    """Agents on duty per day, quarter hour and pool: one row per interval and pool."""
    checks = Checks()
    checks.day("date")
    checks.quarter_hour("start")
    checks.choice("pool", {value: value for value in STAFFING_POOLS}, "pool")
    checks.integer("agents", 0, MAX_AGENTS)
    return Kind(
        "staffing", Staffing.__table__, checks, key=("date", "start", "pool"),
        stored={"day": "date", "quarter": "start", "pool": "pool", "agents": "agents"})


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    _contacts(), _surveys(), _cases(), _case_events(), _ratings(), _staffing())}
