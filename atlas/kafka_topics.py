"""Create Atlas's topics when they are missing (idempotent; run by ingress, worker and sink)."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from atlas.errors import AtlasError
from schemas.topics import Topics

log = logging.getLogger(__name__)

# stripe.events is the replay log (see README, "Replaying"): it keeps everything by default.
_HISTORY = {"cleanup.policy": "delete", "retention.ms": "-1"}
_COMPACTED = {"cleanup.policy": "compact"}
_CHANGES = {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}


class BrokerUnavailable(AtlasError):
    """The Kafka bootstrap servers did not answer; check KAFKA_BOOTSTRAP_SERVERS."""


def topic_configs(topics: Topics) -> dict[str, dict[str, str]]:
    configs = {
        topics.stripe_events: _HISTORY,
        topics.invoices: _HISTORY,
        topics.overrides: _HISTORY,  # the audit trail of every override
        topics.dead_letters: _HISTORY,
        topics.entitlement_changes: _CHANGES,
        topics.timers: _CHANGES,
    }
    configs.update({name: _COMPACTED for name in topics.compacted})
    return configs


def ensure_topics(bootstrap: str, topics: Topics, partitions: int, timeout_s: float = 10) -> None:
    """Create every missing topic with ``partitions`` partitions; existing ones are left as is."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise BrokerUnavailable(f"Kafka at {bootstrap} did not answer: {exc}") from None
    wanted = [
        NewTopic(
            name,
            num_partitions=1 if name in (topics.catalog, topics.control) else partitions,
            replication_factor=-1,
            config=config,
        )
        for name, config in topic_configs(topics).items()
        if name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
            log.info("created topic %s", name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise BrokerUnavailable(f"could not create topic {name}: {exc}") from None
