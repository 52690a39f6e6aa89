"""Read a topic from the beginning, all partitions, without a consumer group.

tansu's high watermark is wrong, so "the end" is never taken from end offsets: readers poll
until they have seen what they wait for, or until the topic has been quiet for a while.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class TopicReader:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.records: list[Record] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

    def poll_for(self, seconds: float) -> list[Record]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is None or message.error():
                continue
            self.records.append(
                Record(
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key(),
                    value=message.value(),
                    headers={k: v for k, v in (message.headers() or [])},
                )
            )
        return self.records

    def read_until(self, predicate, timeout_s: float = 30) -> list[Record]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while not predicate(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s reading the topic")
            self.poll_for(0.3)
        return self.records

    def close(self) -> None:
        self._consumer.close()


def read_stripe_events_through(bootstrap: str, topic: str, event_id: str) -> list[Record]:
    """Every record of ``topic`` read until the one carrying ``event_id`` has been seen."""
    wanted = event_id.encode()
    reader = TopicReader(bootstrap, topic)
    try:
        return reader.read_until(
            lambda rs: any(r.headers.get("stripe-event-id") == wanted for r in rs)
        )
    finally:
        reader.close()
