"""What the log holds for one customer: their records on ``stripe.events`` (with where each
sits), their overrides, the worker's last output and state, and their dead letters.

Each read scans the customer's whole partition of one topic (see ``atlas/partition_reader``);
a broker that does not answer raises :class:`~atlas.kafka_topics.BrokerUnavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from atlas.partition_reader import records_of_key, values_of_key
from atlas.settings import Settings
from schemas.entitlements import Entitlements
from schemas.overrides import Override
from schemas.stripe_event import NotAStripeEvent, StripeEvent, event_from_mapping
from schemas.subscription_state import CustomerState
from schemas.topics import DLQ_REASON_HEADER, DLQ_SOURCE_HEADER, Topics


@dataclass(frozen=True, slots=True)
class ReceivedRecord:
    """One record of the customer's on ``stripe.events``; ``event`` is ``None`` when the value
    is not a Stripe event (``problem`` says why: the worker skips it)."""

    partition: int
    offset: int
    event: StripeEvent | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterMark:
    """A dead letter of the customer's: where its record sat, and why it was parked."""

    source: str  # "topic[partition]@offset", as the worker wrote it
    reason: str

    def place(self, topic: str) -> tuple[int, int] | None:
        """(partition, offset) of the parked record when it came from ``topic``."""
        head, _, offset = self.source.rpartition("@")
        source_topic, _, partition = head.removesuffix("]").rpartition("[")
        if source_topic != topic or not partition.isdigit() or not offset.isdigit():
            return None
        return int(partition), int(offset)


def _record(partition: int, offset: int, value: bytes) -> ReceivedRecord:
    try:
        return ReceivedRecord(partition, offset, event_from_mapping(orjson.loads(value)))
    except (orjson.JSONDecodeError, NotAStripeEvent, TypeError, AttributeError) as exc:
        return ReceivedRecord(partition, offset, None, str(exc) or exc.__class__.__name__)


def received_records(
    settings: Settings, topics: Topics, customer: str, timeout_s: float = 30
) -> list[ReceivedRecord]:
    """Every record keyed by ``customer`` on ``stripe.events``, in log order."""
    messages = records_of_key(
        settings.kafka_bootstrap_servers, topics.stripe_events, customer.encode(), timeout_s
    )
    return [
        _record(message.partition() or 0, message.offset() or 0, message.value() or b"")
        for message in messages
    ]


def received_overrides(
    settings: Settings, topics: Topics, customer: str, timeout_s: float = 30
) -> list[Override]:
    """The customer's overrides on ``atlas.overrides``, in log order; like the worker, values
    that are not overrides of this customer are skipped."""
    overrides = []
    bootstrap = settings.kafka_bootstrap_servers
    for value in values_of_key(bootstrap, topics.overrides, customer.encode(), timeout_s):
        try:
            override = Override.from_json(value)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            continue
        if override.customer_id == customer:
            overrides.append(override)
    return overrides


def worker_output(
    settings: Settings, topics: Topics, customer: str, timeout_s: float = 30
) -> Entitlements | None:
    """The customer's latest record on ``atlas.entitlements``: what the stream made."""
    values = values_of_key(
        settings.kafka_bootstrap_servers, topics.entitlements, customer.encode(), timeout_s
    )
    return Entitlements.from_json(values[-1]) if values else None


def worker_state(
    settings: Settings, topics: Topics, customer: str, timeout_s: float = 30
) -> CustomerState | None:
    """The worker's latest folded state of the customer (``atlas.subscriptions``)."""
    values = values_of_key(
        settings.kafka_bootstrap_servers, topics.subscriptions, customer.encode(), timeout_s
    )
    return CustomerState.from_json(values[-1]) if values else None


def dead_letter_marks(
    settings: Settings, topics: Topics, customer: str, timeout_s: float = 30
) -> list[DeadLetterMark]:
    """The customer's records the worker parked on ``stripe.events.dlq``."""
    marks = []
    bootstrap = settings.kafka_bootstrap_servers
    for message in records_of_key(bootstrap, topics.dead_letters, customer.encode(), timeout_s):
        raw = message.headers() or []
        pairs = raw.items() if isinstance(raw, dict) else raw
        headers = {name: value for name, value in pairs if isinstance(value, bytes)}
        source = headers.get(DLQ_SOURCE_HEADER, b"").decode(errors="replace")
        reason = headers.get(DLQ_REASON_HEADER, b"").decode(errors="replace")
        marks.append(DeadLetterMark(source, reason))
    return marks
