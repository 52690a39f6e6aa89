"""The Faust worker app: one agent folds ``stripe.events``, ``atlas.overrides`` and
``atlas.timers`` (timer ticks, catalog re-derive notices) per customer.

At-least-once: Faust commits an input offset only after the agent has processed it, so a crash
replays a few events; the fold drops duplicates by event id and every register is
last-writer-wins, so a replayed event changes nothing. A replayed input can also be all that is
left of messages that never went out: the table write of a worker killed mid-event can reach
the broker before its messages. So when an input the record already holds (a duplicate event
or override, a tick no longer due, a catalog notice already applied) meets a record another
process announced, the record's state is announced again (``CustomerProcessor.announce_again``;
same versions, so the sink and consumers ignore what they already have); a replayed invoice
event sends its invoice record again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import faust
import orjson
from faust.types import EventT

from atlas import metrics
from atlas.catalog import Catalog, CatalogError, parse_catalog
from atlas.catalog_topic import parse_control
from atlas.partition_reader import partition_of
from atlas.settings import Settings
from schemas.catalog_document import CatalogDocument
from schemas.overrides import Override
from schemas.stripe_event import NotAStripeEvent, StripeEvent, event_from_mapping
from schemas.topics import (
    DLQ_AT_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SOURCE_HEADER,
    EVENT_ID_HEADER,
    Topics,
)
from streams.at_least_once import AckedHeadTransport, SeekFirstTableManager
from streams.customer_records import CustomerRecord
from streams.customer_table import CustomerTable
from streams.output_producer import OutputProducer, flush_before_commits
from streams.processor import CustomerProcessor, Outcome
from streams.stall_watchdog import StallWatchdog
from streams.stripe_fetcher import StripeFetcher

log = logging.getLogger(__name__)

TABLE_NAME = "customers"
COUNTS_LOG_INTERVAL_S = 60.0


def _kafka_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(","))


def create_app(settings: Settings, catalog: Catalog, app_id: str) -> faust.App:
    """Build the worker app (``app_id``: its consumer group, see atlas/worker_generation.py);
    ``faust.Worker(app).execute_from_commandline()`` runs it."""
    topics = Topics.with_prefix(settings.topic_prefix)
    group_timeout_s = settings.group_timeout_ms / 1000
    producer_batch: dict[str, Any] = {}
    if settings.worker_producer_batch_bytes is not None:
        producer_batch["producer_max_batch_size"] = settings.worker_producer_batch_bytes
    app = faust.App(
        app_id,
        broker=_kafka_url(settings.kafka_bootstrap_servers),
        store=settings.worker_store,
        datadir=str(settings.worker_data_dir),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        broker_session_timeout=group_timeout_s,
        broker_rebalance_timeout=group_timeout_s,
        broker_heartbeat_interval=min(3.0, group_timeout_s / 6),
        broker_request_timeout=max(90.0, group_timeout_s * 2),
        broker_commit_interval=1.0,
        consumer_max_fetch_size=8 * 1024 * 1024,
        recovery_consistency_check=settings.recovery_consistency_check,
        TableManager=SeekFirstTableManager,  # no input skipped on a restart (at_least_once.py)
        **producer_batch,
    )
    app.transport = AckedHeadTransport(app.conf.broker_consumer, app)  # nor committed over
    inputs = app.topic(
        topics.stripe_events,
        topics.timers,
        topics.overrides,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )
    outputs = OutputProducer(settings.kafka_bootstrap_servers)
    changelog = OutputProducer(
        settings.kafka_bootstrap_servers,
        batch_bytes=settings.worker_producer_batch_bytes,
        report_offsets=True,  # a RocksDB store records the changelog offsets it holds
    )
    flush_before_commits(app.producer, changelog, outputs)
    timer_topic = app.topic(topics.timers, key_serializer="raw", value_serializer="raw")
    # str keys and JSON values: Faust ignores a raw table schema, and recovery then fails.
    table = CustomerTable(
        app,
        name=TABLE_NAME,
        default=None,
        partitions=settings.topic_partitions,
        beacon=app.tables.beacon,
    )
    app.tables.add(table)
    table.attach(changelog)
    processor = CustomerProcessor(catalog, topics)
    metrics.CATALOG_VERSION.set(catalog.version)
    fetcher = StripeFetcher.from_settings(settings)
    counts: Counter[str] = Counter()  # events by type, duplicates, invalid records, timer drops

    def count(kind: str) -> None:
        counts[kind] += 1
        metrics.EVENTS.labels(kind).inc()

    writer = uuid.uuid4().hex  # this process, in the records it announced

    def emit(
        key: bytes, outcome: Outcome, replayed: bool = False, event: StripeEvent | None = None
    ) -> None:
        """Write the record and send the messages. ``replayed``: an input the record already
        holds, so possibly the replay of one whose messages an earlier process never sent."""
        record = outcome.record
        if replayed:
            processor.announce_again(outcome, event, record_too=record.writer != writer)
        if outcome.messages:
            record.writer = writer
        table[key.decode()] = record.to_dict()
        for topic, value in outcome.messages:
            if topic == topics.entitlement_changes:
                metrics.CHANGES.inc()
            outputs.send(topic, key, value)

    async def on_stripe_event(key: bytes, value: bytes) -> None:
        try:
            event = event_from_mapping(orjson.loads(value))
        except (orjson.JSONDecodeError, NotAStripeEvent, TypeError) as exc:
            count("invalid")
            log.error(
                "skipping a record on %s that is not a Stripe event: %s", topics.stripe_events, exc
            )
            return
        if event.customer_id is None:
            count("no_customer")
            return
        stored = table.get(key.decode())
        record = CustomerRecord.from_dict(stored) if stored else None
        outcome = processor.on_event(record, event, int(time.time()))
        fold = outcome.fold
        assert fold is not None
        count("duplicate" if fold.duplicate else event.type if fold.handled else "unhandled")
        if fold.subscription_to_fetch and fetcher is not None:
            subscription = await fetcher.subscription(fold.subscription_to_fetch)
            if subscription is not None:
                outcome = processor.on_fetched_subscription(
                    outcome, subscription, event, int(time.time())
                )
        if fold.entitlements_to_fetch:
            keys = await fetcher.active_entitlement_keys(event.customer_id) if fetcher else None
            if keys is None:
                count("entitlement_summary_unfetched")
                log.error(
                    "entitlement summary %s of %s has more pages and Stripe could not be asked "
                    "for them (STRIPE_SECRET_KEY unset or the API failed); it was not applied",
                    event.id,
                    event.customer_id,
                    extra={"event_id": event.id, "customer_id": event.customer_id},
                )
            else:
                outcome = processor.on_fetched_entitlements(outcome, keys, event, int(time.time()))
        emit(key, outcome, fold.duplicate, event)

    async def on_tick(key: bytes) -> None:
        stored = table.get(key.decode())
        if stored is None:
            return
        record = CustomerRecord.from_dict(stored)
        if record.due_at is None or record.due_at > time.time():
            if record.writer != writer:  # a replayed tick: its change may never have left
                emit(key, Outcome(record=record), replayed=True)
            return
        count("timer")
        emit(key, processor.on_tick(record, int(time.time())))

    partitions_of_keys: dict[str, int] = {}  # murmur2 in Python costs ~4 µs a key: once each

    def partition_of_customer(name: str) -> int:
        """The input partition of a customer (murmur2, as the ingress places it)."""
        partition = partitions_of_keys.get(name)
        if partition is None:
            partition = partition_of(name.encode(), settings.topic_partitions)
            partitions_of_keys[name] = partition
        return partition

    def switch_catalog(document: CatalogDocument) -> bool:
        """Adopt ``document`` unless it is older; ``False`` when it cannot be used."""
        if document.version < processor.catalog.version:
            return True
        source = f"published catalog version {document.version}"
        try:
            catalog = parse_catalog(document.source, settings.price_ids, source, document.version)
        except CatalogError as exc:
            log.error("keeping catalog version %s: %s", processor.catalog.version, exc)
            return False
        if catalog.version > processor.catalog.version:
            log.info("switching to catalog version %s", catalog.version)
        processor.catalog = catalog
        metrics.CATALOG_VERSION.set(catalog.version)
        return True

    async def on_catalog(partition: int, document: CatalogDocument) -> None:
        """Re-derive every customer of ``partition``: changes go out only where access did."""
        replayed = document.version == processor.catalog.version  # may be: applied already
        if document.version < processor.catalog.version or not switch_catalog(document):
            return
        now = int(time.time())
        for name in list(table.keys()):
            if partition_of_customer(name) != partition:
                continue
            key = name.encode()
            stored = table.get(name)
            if stored is not None:
                count("catalog_rederived")
                outcome = processor.on_catalog_change(CustomerRecord.from_dict(stored), now)
                emit(key, outcome, replayed)

    async def on_timers_record(event: EventT[Any], key: bytes) -> None:
        try:
            document = parse_control(event.value)
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            count("invalid")
            log.error("skipping a record on %s that is not understood: %s", topics.timers, exc)
            return
        if document is None:
            await on_tick(key)
        else:
            await on_catalog(event.message.partition, document)

    async def on_override(key: bytes, value: bytes) -> None:
        try:
            override = Override.from_json(value)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            count("invalid")
            log.error("skipping a record on %s that is not an override: %s", topics.overrides, exc)
            return
        if override.customer_id != key.decode():
            count("invalid")
            log.error("skipping override %s keyed by another customer", override.override_id)
            return
        stored = table.get(override.customer_id)
        record = CustomerRecord.from_dict(stored) if stored else None
        replayed = record is not None and override.override_id in record.state.seen_event_ids
        count("override")
        emit(key, processor.on_override(record, override, int(time.time())), replayed)

    dead_letters = app.topic(topics.dead_letters, key_serializer="raw", value_serializer="raw")

    async def dead_letter(event: EventT[Any], exc: Exception) -> None:
        """Park a record that processing cannot survive, with where it came from and why, so
        its partition keeps flowing (``atlas dlq list`` / ``atlas dlq replay``)."""
        message = event.message
        source = f"{message.topic}[{message.partition}]@{message.offset}"
        reason = f"{exc.__class__.__name__}: {exc}"[:500]
        counts["dead_lettered"] += 1
        metrics.DEAD_LETTERS.inc()
        original = message.headers or []
        pairs = list(original.items() if isinstance(original, Mapping) else original)
        kept = [(str(name), value) for name, value in pairs if isinstance(value, bytes)]
        event_id = dict(kept).get(EVENT_ID_HEADER)
        log.error(
            "record %s sent to %s: %s",
            source,
            topics.dead_letters,
            reason,
            exc_info=exc,
            extra={
                "event_id": event_id.decode() if event_id else None,
                "customer_id": event.key.decode() if isinstance(event.key, bytes) else None,
            },
        )
        headers = [
            *kept,
            (DLQ_SOURCE_HEADER, source.encode()),
            (DLQ_REASON_HEADER, reason.encode()),
            (DLQ_AT_HEADER, str(int(time.time())).encode()),
        ]
        await dead_letters.send(key=event.key, value=event.value, headers=headers)

    @app.agent(inputs, name="fold-customers")
    async def fold_customers(stream: Any) -> None:
        event: EventT[Any]
        async for event in stream.events():
            key = event.key
            if not isinstance(key, bytes):
                count("no_key")
                continue
            try:
                if event.message.topic == topics.timers:
                    await on_timers_record(event, key)
                elif event.message.topic == topics.overrides:
                    await on_override(key, event.value)
                else:
                    await on_stripe_event(key, event.value)
            except Exception as exc:  # whatever crashed: dead-letter it, keep the partition going
                await dead_letter(event, exc)

    watchdog = StallWatchdog(
        (topics.stripe_events, topics.timers, topics.overrides), settings.stall_after_s
    )

    @app.timer(min(5.0, settings.stall_after_s))  # type: ignore[untyped-decorator]
    async def reread_stalled_partitions() -> None:
        await watchdog.check(app.consumer)
        counts["partition_rereads"] = watchdog.reseeks

    @app.timer(COUNTS_LOG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def log_counts() -> None:
        if counts:
            log.info("processed since start: %s", dict(counts.most_common()))

    @app.timer(settings.timer_interval_s)  # type: ignore[untyped-decorator]
    async def find_due_customers() -> None:
        now = time.time()
        for key, stored in list(table.items()):
            due_at = stored.get("due_at")
            if due_at is not None and due_at <= now:
                await timer_topic.send(key=key.encode(), value=b"{}")

    return app
