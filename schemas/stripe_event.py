"""The Stripe event envelope as Atlas accepts it, and the key it is published under.

Accepted shapes span Stripe API versions from 2012 to 2026: the envelope must have a string
``id`` and ``type``, an integer ``created`` and a ``data.object`` mapping; ``object`` must be
``"event"`` when present (2012-era events omit it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from atlas.errors import AtlasError

_EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_MAX_ID_LENGTH = 255


class NotAStripeEvent(AtlasError):
    """The body parsed, but is not shaped like a Stripe event; the message says why."""


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    created: int
    object: Mapping[str, Any]
    previous_attributes: Mapping[str, Any] | None
    customer_id: str | None

    @property
    def routing_key(self) -> str:
        """Kafka key: the customer id, so one customer's events stay in order on one partition."""
        return self.customer_id or self.id


def parse_event(body: bytes) -> StripeEvent:
    """Parse and check a webhook body; raises :class:`NotAStripeEvent` on any other shape."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NotAStripeEvent("body is not JSON") from None
    if not isinstance(raw, dict):
        raise NotAStripeEvent("body is not a JSON object")
    return event_from_mapping(raw)


def event_from_mapping(raw: Mapping[str, Any]) -> StripeEvent:
    event_id, event_type, created = raw.get("id"), raw.get("type"), raw.get("created")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= _MAX_ID_LENGTH:
        raise NotAStripeEvent("event has no string 'id'")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise NotAStripeEvent("event has no valid 'type'")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise NotAStripeEvent("event has no integer 'created'")
    if raw.get("object", "event") != "event":
        raise NotAStripeEvent("'object' is not 'event'")
    data = raw.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise NotAStripeEvent("event has no 'data.object'")
    previous = data.get("previous_attributes")
    return StripeEvent(
        id=event_id,
        type=event_type,
        created=created,
        object=data["object"],
        previous_attributes=previous if isinstance(previous, Mapping) else None,
        customer_id=customer_of(data["object"]),
    )


def customer_of(obj: Mapping[str, Any]) -> str | None:
    """The Stripe customer an object belongs to: its own id for customers, else ``customer``."""
    if obj.get("object") == "customer":
        own = obj.get("id")
        return own if isinstance(own, str) and own else None
    customer = obj.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return customer if isinstance(customer, str) and customer else None
