"""subscriptions and invoices

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("stripe_customer_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=True),
        sa.Column("stripe_subscription_id", sa.Text, nullable=True),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("stripe_status", sa.Text, nullable=True),
        sa.Column("price_id", sa.Text, nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("features", ARRAY(sa.Text), nullable=False),
        sa.Column("feature_bits", sa.BigInteger, nullable=False),
        sa.Column("limits", JSONB, nullable=False),
        sa.Column("banner", sa.Text, nullable=True),
        sa.Column("unknown_price", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("source_event_id", sa.Text, nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("subscriptions_user_id", "subscriptions", ["user_id"])
    op.create_table(
        "invoices",
        sa.Column("stripe_invoice_id", sa.Text, primary_key=True),
        sa.Column("stripe_customer_id", sa.Text, nullable=False),
        sa.Column("stripe_subscription_id", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("amount_due", sa.BigInteger, nullable=True),
        sa.Column("amount_paid", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.Text, nullable=True),
        sa.Column("hosted_invoice_url", sa.Text, nullable=True),
        sa.Column("invoice_created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_type", sa.Text, nullable=False),
        sa.Column("last_event_id", sa.Text, nullable=False),
        sa.Column("event_created", sa.BigInteger, nullable=False),
        sa.Column("status_rank", sa.SmallInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("invoices_customer", "invoices", ["stripe_customer_id", "invoice_created"])


def downgrade() -> None:
    op.drop_table("invoices")
    op.drop_table("subscriptions")
