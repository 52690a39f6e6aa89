"""What a customer's row and change stream must end as: their events folded in order by the
worker's own processor (``streams/processor.py``: fold, derive, versions), with the catalog
the worker runs. Fault tests compare the real pipeline against this after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from atlas.catalog import Catalog
from schemas.stripe_event import event_from_mapping
from schemas.topics import Topics
from sinks.postgres import subscription_row
from streams.customer_records import CustomerRecord
from streams.processor import CustomerProcessor


@dataclass
class InOrder:
    """The outcome of one customer's events processed once each, in order."""

    row: dict[str, Any] | None = None  # the ``subscriptions`` row; None: nothing emitted
    changes: list[dict[str, Any]] = field(default_factory=list)  # atlas.entitlements.changes


def fold_in_order(catalog: Catalog, events: list[dict[str, Any]], now: int) -> InOrder:
    """``events`` (one customer's, oldest first) through the worker's processor."""
    topics = Topics.with_prefix("")
    processor = CustomerProcessor(catalog, topics)
    record: CustomerRecord | None = None
    expected = InOrder()
    for raw in events:
        outcome = processor.on_event(record, event_from_mapping(raw), now)
        record = outcome.record
        for topic, value in outcome.messages:
            if topic == topics.entitlement_changes:
                expected.changes.append(orjson.loads(value))
    if record is not None and record.emitted is not None:
        expected.row = subscription_row(record.emitted)
    return expected


def apply_by_version(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One customer's change events (in partition order) as a consumer following the
    documented rule applies them: keep the highest version seen, drop anything not newer.

    A dropped record must be a redelivery of one already applied (same version, same
    content); anything else is a change the rule would lose or a step backwards, and raises.
    """
    applied: dict[int, dict[str, Any]] = {}
    in_order: list[dict[str, Any]] = []
    highest = -1
    for change in changes:
        version = change["version"]
        if version > highest:
            applied[version] = change
            in_order.append(change)
            highest = version
        elif applied.get(version) != change:
            raise AssertionError(
                f"change {version} of {change['customer_id']} arrived after {highest} and is "
                f"not a copy of an applied change: {change}"
            )
    return in_order
