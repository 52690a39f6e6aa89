"""Read one partition from its start to its end, without a consumer group.

"The end" is the end-of-partition marker of a fetch response, never a ListOffsets answer:
tansu answers ListOffsets with a short high watermark (see README, "tansu gaps").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from aiokafka.partitioner import murmur2
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from atlas.kafka_topics import BrokerUnavailable


def partition_of(key: bytes, partitions: int) -> int:
    """Where the Java client's partitioner (ours: ``murmur2_random``) puts ``key``."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def read_to_end(
    bootstrap: str, topic: str, partition: int, timeout_s: float = 30
) -> Iterator[Message]:
    """Every record of ``topic[partition]``, oldest first; raises :class:`BrokerUnavailable`
    when the partition cannot be read to its end within ``timeout_s`` of silence."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"atlas-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        while True:
            message = consumer.poll(0.2)
            if message is None:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(f"could not read {topic}[{partition}] to its end")
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return
                raise BrokerUnavailable(f"could not read {topic}[{partition}]: {error.str()}")
            deadline = time.monotonic() + timeout_s
            yield message
    finally:
        consumer.close()


def partition_of_key(bootstrap: str, topic: str, key: bytes, timeout_s: float = 30) -> int:
    """The partition of ``topic`` that holds ``key`` (asks the broker for the count)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "atlas-metadata"})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
    except KafkaException as exc:
        raise BrokerUnavailable(f"could not read the partitions of {topic}: {exc}") from None
    finally:
        consumer.close()
    if metadata.error is not None or not metadata.partitions:
        raise BrokerUnavailable(f"topic {topic} does not exist")
    return partition_of(key, len(metadata.partitions))


def records_of_key(bootstrap: str, topic: str, key: bytes, timeout_s: float = 30) -> list[Message]:
    """Every record written under ``key``, oldest first (reads the key's whole partition)."""
    partition = partition_of_key(bootstrap, topic, key, timeout_s)
    return [
        message
        for message in read_to_end(bootstrap, topic, partition, timeout_s)
        if message.key() == key
    ]


def values_of_key(bootstrap: str, topic: str, key: bytes, timeout_s: float = 30) -> list[bytes]:
    """Every value written under ``key``, oldest first (reads the key's whole partition)."""
    return [message.value() or b"" for message in records_of_key(bootstrap, topic, key, timeout_s)]
