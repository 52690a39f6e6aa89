"""``atlas sink``: consume ``atlas.entitlements``, ``atlas.invoices``, ``atlas.catalog`` and
``atlas.overrides``, upsert Postgres.

At-least-once: offsets are committed only after the batch's transaction committed. While
Postgres is unreachable the batch is retried with exponential backoff (up to 30 s between
tries) and nothing is committed, so nothing is lost; writes are idempotent, so a batch written
twice changes nothing. A record Postgres refuses as data (a NUL in a text, say) would fail every
retry and stop the sink for everyone: it is logged, counted and skipped, and the rest of its
batch is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import CommitFailedError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from atlas import metrics
from atlas.settings import Settings
from schemas.catalog_document import CatalogDocument
from schemas.entitlements import Entitlements
from schemas.invoices import InvoiceRecord
from schemas.overrides import Override
from schemas.topics import Topics
from sinks.postgres import (
    insert_catalogs,
    insert_overrides,
    upsert_invoices,
    upsert_subscriptions,
)

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass
class Batch:
    entitlements: list[Entitlements] = field(default_factory=list)
    invoices: list[InvoiceRecord] = field(default_factory=list)
    catalogs: list[CatalogDocument] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)

    def singles(self) -> list[Batch]:
        """One batch per record, in order within each table."""
        return [
            *(Batch(entitlements=[record]) for record in self.entitlements),
            *(Batch(invoices=[record]) for record in self.invoices),
            *(Batch(catalogs=[record]) for record in self.catalogs),
            *(Batch(overrides=[record]) for record in self.overrides),
        ]


def _reason(refusal: DataError) -> str:
    """Postgres's reason, without the statement or its parameters (they hold the data)."""
    return str(refusal.orig).splitlines()[0] if refusal.orig is not None else "DataError"


class PostgresSink:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.topics = Topics.with_prefix(settings.topic_prefix)
        self.settings = settings
        self.engine = engine
        self.counts: Counter[str] = Counter()

    def _consumer(self) -> AIOKafkaConsumer:
        group_ms = self.settings.group_timeout_ms
        return AIOKafkaConsumer(
            self.topics.entitlements,
            self.topics.invoices,
            self.topics.catalog,
            self.topics.overrides,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=f"{self.settings.topic_prefix}atlas-sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            rebalance_timeout_ms=group_ms,
            session_timeout_ms=group_ms,
            heartbeat_interval_ms=max(100, min(3000, group_ms // 6)),
            max_poll_interval_ms=600_000,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
        )

    def _parse(self, records: list[ConsumerRecord[bytes, bytes]]) -> Batch:
        batch = Batch()
        for record in records:
            try:
                if record.topic == self.topics.entitlements:
                    batch.entitlements.append(Entitlements.from_json(record.value))
                elif record.topic == self.topics.catalog:
                    batch.catalogs.append(CatalogDocument.from_json(record.value))
                elif record.topic == self.topics.overrides:
                    batch.overrides.append(Override.from_json(record.value))
                else:
                    batch.invoices.append(InvoiceRecord.from_json(record.value))
            except (ValueError, TypeError, KeyError) as exc:
                self.counts["invalid"] += 1
                log.error(
                    "skipping malformed record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc,
                )
        return batch

    async def _transaction(self, batch: Batch) -> None:
        started = time.perf_counter()
        async with self.engine.begin() as connection:
            written = {
                "subscriptions": await upsert_subscriptions(connection, batch.entitlements),
                "invoices": await upsert_invoices(connection, batch.invoices),
                "catalogs": await insert_catalogs(connection, batch.catalogs),
                "overrides": await insert_overrides(connection, batch.overrides),
            }
        metrics.SINK_SECONDS.observe(time.perf_counter() - started)
        for table, rows in written.items():
            self.counts[table] += rows
            metrics.SINK_ROWS.labels(table).inc(rows)

    async def _write(self, batch: Batch, stop: asyncio.Event) -> bool:
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._transaction(batch)
                return True
            except DataError as exc:
                # Postgres refuses the data itself (a NUL in a text, say): retrying the batch
                # cannot help, so find the records it refuses and write the others.
                return await self._write_each(batch, exc, stop)
            except (OperationalError, DBAPIError, OSError) as exc:
                self.counts["db_errors"] += 1
                metrics.SINK_DB_ERRORS.inc()
                log.warning(
                    "Postgres write failed, retrying in %.1f s: %s", backoff, exc.__class__.__name__
                )
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        return False

    async def _write_each(self, batch: Batch, refusal: DataError, stop: asyncio.Event) -> bool:
        singles = batch.singles()
        if len(singles) == 1:
            self.counts["rejected"] += 1
            metrics.SINK_REJECTED.inc()
            log.error("Postgres refuses a record, skipped: %s", _reason(refusal))
            return True
        for single in singles:
            if not await self._write(single, stop):
                return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._consumer()
        await consumer.start()
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=500, max_records=2000)
                records = [record for part in fetched.values() for record in part]
                if not records:
                    continue
                if not await self._write(self._parse(records), stop):
                    break
                try:
                    await consumer.commit()
                except CommitFailedError as exc:
                    log.warning("offset commit failed (group rebalanced), will reprocess: %s", exc)
                self.counts["records"] += len(records)
        finally:
            await consumer.stop()
