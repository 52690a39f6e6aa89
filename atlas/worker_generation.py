"""Which generation of the worker's state is current: the value of key ``worker-generation``
on the compacted topic ``atlas.control``.

Generation N names the worker's consumer group and its table's changelog
(``{prefix}{ATLAS_WORKER_ID}``, then ``…-r{N}`` from N = 1). ``atlas replay --to-earliest``
publishes N + 1: workers started afterwards join a new group with no committed offsets and an
empty changelog, so they fold every event from the start of the log. Nothing is rewound in
place, so this works on any broker and leaves the previous generation intact until an
operator deletes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson

from atlas.partition_reader import read_to_end
from atlas.settings import Settings
from schemas.topics import Topics

GENERATION_KEY = b"worker-generation"


@dataclass(frozen=True, slots=True)
class Generation:
    number: int
    started_at: int
    started_by: str
    reason: str

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


def current_generation(
    settings: Settings, topics: Topics, timeout_s: float = 30
) -> Generation | None:
    """The latest generation published, or ``None`` (generation 0) before any rebuild."""
    latest = None
    for message in read_to_end(settings.kafka_bootstrap_servers, topics.control, 0, timeout_s):
        if message.key() == GENERATION_KEY and message.value():
            data = orjson.loads(message.value() or b"{}")
            if latest is None or data["number"] > latest.number:
                latest = Generation(**data)
    return latest


def worker_app_id(settings: Settings, generation: int) -> str:
    """The Faust app id: the consumer group, and the prefix of the changelog topic."""
    base = f"{settings.topic_prefix}{settings.worker_id}"
    return base if generation == 0 else f"{base}-r{generation}"
