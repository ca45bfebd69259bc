"""contacts.bot_s: seconds with the chat bot before a person took over (issue 13).

Revision ID: 0002_contacts_bot_s
Revises: 0001_baseline
Create Date: 2026-12-03

NULL for every existing row (no bot involved, or not recorded). The CHECK allows it only on
operator-served contacts: a contact the bot finished is served_by = 'bot' with its time in
handle_s, so bot_s marks the escalated ones, started in the bot and finished by a person.

SQLite cannot add a CHECK to a table, so batch mode copies `contacts` into a new table. The
rollup triggers are dropped first (their bodies name `contacts`, and SQLite refuses to rename a
table over them) and the rollups' stored version is cleared, so `data_access.migrate`
re-creates the triggers and rebuilds the rollups right after, in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_contacts_bot_s"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

RULE = "bot_s IS NULL OR (bot_s >= 0 AND served_by = 'operator')"
CHECK = "ck_contacts_bot_s_escalated"


def _contacts_at_baseline() -> sa.Table:
    """`contacts` as 0001 made it: batch mode copies this definition, not a reflection."""
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
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.CheckConstraint("(served_by = 'operator') = (operator_id IS NOT NULL)",
                           name="ck_contacts_operator_when_served"),
        sa.CheckConstraint("served_by IN ('operator', 'bot', 'self_service')",
                           name="ck_contacts_served_by"),
        sa.CheckConstraint("handle_s >= 0", name="ck_contacts_handle_nonnegative"),
        sa.CheckConstraint("wait_s >= 0", name="ck_contacts_wait_nonnegative"),
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


def upgrade() -> None:
    _release_rollups()
    with op.batch_alter_table("contacts", copy_from=_contacts_at_baseline()) as batch:
        batch.add_column(sa.Column("bot_s", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f(CHECK), sa.text(RULE))


def downgrade() -> None:
    _release_rollups()
    table = _contacts_at_baseline()
    table.append_column(sa.Column("bot_s", sa.Integer(), nullable=True))
    table.append_constraint(sa.CheckConstraint(RULE, name=CHECK))
    with op.batch_alter_table("contacts", copy_from=table) as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.drop_column("bot_s")
