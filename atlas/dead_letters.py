"""``atlas dlq list`` and ``atlas dlq replay``: the records the worker could not process,
parked on ``stripe.events.dlq`` with where they came from and why, and sending them back once
the cause is fixed (processing is idempotent, so a record sent back twice changes nothing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from atlas.errors import AtlasError
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import BrokerUnavailable, ensure_topics
from atlas.partition_reader import read_to_end
from atlas.settings import Settings, load_settings
from schemas.topics import (
    DLQ_AT_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SOURCE_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    Topics,
)

_SOURCE = re.compile(r"^(?P<topic>.+)\[(?P<partition>\d+)\]@(?P<offset>\d+)$")
_DLQ_HEADERS = {DLQ_AT_HEADER, DLQ_REASON_HEADER, DLQ_SOURCE_HEADER}


class DeadLetterError(AtlasError):
    """A dead letter cannot be found or sent back; the message says which."""


@dataclass(frozen=True)
class DeadLetter:
    entry: str  # "partition:offset" on the DLQ topic
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")

    @property
    def source_topic(self) -> str:
        match = _SOURCE.match(self.header(DLQ_SOURCE_HEADER))
        if match is None:
            raise DeadLetterError(f"dead letter {self.entry} does not say where it came from")
        return match["topic"]


def read_dead_letters(settings: Settings, topics: Topics) -> list[DeadLetter]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    try:
        metadata = admin.list_topics(topics.dead_letters, timeout=15).topics[topics.dead_letters]
    except KafkaException as exc:
        raise BrokerUnavailable(f"could not read {topics.dead_letters}: {exc}") from None
    letters = []
    bootstrap = settings.kafka_bootstrap_servers
    for partition in sorted(metadata.partitions):
        for message in read_to_end(bootstrap, topics.dead_letters, partition):
            raw = message.headers() or []
            pairs = raw.items() if isinstance(raw, dict) else raw
            headers = {name: value for name, value in pairs if isinstance(value, bytes)}
            entry = f"{partition}:{message.offset()}"
            letters.append(DeadLetter(entry, message.key(), message.value() or b"", headers))
    return letters


def list_dead_letters() -> int:
    settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    letters = read_dead_letters(settings, topics)
    if not letters:
        print(f"{topics.dead_letters} is empty")
    for letter in letters:
        at = letter.header(DLQ_AT_HEADER)
        when = datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "?"
        print(
            f"{letter.entry:8} {when} {letter.header(DLQ_SOURCE_HEADER)} "
            f"{letter.header(EVENT_TYPE_HEADER) or '-'} {letter.header(EVENT_ID_HEADER) or '-'}\n"
            f"         {letter.header(DLQ_REASON_HEADER)}"
        )
    print(f"{len(letters)} dead letter(s)")
    return 0


def replay_dead_letters(entries: list[str], everything: bool) -> int:
    settings = load_settings()
    topics = Topics.with_prefix(settings.topic_prefix)
    letters = {letter.entry: letter for letter in read_dead_letters(settings, topics)}
    chosen = list(letters.values()) if everything else []
    for entry in entries:
        if entry not in letters:
            raise DeadLetterError(f"no dead letter {entry} (see `atlas dlq list`)")
        chosen.append(letters[entry])
    producer = CommandProducer(settings.kafka_bootstrap_servers, settings.publish_timeout_s * 4)
    for letter in chosen:
        if letter.key is None:
            raise DeadLetterError(f"dead letter {letter.entry} has no key: it cannot be placed")
        headers: list[tuple[str, str | bytes | None]] = [
            (name, value) for name, value in letter.headers.items() if name not in _DLQ_HEADERS
        ]
        producer.send(letter.source_topic, letter.value, letter.key, headers=headers)
    producer.flush()
    print(f"sent {len(chosen)} dead letter(s) back to be processed again")
    return 0
