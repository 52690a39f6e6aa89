"""``atlas grant``, ``atlas revoke``, ``atlas overrides clear`` and ``atlas overrides list``:
per-user exceptions to the catalog, published to ``atlas.overrides`` (the worker applies them,
the sink keeps them as an audit trail)."""

from __future__ import annotations

import asyncio
import getpass
import time
from datetime import UTC, datetime
from typing import Any

from api import queries
from atlas.customer_lookup import customer_row, resolve_customer
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import ensure_topics
from atlas.override_requests import OverrideError, build_override, parse_until
from atlas.services import current_catalog
from atlas.settings import load_settings
from schemas.topics import Topics
from sinks.database import async_engine


def publish_override(
    effect: str,
    user: str | None,
    customer: str | None,
    feature: str,
    limit: int | None,
    until: str | None,
    reason: str,
    applied_by: str | None,
) -> int:
    settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    customer_id, user_id = resolve_customer(settings, user, customer)
    override = build_override(
        current_catalog(settings),
        customer_id=customer_id,
        user_id=user_id,
        feature=feature,
        effect=effect,
        limit=limit,
        until=parse_until(until) if until else None,
        applied_by=applied_by or getpass.getuser(),
        reason=reason,
        now_ms=int(time.time() * 1000),
    )
    producer = CommandProducer(settings.kafka_bootstrap_servers, settings.publish_timeout_s * 2)
    producer.send(topics.overrides, override.to_json(), customer_id.encode())
    producer.flush()
    lapses = ""
    if override.until is not None:
        lapses = f" until {datetime.fromtimestamp(override.until, UTC):%Y-%m-%d %H:%M}Z"
    print(
        f"atlas {effect}: {feature} for customer {customer_id}"
        f"{f' (user {user_id})' if user_id else ''}{lapses}; published as {override.override_id}"
    )
    return 0


def list_overrides(user: str | None, customer: str | None) -> int:
    settings = load_settings(need_database=True)

    async def latest() -> tuple[str | None, list[dict[str, Any]]]:
        row = await customer_row(settings, user, customer)
        customer_id = str(row["stripe_customer_id"]) if row else customer
        if customer_id is None:
            return None, []
        engine = async_engine(settings.database_url)
        try:
            return customer_id, await queries.latest_overrides(engine, customer_id)
        finally:
            await engine.dispose()

    customer_id, rows = asyncio.run(latest())
    if customer_id is None:
        raise OverrideError(f"user {user!r} has no Stripe customer known to Atlas")
    if not rows:
        print(f"no overrides for customer {customer_id}")
    for row in rows:
        limit = f" limit {row['limit']}" if row["limit"] is not None else ""
        until = f" until {row['until']:%Y-%m-%d %H:%M}Z" if row["until"] else ""
        print(
            f"{row['feature']:24} {row['effect']:6}{limit}{until}  "
            f"by {row['applied_by']} at {row['applied_at']:%Y-%m-%d %H:%M}Z: {row['reason']}"
        )
    return 0
