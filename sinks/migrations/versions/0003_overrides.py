"""overrides: the audit trail of every grant, revoke and clear

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overrides",
        sa.Column("override_id", sa.Text, primary_key=True),
        sa.Column("stripe_customer_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=True),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("effect", sa.Text, nullable=False),
        sa.Column("limit", sa.BigInteger, nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at_ms", sa.BigInteger, nullable=False),
        sa.Column("applied_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index(
        "overrides_customer_feature",
        "overrides",
        ["stripe_customer_id", "feature", "applied_at_ms"],
    )


def downgrade() -> None:
    op.drop_table("overrides")
