"""The ServicePulse schema: one typed ORM, identical on SQLite and PostgreSQL.

Timestamps are naive and in the operator's local time (Asia/Almaty), because every chart is read
by local hour of day. Range and score rules live in the database as CHECK constraints so that no
loader, import or hand-written SQL can store an impossible value.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# How a contact ended: served by a person, the bot or self-service, or abandoned (the customer
# gave up waiting in the queue). "Served" figures count the first three only.
SERVED_BY = ("operator", "bot", "self_service", "abandoned")
SERVED = ("operator", "bot", "self_service")
ABANDONED = "abandoned"
TEAMS = ("front_line", "digital")
CASE_KINDS = ("complaint", "appeal")
CASE_STAGES = ("received", "assigned", "under_review", "answer_prepared", "answered", "withdrawn")
CLOSED_STAGES = ("answered", "withdrawn")
DETRACTOR_MAX_SCORE = 6
# Bot time is recorded only on contacts that reached the person queue after the bot: finished by
# a person (escalated) or abandoned while waiting for one.
BOT_S_RULE = "bot_s IS NULL OR (bot_s >= 0 AND served_by IN ('operator', 'abandoned'))"
# An abandoned contact was never handled: its wait_s is the time waited before giving up.
ABANDONED_RULE = "served_by <> 'abandoned' OR handle_s = 0"
# Agents on duty per quarter hour: the simulator's pools (sim/demand.py POOL_OF). Offices are
# one pool in total, as the simulator models them.
STAFFING_POOLS = ("digital", "office")
QUARTERS_PER_DAY = 96


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Detail lists read raw rows through partial indexes that hold only what they can show. The
# queries repeat these exact conditions as literal SQL: SQLite uses a partial index only
# when the query's WHERE contains the index's own terms.
OPEN_CASE = f"cases.status NOT IN ({', '.join(repr(v) for v in CLOSED_STAGES)})"
WITH_COMPLAINT = (f"nps_surveys.score <= {DETRACTOR_MAX_SCORE} "
                  "AND nps_surveys.suggestion IS NOT NULL")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    is_online: Mapped[bool] = mapped_column(Boolean)
    is_24x7: Mapped[bool] = mapped_column(Boolean)
    takes_contacts: Mapped[bool] = mapped_column(Boolean)
    takes_cases: Mapped[bool] = mapped_column(Boolean)


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (CheckConstraint(_in("kind", ("region", "city")), name="kind"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))


class ServiceType(Base):
    __tablename__ = "service_types"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # Agent-performance survey follows connection, replacement and disconnection of a service.
    triggers_agent_rating: Mapped[bool] = mapped_column(Boolean)


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (
        CheckConstraint(_in("team", TEAMS), name="team"),
        CheckConstraint("active_to IS NULL OR active_to >= active_from", name="active_dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    active_from: Mapped[dt.date] = mapped_column(Date)
    active_to: Mapped[dt.date | None] = mapped_column(Date)


class Contact(Base):
    """One service interaction, in an office or online, or one that gave up waiting.

    `served_by` says who finished it. A chat the bot finished is `bot` (its `handle_s` is the
    bot's time); one the bot started and handed to a person is `operator` with `bot_s`, the
    seconds spent with the bot first ("escalated"; `wait_s` is then the wait for the person).
    An `abandoned` contact left the person queue before being answered: no operator,
    `handle_s` 0, `wait_s` the seconds it waited, `bot_s` its bot time when the bot started it.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(_in("served_by", SERVED_BY), name="served_by"),
        CheckConstraint(
            "(served_by = 'operator') = (operator_id IS NOT NULL)", name="operator_when_served"
        ),
        CheckConstraint("wait_s >= 0", name="wait_nonnegative"),
        CheckConstraint("handle_s >= 0", name="handle_nonnegative"),
        CheckConstraint(BOT_S_RULE, name="bot_s_escalated"),
        CheckConstraint(ABANDONED_RULE, name="abandoned_unhandled"),
        Index("ix_contacts_started_at_dims", "started_at", "channel_id", "region_id",
              "service_type_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_types.id"))
    served_by: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    wait_s: Mapped[int] = mapped_column(Integer)
    handle_s: Mapped[int] = mapped_column(Integer)
    subscriber_key: Mapped[str] = mapped_column(String(64))
    # Seconds with the chat bot before a person took over; NULL when no bot was involved.
    bot_s: Mapped[int | None] = mapped_column(Integer)


class NpsSurvey(Base):
    """Sent after every contact (100% coverage); one row per contact, keyed by it."""

    __tablename__ = "nps_surveys"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score BETWEEN 0 AND 10)", name="score_range"),
        CheckConstraint("answered = (score IS NOT NULL)", name="score_when_answered"),
        CheckConstraint(
            "answered_at IS NULL OR answered_at >= sent_at", name="answered_after_sent"
        ),
        Index("ix_nps_surveys_complaints_answered_at", "answered_at", "contact_id",
              sqlite_where=text(WITH_COMPLAINT.replace("nps_surveys.", "")),
              postgresql_where=text(WITH_COMPLAINT.replace("nps_surveys.", ""))),
    )

    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)
    answered: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    reason: Mapped[str | None] = mapped_column(String(64))
    suggestion: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Case(Base):
    """A complaint (the service was bad) or an appeal (solve my problem)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("kind", CASE_KINDS), name="kind"),
        CheckConstraint(_in("status", CASE_STAGES), name="status"),
        CheckConstraint(
            "(resolved_at IS NOT NULL) = (" + _in("status", CLOSED_STAGES) + ")",
            name="resolved_when_closed",
        ),
        CheckConstraint("resolved_at IS NULL OR resolved_at >= received_at", name="resolved_order"),
        Index("ix_cases_received_at_kind", "received_at", "kind"),
        Index("ix_cases_resolved_at_kind", "resolved_at", "kind"),
        Index("ix_cases_status_kind", "status", "kind"),
        Index("ix_cases_open_by_channel", "channel_id", "kind", "received_at", "id",
              sqlite_where=text(OPEN_CASE.replace("cases.", "")),
              postgresql_where=text(OPEN_CASE.replace("cases.", ""))),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    category: Mapped[str] = mapped_column(String(128))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CaseEvent(Base):
    """Stage history: received → assigned → under review → answer prepared → answered|withdrawn."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(_in("stage", CASE_STAGES), name="stage"),
        UniqueConstraint("case_id", "stage"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class AgentRating(Base):
    """Agent-performance survey answer; it feeds operator pay, so one rating per contact."""

    __tablename__ = "agent_ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_agent_ratings_rated_at_operator", "rated_at", "operator_id"),
        Index("ix_agent_ratings_operator_id_rated_at", "operator_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id"), unique=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    rated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Staffing(Base):
    """Agents on duty (paid, before shrinkage) per day, quarter hour (local time) and pool.

    Small (96 x 2 rows a day): pages read it by day range directly, no rollup.
    """

    __tablename__ = "staffing"
    __table_args__ = (
        CheckConstraint(f"quarter BETWEEN 0 AND {QUARTERS_PER_DAY - 1}", name="quarter_range"),
        CheckConstraint(_in("pool", STAFFING_POOLS), name="pool"),
        CheckConstraint("agents >= 0", name="agents_nonnegative"),
    )

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    quarter: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    pool: Mapped[str] = mapped_column(String(16), primary_key=True)
    agents: Mapped[int] = mapped_column(Integer)


class DemoLoad(Base):
    """A demo load in progress or done: an interrupted first start is redone, not kept half."""

    __tablename__ = "demo_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    scale: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
