"""Baseline: the raw tables as ServicePulse created them before migrations existed.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-03

Constraint names are final (`op.f`): the ORM's naming convention made them already.
A database made by the older code (no alembic_version table) is stamped with this revision
and upgraded from here. Frozen: later schema changes are new revisions, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAGES = "('received', 'assigned', 'under_review', 'answer_prepared', 'answered', 'withdrawn')"
OPEN_CASE = "status NOT IN ('answered', 'withdrawn')"
WITH_COMPLAINT = "score <= 6 AND suggestion IS NOT NULL"


def _id(table: str, column: str = "id", type_=BIG_ID) -> list:
    return [sa.Column(column, type_, autoincrement=True, nullable=False),
            sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))]


def _fk(table: str, column: str, referred: str, **options) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"],
                                   name=op.f(f"fk_{table}_{column}_{referred}"), **options)


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _reference(table: str, *columns: sa.Column, checks: tuple = ()) -> None:
    op.create_table(
        table, *_id(table, type_=sa.SmallInteger()),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        *columns, *checks, _unique(table, "code"))


def upgrade() -> None:
    _reference("channels", *[sa.Column(name, sa.Boolean(), nullable=False) for name in (
        "is_online", "is_24x7", "takes_contacts", "takes_cases")])
    op.create_table(
        "demo_loads", *_id("demo_loads", type_=sa.Integer()),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False))
    _reference("regions", sa.Column("kind", sa.String(8), nullable=False),
               checks=(_check("regions", "kind", "kind IN ('region', 'city')"),))
    _reference("service_types", sa.Column("triggers_agent_rating", sa.Boolean(), nullable=False))

    op.create_table(
        "cases", *_id("cases"),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel_id", sa.SmallInteger(), nullable=False),
        sa.Column("category", sa.String(128), nullable=False),
        sa.Column("region_id", sa.SmallInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        _check("cases", "resolved_when_closed",
               "(resolved_at IS NOT NULL) = (status IN ('answered', 'withdrawn'))"),
        _check("cases", "kind", "kind IN ('complaint', 'appeal')"),
        _check("cases", "status", f"status IN {STAGES}"),
        _check("cases", "resolved_order", "resolved_at IS NULL OR resolved_at >= received_at"),
        _fk("cases", "channel_id", "channels"), _fk("cases", "region_id", "regions"),
        _unique("cases", "external_id"))
    op.create_index("ix_cases_open_by_channel", "cases",
                    ["channel_id", "kind", "received_at", "id"],
                    sqlite_where=sa.text(OPEN_CASE), postgresql_where=sa.text(OPEN_CASE))
    op.create_index("ix_cases_received_at_kind", "cases", ["received_at", "kind"])
    op.create_index("ix_cases_resolved_at_kind", "cases", ["resolved_at", "kind"])
    op.create_index("ix_cases_status_kind", "cases", ["status", "kind"])

    op.create_table(
        "operators", *_id("operators", type_=sa.Integer()),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("team", sa.String(16), nullable=False),
        sa.Column("region_id", sa.SmallInteger(), nullable=False),
        sa.Column("active_from", sa.Date(), nullable=False),
        sa.Column("active_to", sa.Date(), nullable=True),
        _check("operators", "team", "team IN ('front_line', 'digital')"),
        _check("operators", "active_dates", "active_to IS NULL OR active_to >= active_from"),
        _fk("operators", "region_id", "regions"), _unique("operators", "external_id"))

    op.create_table(
        "case_events", *_id("case_events"),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        _check("case_events", "stage", f"stage IN {STAGES}"),
        _fk("case_events", "case_id", "cases", ondelete="CASCADE"),
        _unique("case_events", "case_id", "stage"))

    op.create_table(
        "contacts", *_id("contacts"),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("channel_id", sa.SmallInteger(), nullable=False),
        sa.Column("region_id", sa.SmallInteger(), nullable=False),
        sa.Column("service_type_id", sa.SmallInteger(), nullable=False),
        sa.Column("served_by", sa.String(16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("wait_s", sa.Integer(), nullable=False),
        sa.Column("handle_s", sa.Integer(), nullable=False),
        sa.Column("subscriber_key", sa.String(64), nullable=False),
        _check("contacts", "operator_when_served",
               "(served_by = 'operator') = (operator_id IS NOT NULL)"),
        _check("contacts", "served_by", "served_by IN ('operator', 'bot', 'self_service')"),
        _check("contacts", "handle_nonnegative", "handle_s >= 0"),
        _check("contacts", "wait_nonnegative", "wait_s >= 0"),
        _fk("contacts", "channel_id", "channels"), _fk("contacts", "operator_id", "operators"),
        _fk("contacts", "region_id", "regions"),
        _fk("contacts", "service_type_id", "service_types"),
        _unique("contacts", "external_id"))
    op.create_index("ix_contacts_started_at_dims", "contacts",
                    ["started_at", "channel_id", "region_id", "service_type_id"])

    op.create_table(
        "agent_ratings", *_id("agent_ratings"),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        _check("agent_ratings", "score_range", "score BETWEEN 1 AND 5"),
        _fk("agent_ratings", "contact_id", "contacts"),
        _fk("agent_ratings", "operator_id", "operators"),
        _unique("agent_ratings", "contact_id"), _unique("agent_ratings", "external_id"))
    op.create_index("ix_agent_ratings_operator_id_rated_at", "agent_ratings",
                    ["operator_id", "rated_at"])
    op.create_index("ix_agent_ratings_rated_at_operator", "agent_ratings",
                    ["rated_at", "operator_id"])

    op.create_table(
        "nps_surveys",
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("suggestion", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        _check("nps_surveys", "score_when_answered", "answered = (score IS NOT NULL)"),
        _check("nps_surveys", "answered_after_sent",
               "answered_at IS NULL OR answered_at >= sent_at"),
        _check("nps_surveys", "score_range", "score IS NULL OR (score BETWEEN 0 AND 10)"),
        _fk("nps_surveys", "contact_id", "contacts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_nps_surveys")))
    op.create_index("ix_nps_surveys_complaints_answered_at", "nps_surveys",
                    ["answered_at", "contact_id"], sqlite_where=sa.text(WITH_COMPLAINT),
                    postgresql_where=sa.text(WITH_COMPLAINT))


def downgrade() -> None:
    for table in ("nps_surveys", "agent_ratings", "contacts", "case_events", "operators",
                  "cases", "service_types", "regions", "demo_loads", "channels"):
        op.drop_table(table)
