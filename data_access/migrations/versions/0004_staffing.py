"""staffing: agents on duty per day, quarter hour and pool (issue 16).

Revision ID: 0004_staffing
Revises: 0003_contacts_abandoned
Create Date: 2026-12-04

One row per day x quarter hour (0..95, local time) x pool ('digital': the chat channels,
'office': all service offices in total, as the simulator's pools) with the agents on duty,
paid and before shrinkage. A new table: nothing to copy, no rollup depends on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_staffing"
down_revision = "0003_contacts_abandoned"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staffing",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quarter", sa.SmallInteger(), nullable=False),
        sa.Column("pool", sa.String(16), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.CheckConstraint("quarter BETWEEN 0 AND 95", name=op.f("ck_staffing_quarter_range")),
        sa.CheckConstraint("pool IN ('digital', 'office')", name=op.f("ck_staffing_pool")),
        sa.CheckConstraint("agents >= 0", name=op.f("ck_staffing_agents_nonnegative")),
        sa.PrimaryKeyConstraint("day", "quarter", "pool", name=op.f("pk_staffing")))


def downgrade() -> None:
    op.drop_table("staffing")
