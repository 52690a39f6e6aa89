"""grace_until on subscriptions; the catalogs table (every published catalog version)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions", sa.Column("grace_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "catalogs",
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalogs")
    op.drop_column("subscriptions", "grace_until")
