"""``atlas replay``: reprocess the worker's inputs (``stripe.events``, ``atlas.overrides``).

* ``--to-earliest`` rebuilds all state: it starts a new worker generation (see
  atlas/worker_generation.py). Workers started afterwards join a new consumer group with an
  empty table and fold every event and override from the start of the log.
* ``--to-datetime`` / ``--to-offsets`` re-deliver inputs from a point into the current state
  by moving the current group's committed offsets (Kafka's own offset reset). Folding is
  idempotent, so only inputs whose effect is missing change anything.

Workers must be stopped first: Kafka moves a group's offsets only while it has no members, and
a rebuild must not race the generation it replaces.
"""

from __future__ import annotations

import getpass
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from atlas.errors import AtlasError
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import BrokerUnavailable, ensure_topics
from atlas.settings import load_settings
from atlas.worker_generation import GENERATION_KEY, Generation, current_generation, worker_app_id
from schemas.topics import Topics

ADMIN_TIMEOUT_S = 15


class ReplayError(AtlasError):
    """The replay cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """Where to rewind: the start, a moment, or explicit ``stripe.events`` offsets."""

    earliest: bool = False
    moment: datetime | None = None
    offsets: dict[int, int] | None = None  # stripe.events partition -> offset


def parse_offsets(text: str) -> dict[int, int]:
    """``0=120,3=0`` → {0: 120, 3: 0}."""
    offsets = {}
    for part in text.split(","):
        partition, sep, offset = part.strip().partition("=")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ReplayError(f"--to-offsets takes PARTITION=OFFSET,…; {part!r} is not one")
        offsets[int(partition)] = int(offset)
    return offsets


def _result(what: str, future: Future[Any]) -> Any:
    try:
        return future.result(ADMIN_TIMEOUT_S)
    except KafkaException as exc:
        raise BrokerUnavailable(f"could not {what}: {exc}") from None


def _partitions(admin: AdminClient, topic: str) -> list[int]:
    metadata = admin.list_topics(topic, timeout=ADMIN_TIMEOUT_S).topics[topic]
    return [] if metadata.error is not None else sorted(metadata.partitions)


def _refuse_if_running(admin: AdminClient, group: str) -> None:
    described = _result("describe the worker group", admin.describe_consumer_groups([group])[group])
    if described.members:
        raise ReplayError(
            f"stop every `atlas worker` first: group {group} has {len(described.members)} member(s)"
        )


def _targets(admin: AdminClient, topics: Topics, target: Target) -> list[TopicPartition]:
    if target.offsets is not None:
        unknown = sorted(set(target.offsets) - set(_partitions(admin, topics.stripe_events)))
        if unknown:
            raise ReplayError(f"{topics.stripe_events} has no partition(s) {unknown}")
        return [TopicPartition(topics.stripe_events, p, o) for p, o in target.offsets.items()]
    assert target.moment is not None
    spec = OffsetSpec.for_timestamp(int(target.moment.timestamp() * 1000))
    wanted = {
        TopicPartition(topic, partition): spec
        for topic in (topics.stripe_events, topics.overrides)
        for partition in _partitions(admin, topic)
    }
    found = admin.list_offsets(wanted, request_timeout=ADMIN_TIMEOUT_S)
    return [
        TopicPartition(tp.topic, tp.partition, max(_result("look up offsets", future).offset, 0))
        for tp, future in found.items()
    ]


def _committed(admin: AdminClient, group: str) -> dict[tuple[str, int], int]:
    listed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    partitions = _result("read the committed offsets", listed).topic_partitions
    return {(tp.topic, tp.partition): tp.offset for tp in partitions}


def _rewind(admin: AdminClient, group: str, moves: list[TopicPartition], dry_run: bool) -> None:
    committed = _committed(admin, group)
    for tp in sorted(moves, key=lambda tp: (tp.topic, tp.partition)):
        before = committed.get((tp.topic, tp.partition), -1)
        print(
            f"  {tp.topic}[{tp.partition}]: committed {before if before >= 0 else 'none'}"
            f" -> {tp.offset}"
        )
    if dry_run:
        return
    altered = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, moves)])
    result = _result("move the worker group's offsets", altered[group])
    failed = [tp for tp in result.topic_partitions if tp.error]
    if failed:
        raise ReplayError(
            f"the broker refused to move {failed[0].topic}[{failed[0].partition}]: "
            f"{failed[0].error.str()} (is an `atlas worker` still running? on tansu see README)"
        )


def run_replay(target: Target, dry_run: bool, reason: str) -> int:
    settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    current = current_generation(settings, topics)
    number = current.number if current else 0
    group = worker_app_id(settings, number)
    _refuse_if_running(admin, group)
    if not target.earliest:
        print(f"worker group {group}:")
        _rewind(admin, group, _targets(admin, topics, target), dry_run)
    else:
        rebuilt = worker_app_id(settings, number + 1)
        print(
            f"rebuild: generation {number} ({group}) -> {number + 1} ({rebuilt}); workers "
            f"started afterwards fold {topics.stripe_events} and {topics.overrides} from "
            "the start into an empty table"
        )
        if not dry_run:
            generation = Generation(number + 1, int(time.time()), getpass.getuser(), reason)
            producer = CommandProducer(settings.kafka_bootstrap_servers, settings.publish_timeout_s)
            producer.send(topics.control, generation.to_json(), GENERATION_KEY)
            producer.flush()
    print("--dry-run: nothing changed" if dry_run else "done: start the workers")
    return 0
