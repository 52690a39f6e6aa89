"""How far the worker has got: its consumer group's committed offset on a partition of
``stripe.events``. The worker commits about every second, after processing; a record below the
committed offset has been processed.

Reading a group's offsets (OffsetFetch) neither joins the group nor commits anything.
"""

from __future__ import annotations

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from atlas.kafka_topics import BrokerUnavailable
from atlas.partition_reader import partition_of_key
from atlas.settings import Settings
from atlas.worker_generation import current_generation, worker_app_id
from schemas.topics import Topics


def committed_offset(
    settings: Settings, topics: Topics, key: bytes, timeout_s: float = 30
) -> tuple[int, int]:
    """(partition, the worker's committed offset there) for the partition of ``stripe.events``
    that holds ``key``; the offset is 0 when the worker has committed none."""
    partition = partition_of_key(
        settings.kafka_bootstrap_servers, topics.stripe_events, key, timeout_s
    )
    generation = current_generation(settings, topics, timeout_s)
    group = worker_app_id(settings, generation.number if generation else 0)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        wanted = [TopicPartition(topics.stripe_events, partition)]
        (found,) = consumer.committed(wanted, timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailable(f"could not read the worker's offsets: {exc}") from None
    finally:
        consumer.close()
    if found.error is not None:
        raise BrokerUnavailable(f"could not read the worker's offsets: {found.error}")
    return partition, 0 if found.offset == OFFSET_INVALID else int(found.offset)
