"""Following a Kafka topic into the cache from a background thread.

Every client instance reads every partition itself (``assign()``, no consumer group, no
commits): each instance must see every change. The change topic is read from its end; in
Kafka-bootstrap mode the compacted ``atlas.entitlements`` topic is read from its beginning and
then followed. Watermark *values* are never used (tansu reports wrong ones); "read to the end"
comes from the partition-EOF events of fetch responses, and "the broker is live" from any
message or a periodic metadata round trip.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from atlas_client import _wire
from atlas_client._cache import NEVER, EntitlementCache
from atlas_client._settings import ClientSettings
from atlas_client.models import UserEntitlements

log = logging.getLogger("atlas_client")

_POLL_SECONDS = 0.2
# The last contact is at most one probe interval old when the broker goes away, so entries
# can turn stale up to that much before max_age: 5 % of max_age, at most 5 s.
_PROBE_SHARE, _PROBE_SECONDS = 0.05, 5.0
_PROBE_TIMEOUT = 2.0


class ChangeStream:
    """One consumer thread keeping ``cache`` current from one topic."""

    def __init__(self, servers: str, settings: ClientSettings, cache: EntitlementCache) -> None:
        self.ready = False
        self.applied = 0
        self.skipped = 0
        self._cache = cache
        self._bootstrap = settings.kafka_only
        self._topic = settings.entitlements_topic if self._bootstrap else settings.changes_topic
        self._read: Callable[[bytes | None], UserEntitlements] = (
            _wire.entitlements_record if self._bootstrap else _wire.change_record
        )
        self._config = _consumer_config(servers, settings.kafka_config, self._bootstrap)
        self._probe_every = min(_PROBE_SECONDS, settings.max_age * _PROBE_SHARE)
        self._probe_timeout = min(_PROBE_TIMEOUT, settings.max_age / 4)
        self._pending_eof: set[int] = set()
        self._reachable = True
        self._missing_logged = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        consumer = Consumer(self._config)  # raises here, in the caller, on a bad setting
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name="atlas-client-stream", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, consumer: Consumer) -> None:
        try:
            while not self._stop.is_set() and not self._assign(consumer):
                self._stop.wait(self._probe_every)
            self._follow(consumer)
        finally:
            consumer.close()

    def _follow(self, consumer: Consumer) -> None:
        next_probe = time.monotonic() + self._probe_every
        while not self._stop.is_set():
            message = consumer.poll(_POLL_SECONDS)
            if message is not None:
                self._handle(message)
            if time.monotonic() >= next_probe:
                self._probe(consumer)
                next_probe = time.monotonic() + self._probe_every

    def _assign(self, consumer: Consumer) -> bool:
        try:
            metadata = consumer.list_topics(self._topic, timeout=self._probe_timeout)
        except KafkaException as exc:
            self._lost(exc)
            return False
        topic = metadata.topics[self._topic]
        if topic.error is not None or not topic.partitions:
            if not self._missing_logged:
                self._missing_logged = True
                log.warning("Kafka topic %s not found; waiting for it", self._topic)
            return False
        start = OFFSET_BEGINNING if self._bootstrap else OFFSET_END
        consumer.assign([TopicPartition(self._topic, p, start) for p in topic.partitions])
        self._pending_eof = set(topic.partitions)
        return True

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is None:
            self._apply(message.value())
        elif error.code() == KafkaError._PARTITION_EOF:
            self._reached_end(message.partition())
        else:
            log.debug("Kafka consumer: %s", error)

    def _apply(self, value: bytes | None) -> None:
        try:
            entitlements = self._read(value)
        except _wire.WireFormatError as exc:
            self.skipped += 1
            log.debug("skipped a record of %s: %s", self._topic, exc)
            return
        # Until the bootstrap read is complete nothing it wrote may count as fresh.
        confirmed = time.monotonic() if self.ready or not self._bootstrap else NEVER
        self._cache.offer(entitlements, confirmed)
        self.applied += 1
        self._touch()

    def _reached_end(self, partition: int | None) -> None:
        self._pending_eof.discard(partition if partition is not None else -1)
        if not self._pending_eof and not self.ready:
            self.ready = True
            log.info("read %s to its end: %d records applied", self._topic, self.applied)
        self._touch()

    def _probe(self, consumer: Consumer) -> None:
        try:
            consumer.list_topics(self._topic, timeout=self._probe_timeout)
        except KafkaException as exc:
            self._lost(exc)
            return
        if not self._reachable:
            self._reachable = True
            log.info("Kafka reachable again")
        self._touch()

    def _lost(self, exc: KafkaException) -> None:
        if self._reachable:
            self._reachable = False
            log.warning("Kafka unreachable (%s): entries expire after max_age", exc.args[0])

    def _touch(self) -> None:
        if self.ready:
            self._cache.stream_contact = time.monotonic()


def _consumer_config(servers: str, extra: Mapping[str, Any], bootstrap: bool) -> dict[str, Any]:
    return {
        "bootstrap.servers": servers,
        "auto.offset.reset": "earliest" if bootstrap else "latest",
        "logger": logging.getLogger("atlas_client.kafka"),
        "error_cb": _on_error,
        **extra,
        # Never shared, never committed: every instance reads every partition on its own.
        "group.id": f"atlas-client-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
    }


def _on_error(error: KafkaError) -> None:
    log.log(logging.ERROR if error.fatal() else logging.DEBUG, "Kafka: %s", error)
