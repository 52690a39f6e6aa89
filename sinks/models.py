"""The Postgres tables Atlas writes. Created and changed only by migrations (``atlas migrate``)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("stripe_customer_id", Text, primary_key=True),
    Column("user_id", Text, nullable=True),
    Column("stripe_subscription_id", Text, nullable=True),
    Column("plan", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("stripe_status", Text, nullable=True),
    Column("price_id", Text, nullable=True),
    Column("current_period_end", DateTime(timezone=True), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("features", ARRAY(Text), nullable=False),
    Column("feature_bits", BigInteger, nullable=False),
    Column("limits", JSONB, nullable=False),
    Column("banner", Text, nullable=True),
    Column("unknown_price", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("source_event_id", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("grace_until", DateTime(timezone=True), nullable=True),
    Index("subscriptions_user_id", "user_id"),
)

catalogs = Table(
    "catalogs",
    metadata,
    Column("version", BigInteger, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

invoices = Table(
    "invoices",
    metadata,
    Column("stripe_invoice_id", Text, primary_key=True),
    Column("stripe_customer_id", Text, nullable=False),
    Column("stripe_subscription_id", Text, nullable=True),
    Column("status", Text, nullable=True),
    Column("amount_due", BigInteger, nullable=True),
    Column("amount_paid", BigInteger, nullable=True),
    Column("currency", Text, nullable=True),
    Column("hosted_invoice_url", Text, nullable=True),
    Column("invoice_created", DateTime(timezone=True), nullable=True),
    Column("last_event_type", Text, nullable=False),
    Column("last_event_id", Text, nullable=False),
    Column("event_created", BigInteger, nullable=False),
    Column("status_rank", SmallInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("invoices_customer", "stripe_customer_id", "invoice_created"),
)

overrides = Table(
    "overrides",
    metadata,
    Column("override_id", Text, primary_key=True),
    Column("stripe_customer_id", Text, nullable=False),
    Column("user_id", Text, nullable=True),
    Column("feature", Text, nullable=False),
    Column("effect", Text, nullable=False),
    Column("limit", BigInteger, nullable=True),
    Column("until", DateTime(timezone=True), nullable=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_at_ms", BigInteger, nullable=False),
    Column("applied_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Index("overrides_customer_feature", "stripe_customer_id", "feature", "applied_at_ms"),
)
