"""Per-customer subscription state: the value of topic ``atlas.subscriptions`` and of the
worker's table.

The state is a set of last-writer-wins registers, each stamped with the version of the Stripe
event that wrote it, so folding a customer's events in any order gives the same state. See
``streams/ordering.py`` for how versions compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# Every subscription-level register is keyed by Stripe subscription id. Two special keys:
ANY_SUBSCRIPTION = "*"  # an invoice that names no subscription: it applies to the current one
UNIDENTIFIED_SUBSCRIPTION = "-"  # 2012-era subscription objects carry no id

Version = list[Any]  # JSON-friendly; compared as a tuple, see streams/ordering.py


@dataclass(slots=True)
class SubscriptionSnapshot:
    """What a subscription object in an event said about the subscription."""

    subscription_id: str
    price_ids: list[str]
    status: str
    current_period_end: int | None
    cancel_at_period_end: bool
    version: Version


@dataclass(slots=True)
class PaymentOutcome:
    """The latest invoice payment result seen for a subscription."""

    succeeded: bool
    invoice_id: str | None
    price_ids: list[str]
    period_end: int | None
    version: Version


@dataclass(slots=True)
class UserLink:
    """The application's user id for this customer (from Checkout or metadata)."""

    user_id: str
    version: Version


@dataclass(slots=True)
class StripeFeatures:
    """The lookup keys of the customer's active Stripe entitlements (``entitlements.*``)."""

    lookup_keys: list[str]
    version: Version


@dataclass(slots=True)
class FeatureOverride:
    """The latest override of one feature for this customer (see ``schemas/overrides.py``)."""

    effect: str  # grant, revoke or clear
    limit: int | None
    until: int | None
    version: Version


@dataclass(slots=True)
class CustomerState:
    customer_id: str
    user: UserLink | None = None
    snapshots: dict[str, SubscriptionSnapshot] = field(default_factory=dict)
    payments: dict[str, PaymentOutcome] = field(default_factory=dict)
    checkout_subscription_ids: list[str] = field(default_factory=list)
    deleted_version: Version | None = None
    # dunning: seconds of failed payments not followed by a success, and the last success
    payment_failures: list[int] = field(default_factory=list)
    last_payment_success: int | None = None
    stripe_features: StripeFeatures | None = None
    overrides: dict[str, FeatureOverride] = field(default_factory=dict)  # feature -> latest
    seen_event_ids: list[str] = field(default_factory=list)
    last_event_id: str | None = None
    version: int = 0
    inputs_seen: int = 0  # distinct events and overrides folded (duplicates not counted)
    latest_input_second: int = 0  # the latest `created` (or override time) among them

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> CustomerState:
        return cls.from_dict(orjson.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerState:
        user = data.get("user")
        stripe_features = data.get("stripe_features")
        return cls(
            customer_id=data["customer_id"],
            user=UserLink(**user) if user else None,
            snapshots={k: SubscriptionSnapshot(**v) for k, v in data["snapshots"].items()},
            payments={k: PaymentOutcome(**v) for k, v in data["payments"].items()},
            checkout_subscription_ids=list(data["checkout_subscription_ids"]),
            deleted_version=data.get("deleted_version"),
            payment_failures=list(data.get("payment_failures", [])),
            last_payment_success=data.get("last_payment_success"),
            stripe_features=StripeFeatures(**stripe_features) if stripe_features else None,
            overrides={
                key: FeatureOverride(**value) for key, value in data.get("overrides", {}).items()
            },
            seen_event_ids=list(data["seen_event_ids"]),
            last_event_id=data.get("last_event_id"),
            version=int(data["version"]),
            inputs_seen=int(data.get("inputs_seen", 0)),
            latest_input_second=int(data.get("latest_input_second", 0)),
        )
