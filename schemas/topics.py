"""Topic names, in one place. A prefix lets several deployments (or tests) share one broker."""

from __future__ import annotations

from dataclasses import dataclass

EVENT_ID_HEADER = "stripe-event-id"
EVENT_TYPE_HEADER = "stripe-event-type"
EVENT_CREATED_HEADER = "stripe-event-created"
# on stripe.events.dlq: where the record came from and why it could not be processed
DLQ_SOURCE_HEADER = "atlas-dlq-source"  # topic[partition]@offset
DLQ_REASON_HEADER = "atlas-dlq-reason"
DLQ_AT_HEADER = "atlas-dlq-at"  # unix seconds


@dataclass(frozen=True)
class Topics:
    """Every topic Atlas reads or writes. All are keyed by Stripe customer id except
    ``atlas.catalog`` and ``atlas.control`` (one partition each, a few fixed keys)."""

    stripe_events: str
    dead_letters: str
    subscriptions: str
    entitlements: str
    entitlement_changes: str
    invoices: str
    timers: str
    catalog: str
    overrides: str
    control: str

    @classmethod
    def with_prefix(cls, prefix: str = "") -> Topics:
        return cls(
            stripe_events=f"{prefix}stripe.events",
            dead_letters=f"{prefix}stripe.events.dlq",
            subscriptions=f"{prefix}atlas.subscriptions",
            entitlements=f"{prefix}atlas.entitlements",
            entitlement_changes=f"{prefix}atlas.entitlements.changes",
            invoices=f"{prefix}atlas.invoices",
            timers=f"{prefix}atlas.timers",
            catalog=f"{prefix}atlas.catalog",
            overrides=f"{prefix}atlas.overrides",
            control=f"{prefix}atlas.control",
        )

    @property
    def compacted(self) -> tuple[str, ...]:
        """Topics holding the latest value per key; the rest keep history (time retention)."""
        return (self.subscriptions, self.entitlements, self.catalog, self.control)
