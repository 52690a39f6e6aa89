"""Turn one input (a Stripe event or a timer tick) into a customer's new record and the
messages to emit. No Kafka here: the Faust agent in ``streams/app.py`` feeds it and sends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from atlas.catalog import Catalog
from schemas.entitlements import change_between, change_from
from schemas.overrides import Override
from schemas.stripe_event import StripeEvent
from schemas.subscription_state import CustomerState
from schemas.topics import Topics
from streams.customer_records import CustomerRecord
from streams.derive import derive
from streams.fold import (
    FoldResult,
    apply_fetched_entitlements,
    apply_fetched_subscription,
    apply_override,
    fold,
)
from streams.stripe_objects import invoice_record

log = logging.getLogger(__name__)

VERSION_SECONDS_SHIFT = 20


def content_version(state: CustomerState) -> int:
    """``latest input second << 20 + inputs folded``: it grows with every input folded, and
    folding the same inputs in the same order (``atlas replay`` reads the log in its order)
    gives the same versions. In another order the final version can differ, since a state's
    version moves only with inputs that change it (README, "Ordering rule")."""
    return (state.latest_input_second << VERSION_SECONDS_SHIFT) + state.inputs_seen


@dataclass(slots=True)
class Outcome:
    record: CustomerRecord
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, value)
    fold: FoldResult | None = None


class CustomerProcessor:
    def __init__(self, catalog: Catalog, topics: Topics) -> None:
        self.catalog = catalog
        self.topics = topics

    def on_event(self, record: CustomerRecord | None, event: StripeEvent, now: int) -> Outcome:
        customer = event.customer_id
        assert customer is not None, "events without a customer are not folded"
        record = record or CustomerRecord(state=CustomerState(customer_id=customer))
        result = fold(record.state, event)
        outcome = Outcome(record=record, fold=result)
        if result.invoice is not None:
            outcome.messages.append((self.topics.invoices, result.invoice.to_json()))
        return self._after_change(outcome, result.changed, event.created, now)

    def on_fetched_subscription(
        self, outcome: Outcome, subscription: Mapping[str, Any], checkout: StripeEvent, now: int
    ) -> Outcome:
        """Checkout named a subscription no event described yet; the API answered for it."""
        changed = apply_fetched_subscription(outcome.record.state, subscription, checkout)
        return self._after_change(outcome, changed, checkout.created, now)

    def on_fetched_entitlements(
        self, outcome: Outcome, lookup_keys: list[str], summary: StripeEvent, now: int
    ) -> Outcome:
        """An entitlement summary had more pages; the API listed all of them."""
        changed = apply_fetched_entitlements(outcome.record.state, lookup_keys, summary)
        return self._after_change(outcome, changed, summary.created, now)

    def on_override(self, record: CustomerRecord | None, override: Override, now: int) -> Outcome:
        """An operator granted, revoked or cleared a feature for this customer."""
        record = record or CustomerRecord(state=CustomerState(customer_id=override.customer_id))
        changed = apply_override(record.state, override)
        return self._after_change(
            Outcome(record=record), changed, override.applied_at_ms // 1000, now
        )

    def on_catalog_change(self, record: CustomerRecord, now: int) -> Outcome:
        """The catalog changed: re-derive; emits only when this customer's access changed."""
        outcome = Outcome(record=record)
        self._emit_if_changed(outcome, now, now)
        return outcome

    def on_tick(self, record: CustomerRecord, now: int) -> Outcome:
        """A timer found the record due: re-derive, since time alone may have changed access."""
        outcome = Outcome(record=record)
        self._emit_if_changed(outcome, now, record.due_at or now)
        return outcome

    def announce_again(
        self, outcome: Outcome, event: StripeEvent | None = None, record_too: bool = True
    ) -> None:
        """For a replayed input (one its record already holds): send ``event``'s invoice record
        again and, with ``record_too`` and when ``outcome`` announces nothing itself, the
        messages that announced the record's current state. Same bytes and versions: the sink
        and consumers (version rule) ignore what they already have.

        A worker killed in the middle of an input can get its table write to the broker
        before its messages; the replayed input is then a duplicate that announces nothing
        (README, "Restarts"). ``record_too`` when another worker process announced the record
        last: one announcement per process is enough."""
        announces = bool(outcome.messages)
        invoice = invoice_record(event) if event and event.type.startswith("invoice.") else None
        if invoice is not None:
            outcome.messages.append((self.topics.invoices, invoice.to_json()))
        record = outcome.record
        if record_too and not announces and record.emitted is not None:
            change = change_from(record.features_before, record.emitted)
            outcome.messages.append((self.topics.subscriptions, _public_state(record.state)))
            outcome.messages.append((self.topics.entitlements, record.emitted.to_json()))
            outcome.messages.append((self.topics.entitlement_changes, change.to_json()))

    def _after_change(self, outcome: Outcome, changed: bool, second: int, now: int) -> Outcome:
        """When the state changed: a new version, the state published, entitlements re-derived
        (and announced only if they changed)."""
        if changed:
            state = outcome.record.state
            state.version = max(state.version + 1, content_version(state))
            outcome.messages.append((self.topics.subscriptions, _public_state(state)))
            self._emit_if_changed(outcome, now, second)
        return outcome

    def _bump_version(self, state: CustomerState, second: int) -> None:
        """Time or the catalog changed access with no new input: still a greater version."""
        state.version = max(state.version + 1, second << VERSION_SECONDS_SHIFT)

    def _emit_if_changed(self, outcome: Outcome, now: int, second: int) -> None:
        record = outcome.record
        candidate, record.due_at = derive(record.state, self.catalog, now, record.state.version)
        if record.emitted is not None and record.emitted.view() == candidate.view():
            return
        if record.emitted is not None and candidate.version <= record.emitted.version:
            self._bump_version(record.state, second)
            candidate = replace(candidate, version=record.state.version)
        unknown_keys = self._unknown_stripe_features(record.state)
        if unknown_keys:
            log.warning(
                "customer %s has Stripe entitlements %s that the catalog does not define; "
                "they grant nothing",
                candidate.customer_id,
                unknown_keys,
                extra={"customer_id": candidate.customer_id},
            )
        if candidate.unknown_price:
            log.error(
                "customer %s has price %s that no plan tier lists; granting the free tier "
                "(set STRIPE_PRICE_ID_<TIER> or the catalog's price_ids)",
                candidate.customer_id,
                candidate.price_id,
                extra={"customer_id": candidate.customer_id, "event_id": candidate.source_event_id},
            )
        change = change_between(record.emitted, candidate)
        record.features_before = record.emitted.features if record.emitted else ()
        record.emitted = candidate
        outcome.messages.append((self.topics.entitlements, candidate.to_json()))
        outcome.messages.append((self.topics.entitlement_changes, change.to_json()))

    def _unknown_stripe_features(self, state: CustomerState) -> list[str]:
        keys = state.stripe_features.lookup_keys if state.stripe_features else []
        return [key for key in keys if key not in self.catalog.features]


def _public_state(state: CustomerState) -> bytes:
    """The state as published on ``atlas.subscriptions``: without the dedup bookkeeping."""
    public = replace(state, seen_event_ids=[])
    return public.to_json()
