"""contacts.served_by = 'abandoned': contacts that gave up waiting for a person (issue 16).

Revision ID: 0003_contacts_abandoned
Revises: 0002_contacts_bot_s
Create Date: 2026-12-04

An abandoned contact left the person queue before anyone answered it: no operator, handle_s
0, wait_s the seconds it waited, bot_s its time with the bot when the bot started it. The
CHECKs change accordingly: served_by admits 'abandoned', bot_s is allowed on operator-served
and abandoned contacts, and a new CHECK keeps an abandoned contact's handle_s at 0. Every
existing row already satisfies them (no row is abandoned yet), so no data moves.

As in 0002, SQLite cannot change a CHECK in place: batch mode copies `contacts` (defined here
as 0002 left it, not reflected) after the rollup triggers are dropped and the rollups' stored
version cleared; `data_access.migrate` re-creates and rebuilds them in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_contacts_abandoned"
down_revision = "0002_contacts_bot_s"
branch_labels = None
depends_on = None

SERVED_BY_BEFORE = "served_by IN ('operator', 'bot', 'self_service')"
SERVED_BY_AFTER = "served_by IN ('operator', 'bot', 'self_service', 'abandoned')"
BOT_S_BEFORE = "bot_s IS NULL OR (bot_s >= 0 AND served_by = 'operator')"
BOT_S_AFTER = "bot_s IS NULL OR (bot_s >= 0 AND served_by IN ('operator', 'abandoned'))"
UNHANDLED = "served_by <> 'abandoned' OR handle_s = 0"
SERVED_BY_CHECK, BOT_S_CHECK = "ck_contacts_served_by", "ck_contacts_bot_s_escalated"
UNHANDLED_CHECK = "ck_contacts_abandoned_unhandled"


def _contacts_at_0002() -> sa.Table:
    """`contacts` as 0002 left it: batch mode copies this definition, not a reflection."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    metadata = sa.MetaData()
    for name in ("channels", "regions", "service_types", "operators"):
        sa.Table(name, metadata, sa.Column("id", sa.Integer(), primary_key=True))
    return sa.Table(
        "contacts", metadata,
        sa.Column("id", big_id, autoincrement=True, nullable=False),
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
        sa.Column("bot_s", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.CheckConstraint("(served_by = 'operator') = (operator_id IS NOT NULL)",
                           name="ck_contacts_operator_when_served"),
        sa.CheckConstraint(SERVED_BY_BEFORE, name=SERVED_BY_CHECK),
        sa.CheckConstraint("handle_s >= 0", name="ck_contacts_handle_nonnegative"),
        sa.CheckConstraint("wait_s >= 0", name="ck_contacts_wait_nonnegative"),
        sa.CheckConstraint(BOT_S_BEFORE, name=BOT_S_CHECK),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"],
                                name="fk_contacts_channel_id_channels"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"],
                                name="fk_contacts_operator_id_operators"),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"],
                                name="fk_contacts_region_id_regions"),
        sa.ForeignKeyConstraint(["service_type_id"], ["service_types.id"],
                                name="fk_contacts_service_type_id_service_types"),
        sa.UniqueConstraint("external_id", name="uq_contacts_external_id"),
        sa.Index("ix_contacts_started_at_dims", "started_at", "channel_id", "region_id",
                 "service_type_id"),
    )


def _release_rollups() -> None:
    """Drop the rollup triggers and forget the rollups' version: they are rebuilt after."""
    from data_access import rollups  # the live definitions: the rebuild follows this code

    bind = op.get_bind()
    rollups.drop_triggers(bind)
    if sa.inspect(bind).has_table(rollups.STATE.name):
        bind.execute(rollups.STATE.delete())


def _swap_checks(batch, drop: tuple[str, ...], create: dict[str, str]) -> None:
    for name in drop:
        batch.drop_constraint(op.f(name), type_="check")
    for name, rule in create.items():
        batch.create_check_constraint(op.f(name), sa.text(rule))


def upgrade() -> None:
    _release_rollups()
    with op.batch_alter_table("contacts", copy_from=_contacts_at_0002()) as batch:
        _swap_checks(batch, (SERVED_BY_CHECK, BOT_S_CHECK),
                     {SERVED_BY_CHECK: SERVED_BY_AFTER, BOT_S_CHECK: BOT_S_AFTER,
                      UNHANDLED_CHECK: UNHANDLED})


def downgrade() -> None:
    """Refused while abandoned contacts exist: the older schema cannot hold them."""
    abandoned = op.get_bind().scalar(sa.text(
        "SELECT count(*) FROM contacts WHERE served_by = 'abandoned'"))
    if abandoned:
        raise RuntimeError(f"cannot downgrade below 0003_contacts_abandoned: {abandoned} "
                           "abandoned contacts would not fit the older schema; delete them first")
    _release_rollups()
    table = _contacts_at_0002()
    for constraint in list(table.constraints):
        if constraint.name in (SERVED_BY_CHECK, BOT_S_CHECK):
            table.constraints.discard(constraint)
    for name, rule in ((SERVED_BY_CHECK, SERVED_BY_AFTER), (BOT_S_CHECK, BOT_S_AFTER),
                       (UNHANDLED_CHECK, UNHANDLED)):
        table.append_constraint(sa.CheckConstraint(rule, name=name))
    with op.batch_alter_table("contacts", copy_from=table) as batch:
        _swap_checks(batch, (SERVED_BY_CHECK, BOT_S_CHECK, UNHANDLED_CHECK),
                     {SERVED_BY_CHECK: SERVED_BY_BEFORE, BOT_S_CHECK: BOT_S_BEFORE})
