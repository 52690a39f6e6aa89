"""The values the client hands out: a user's entitlements, a check's decision, its status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Reason(StrEnum):
    """Why a check answered as it did; a ``str``, so it can be logged or compared as text."""

    GRANTED = "granted"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_FEATURE = "unknown_feature"
    NOT_IN_PLAN = "not_in_plan"
    STALE = "stale"
    UNAVAILABLE = "unavailable"
    WARMING_UP = "warming_up"


@dataclass(frozen=True, slots=True)
class UserEntitlements:
    """What one user may use now, as Atlas derived it from their Stripe subscription.

    ``version`` only grows for a customer; the client never replaces a cached value with a
    lower one. Times are timezone-aware UTC datetimes.
    """

    user_id: str
    customer_id: str
    plan: str
    status: str
    features: frozenset[str]
    limits: Mapping[str, int] = field(hash=False)
    feature_bits: int
    current_period_end: datetime | None
    grace_until: datetime | None
    banner: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one check.

    ``reason`` is ``"granted"`` when ``allowed``, else one of the deny reasons (see
    ``Reason``). ``limit`` is the feature's limit when granted (``None``: no limit set) and
    ``0`` when denied. ``plan`` and ``version`` come from the user's entitlements when they
    were known, else ``None``.
    """

    allowed: bool
    reason: str
    feature: str
    user_id: str
    plan: str | None
    limit: int | None
    version: int | None


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """A snapshot of a client's health, for readiness probes and metrics.

    ``stream_ready``: the Kafka topic the client follows was read to its end on every
    partition at least once (in Kafka-bootstrap mode: the bootstrap finished).
    ``seconds_since_stream_contact``: ``None`` before the first contact or without Kafka.
    ``messages_skipped`` counts Kafka records that were invalid, of another schema or
    without a user id.
    """

    started: bool
    stream_ready: bool
    seconds_since_stream_contact: float | None
    catalog_loaded: bool
    cached_users: int
    messages_applied: int
    messages_skipped: int
