"""Entitlements: the value of compacted topic ``atlas.entitlements`` (one per customer, the
source of each ``subscriptions`` row) and the change events on ``atlas.entitlements.changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

SCHEMA_VERSION = 1
_SCHEMA_PREFIX = b'{"schema":%d,' % SCHEMA_VERSION  # every document opens with its schema


@dataclass(frozen=True, slots=True)
class Entitlements:
    """A customer's current access, derived from their subscription state and the catalog.

    ``status`` is Atlas's status (``none`` when the customer has no subscription);
    ``stripe_status`` is Stripe's own status of the subscription it was derived from.
    ``version`` only grows for a customer: consumers drop anything not newer than what they hold.
    """

    customer_id: str
    user_id: str | None
    subscription_id: str | None
    plan: str
    status: str
    stripe_status: str | None
    price_id: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    features: tuple[str, ...]
    feature_bits: int
    limits: dict[str, int]
    banner: str | None
    unknown_price: bool
    version: int
    source_event_id: str | None
    grace_until: int | None = None  # past_due: the plan's features end here (see derive.py)

    def view(self) -> dict[str, Any]:
        """Everything but the version stamps: two entitlements with equal views grant the same."""
        return {name: getattr(self, name) for name in _VIEW_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.to_json())
        return data

    def to_json(self) -> bytes:
        # orjson writes a dataclass natively, far faster than going through dataclasses.asdict
        return _SCHEMA_PREFIX + orjson.dumps(self)[1:]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entitlements:
        fields = {key: value for key, value in data.items() if key != "schema"}
        fields["features"] = tuple(fields["features"])
        return cls(**fields)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Entitlements:
        return cls.from_dict(orjson.loads(raw))


_VIEW_FIELDS = tuple(
    name for name in Entitlements.__slots__ if name not in ("version", "source_event_id")
)


@dataclass(frozen=True, slots=True)
class EntitlementChange:
    """One change of a customer's access; ``entitlements`` carries the full new state."""

    customer_id: str
    user_id: str | None
    plan: str
    status: str
    features: tuple[str, ...]
    granted: tuple[str, ...]
    revoked: tuple[str, ...]
    event_id: str | None
    version: int
    entitlements: Entitlements

    def to_json(self) -> bytes:
        fields = {name: getattr(self, name) for name in _CHANGE_FIELDS}
        fields["entitlements"] = orjson.Fragment(self.entitlements.to_json())
        return _SCHEMA_PREFIX + orjson.dumps(fields)[1:]


_CHANGE_FIELDS = EntitlementChange.__slots__


def change_between(previous: Entitlements | None, current: Entitlements) -> EntitlementChange:
    return change_from(previous.features if previous else (), current)


def change_from(features_before: tuple[str, ...], current: Entitlements) -> EntitlementChange:
    """The change to ``current`` from access to ``features_before``."""
    before = set(features_before)
    after = set(current.features)
    return EntitlementChange(
        customer_id=current.customer_id,
        user_id=current.user_id,
        plan=current.plan,
        status=current.status,
        features=current.features,
        granted=tuple(sorted(after - before)),
        revoked=tuple(sorted(before - after)),
        event_id=current.source_event_id,
        version=current.version,
        entitlements=current,
    )
