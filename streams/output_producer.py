"""The worker's output records (``atlas.subscriptions``, ``atlas.entitlements``,
``atlas.entitlements.changes``, ``atlas.invoices``) written through librdkafka.

Sending through Faust costs the worker's only core most of its time: aiokafka builds and writes
every produce request in Python. librdkafka (confluent-kafka) batches and writes them on its
own threads, so a send is one C call here.

At-least-once still holds: Faust flushes its producer before it commits input offsets, and
:func:`flush_before_commits` makes that flush wait for these records first. A record the broker
refuses for good fails that flush, the commit does not happen, and the worker stops; its inputs
are processed again by the next worker (idempotently). Records never time out locally
(``message.timeout.ms=0``): a broker outage holds the commit back instead of dropping output.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from atlas.errors import AtlasError
from atlas.kafka_produce import UNASSIGNED

log = logging.getLogger(__name__)

FLUSH_WAIT_S = 1.0  # one wait of the flush loop; the loop lasts until everything is delivered


class OutputNotDelivered(AtlasError):
    """The broker refused an output record for good; its input must not be committed."""


class OutputProducer:
    """``batch_bytes``: librdkafka's ``batch.size``; 1 makes every record a batch of its own,
    which tansu needs for the table's changelog (README "The embedded broker").
    ``report_offsets``: learn each record's offset, for :meth:`on_flushed` listeners."""

    def __init__(
        self,
        bootstrap: str,
        batch_bytes: int | None = None,
        linger_ms: int = 1,
        report_offsets: bool = False,
    ) -> None:
        self._failures: list[str] = []
        self._reports_offsets = report_offsets
        self._delivered: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset
        self._flush_listeners: list[Callable[[dict[tuple[str, int], int]], None]] = []
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,  # keeps each customer's records in order on retries
            "acks": "all",
            "partitioner": "murmur2_random",  # aiokafka's default, as Faust placed them
            "linger.ms": linger_ms,
            "message.timeout.ms": 0,
            "queue.buffering.max.messages": 1_000_000,
            # a report per record costs a Python call each; without listeners only failures
            "delivery.report.only.error": not report_offsets,
        }
        if batch_bytes is not None:
            config["batch.size"] = batch_bytes
        self._producer = Producer(config)

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        """Queue one record for ``topic`` under ``key`` (placed by key unless ``partition``)."""
        placement = UNASSIGNED if partition is None else partition
        while True:
            try:
                self._producer.produce(
                    topic, value, key, partition=placement, on_delivery=self._on_delivery
                )
                return
            except BufferError:  # a million records queued: the broker is far behind; wait
                self._producer.poll(0.1)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(error.str())
        else:
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is not None and partition is not None and offset is not None:
                self._delivered[(topic, partition)] = offset

    def on_flushed(self, listener: Callable[[dict[tuple[str, int], int]], None]) -> None:
        """Call ``listener`` with the last delivered offset per partition after each flush
        (needs ``report_offsets``)."""
        assert self._reports_offsets, "on_flushed needs OutputProducer(report_offsets=True)"
        self._flush_listeners.append(listener)

    async def flush(self) -> None:
        """Return once the broker has every record sent so far; raise
        :class:`OutputNotDelivered` if it refused one."""
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, self._producer.flush, FLUSH_WAIT_S) > 0:
            self._raise_on_failure()
        self._raise_on_failure()
        delivered = dict(self._delivered)
        for listener in self._flush_listeners:
            listener(delivered)

    def _raise_on_failure(self) -> None:
        if self._failures:
            raise OutputNotDelivered(f"the broker refused an output record: {self._failures[0]}")


def flush_before_commits(faust_producer: Any, *producers: OutputProducer) -> None:
    """Make Faust's producer flush (which Faust awaits before every offset commit) wait for
    ``producers`` too. Faust has no hook for this, so the bound method is replaced."""
    faust_flush: Callable[[], Awaitable[None]] = faust_producer.flush

    async def flush_ours_then_faust() -> None:
        try:
            for producer in producers:
                await producer.flush()
        except OutputNotDelivered:
            log.critical("not committing: an output record was refused; stopping the worker")
            raise
        await faust_flush()

    faust_producer.flush = flush_ours_then_faust
