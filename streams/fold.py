"""Fold one Stripe event into a customer's state. Pure: no I/O, no clock.

A registry maps each handled event type to its handler; every handler only writes registers
whose version the event supersedes (see ``streams/ordering.py``), so any order and any
duplication of a customer's events folds to the same state. Types not in the registry are
acknowledged and counted by the caller, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.invoices import InvoiceRecord
from schemas.overrides import Override
from schemas.stripe_event import StripeEvent
from schemas.subscription_state import (
    CustomerState,
    FeatureOverride,
    PaymentOutcome,
    StripeFeatures,
    SubscriptionSnapshot,
    UserLink,
)
from streams import stripe_objects as so
from streams.ordering import (
    event_version,
    payment_version,
    snapshot_version,
    supersedes,
)

SEEN_EVENT_IDS_KEPT = 256  # duplicates older than this are still harmless: registers are LWW
DUNNING_STATUSES = frozenset({"past_due", "unpaid"})
PAYMENT_FAILURES_KEPT = 32  # the earliest failures since the last success (grace starts there)


@dataclass(frozen=True, slots=True)
class FoldResult:
    handled: bool
    duplicate: bool
    changed: bool
    invoice: InvoiceRecord | None = None
    subscription_to_fetch: str | None = None  # Checkout named a subscription we know nothing of
    entitlements_to_fetch: bool = False  # an entitlement summary has more pages than it carried


Handler = Callable[[CustomerState, StripeEvent], FoldResult]


def fold(state: CustomerState, event: StripeEvent) -> FoldResult:
    """Apply ``event`` to ``state`` in place and say what happened."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return FoldResult(handled=False, duplicate=False, changed=False)
    if event.id in state.seen_event_ids:
        return FoldResult(handled=True, duplicate=True, changed=False)
    result = handler(state, event)
    _count_input(state, event.id, event.created)
    if result.changed:
        state.last_event_id = event.id
    return result


def _count_input(state: CustomerState, input_id: str, second: int) -> None:
    """Remember a new input: its id (duplicates are dropped), how many there were and the
    latest second among them — both independent of arrival order (see ``content_version``)."""
    state.seen_event_ids.append(input_id)
    del state.seen_event_ids[:-SEEN_EVENT_IDS_KEPT]
    state.inputs_seen += 1
    state.latest_input_second = max(state.latest_input_second, second)


def _record_snapshot(state: CustomerState, sub: so.Obj, event: StripeEvent, status: str) -> bool:
    sub_id = so.subscription_id(sub)
    version = snapshot_version(event.created, status, event.id)
    current = state.snapshots.get(sub_id)
    if not supersedes(version, current.version if current else None):
        return False
    state.snapshots[sub_id] = SubscriptionSnapshot(
        subscription_id=sub_id,
        price_ids=so.subscription_price_ids(sub),
        status=status,
        current_period_end=so.subscription_period_end(sub),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        version=version,
    )
    return True


def _link_user(state: CustomerState, user_id: str | None, event: StripeEvent) -> bool:
    if user_id is None:
        return False
    version = event_version(event.created, event.id)
    if not supersedes(version, state.user.version if state.user else None):
        return False
    changed = state.user is None or state.user.user_id != user_id
    state.user = UserLink(user_id=user_id, version=version)
    return changed


def on_subscription(state: CustomerState, event: StripeEvent) -> FoldResult:
    sub = event.object
    status = "canceled" if event.type == "customer.subscription.deleted" else None
    status = status or so.subscription_status(sub)
    changed = _record_snapshot(state, sub, event, status)
    if status in DUNNING_STATUSES:
        changed |= _record_dunning(state, event.created, succeeded=False)
    elif status in ("active", "trialing"):
        changed |= _record_dunning(state, event.created, succeeded=True)
    changed |= _link_user(state, so.metadata_user_id(sub), event)
    return FoldResult(handled=True, duplicate=False, changed=changed)


def on_checkout_completed(state: CustomerState, event: StripeEvent) -> FoldResult:
    session = event.object
    changed = _link_user(state, so.checkout_user_id(session), event)
    sub_id, expanded = so.checkout_subscription(session)
    if expanded is not None:
        changed |= _record_snapshot(state, expanded, event, so.subscription_status(expanded))
    if sub_id and sub_id not in state.checkout_subscription_ids:
        state.checkout_subscription_ids = sorted([*state.checkout_subscription_ids, sub_id])
        changed = True
    missing = sub_id if sub_id and sub_id not in state.snapshots else None
    return FoldResult(handled=True, duplicate=False, changed=changed, subscription_to_fetch=missing)


def apply_fetched_subscription(
    state: CustomerState, subscription: so.Obj, checkout: StripeEvent
) -> bool:
    """Record a subscription fetched from the API after ``checkout`` named it; it is stamped
    with the checkout's version, so any later subscription event still supersedes it."""
    changed = _record_snapshot(state, subscription, checkout, so.subscription_status(subscription))
    if changed:
        state.last_event_id = checkout.id
    return changed


def _on_payment(state: CustomerState, event: StripeEvent, succeeded: bool) -> FoldResult:
    invoice = event.object
    record = so.invoice_record(event)
    sub_id = so.invoice_subscription_id(invoice)
    if sub_id is None:  # a one-off invoice: logged, no effect on access
        return FoldResult(handled=True, duplicate=False, changed=False, invoice=record)
    version = payment_version(event.created, succeeded, event.id)
    current = state.payments.get(sub_id)
    changed = supersedes(version, current.version if current else None)
    if changed:
        state.payments[sub_id] = PaymentOutcome(
            succeeded=succeeded,
            invoice_id=record.invoice_id if record else None,
            price_ids=so.invoice_price_ids(invoice),
            period_end=so.invoice_period_end(invoice),
            version=version,
        )
    changed |= _record_dunning(state, event.created, succeeded)
    return FoldResult(handled=True, duplicate=False, changed=changed, invoice=record)


def _record_dunning(state: CustomerState, second: int, succeeded: bool) -> bool:
    """Keep the failures not followed by a success (a failure wins a same-second tie, as in
    ``payment_version``), so the first failure of the current run is known in any order."""
    before = (list(state.payment_failures), state.last_payment_success)
    if succeeded:
        state.last_payment_success = max(second, state.last_payment_success or second)
    elif second not in state.payment_failures:
        state.payment_failures.append(second)
    floor = state.last_payment_success
    kept = sorted(t for t in state.payment_failures if floor is None or t >= floor)
    state.payment_failures = kept[:PAYMENT_FAILURES_KEPT]
    return before != (state.payment_failures, state.last_payment_success)


def on_payment_failed(state: CustomerState, event: StripeEvent) -> FoldResult:
    return _on_payment(state, event, succeeded=False)


def on_payment_succeeded(state: CustomerState, event: StripeEvent) -> FoldResult:
    return _on_payment(state, event, succeeded=True)


def on_invoice_logged(state: CustomerState, event: StripeEvent) -> FoldResult:
    return FoldResult(
        handled=True, duplicate=False, changed=False, invoice=so.invoice_record(event)
    )


def on_customer(state: CustomerState, event: StripeEvent) -> FoldResult:
    customer = event.object
    changed = _link_user(state, so.metadata_user_id(customer), event)
    for sub in so.embedded_subscriptions(customer):
        changed |= _record_snapshot(state, sub, event, so.subscription_status(sub))
    return FoldResult(handled=True, duplicate=False, changed=changed)


def on_customer_deleted(state: CustomerState, event: StripeEvent) -> FoldResult:
    version = event_version(event.created, event.id)
    changed = supersedes(version, state.deleted_version)
    if changed:
        state.deleted_version = version
    return FoldResult(handled=True, duplicate=False, changed=changed)


def _record_stripe_features(
    state: CustomerState, lookup_keys: list[str], event: StripeEvent
) -> bool:
    version = event_version(event.created, event.id)
    current = state.stripe_features
    if not supersedes(version, current.version if current else None):
        return False
    state.stripe_features = StripeFeatures(lookup_keys=sorted(set(lookup_keys)), version=version)
    return current is None or current.lookup_keys != state.stripe_features.lookup_keys


def on_entitlement_summary(state: CustomerState, event: StripeEvent) -> FoldResult:
    keys, complete = so.entitlement_lookup_keys(event.object)
    if not complete:  # the rest of the pages come from the API, then apply_fetched_entitlements
        return FoldResult(handled=True, duplicate=False, changed=False, entitlements_to_fetch=True)
    changed = _record_stripe_features(state, keys, event)
    return FoldResult(handled=True, duplicate=False, changed=changed)


def apply_fetched_entitlements(
    state: CustomerState, lookup_keys: list[str], summary: StripeEvent
) -> bool:
    """Record every page of the customer's active entitlements, fetched after ``summary`` said
    it had more; stamped with the summary's version like the event itself would be."""
    changed = _record_stripe_features(state, lookup_keys, summary)
    if changed:
        state.last_event_id = summary.id
    return changed


def apply_override(state: CustomerState, override: Override) -> bool:
    """Record ``override`` unless it was seen or a later override of its feature is in place;
    a ``clear`` stays as a tombstone, so an older override arriving late cannot come back."""
    if override.override_id in state.seen_event_ids:
        return False
    _count_input(state, override.override_id, override.applied_at_ms // 1000)
    current = state.overrides.get(override.feature)
    if not supersedes(override.version, current.version if current else None):
        return False
    state.overrides[override.feature] = FeatureOverride(
        effect=override.effect, limit=override.limit, until=override.until, version=override.version
    )
    state.last_event_id = override.override_id
    return True


HANDLERS: dict[str, Handler] = {
    # reconciliation events: Stripe objects read from the API (see atlas/stripe_view.py)
    "atlas.reconcile.subscription": on_subscription,
    "atlas.reconcile.customer": on_customer,
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_checkout_completed,
    "customer.created": on_customer,
    "customer.updated": on_customer,
    "customer.deleted": on_customer_deleted,
    **{
        f"customer.subscription.{action}": on_subscription
        for action in (
            "created",
            "updated",
            "deleted",
            "paused",
            "resumed",
            "trial_will_end",
            "pending_update_applied",
            "pending_update_expired",
        )
    },
    "entitlements.active_entitlement_summary.updated": on_entitlement_summary,
    "invoice.payment_failed": on_payment_failed,
    "invoice.payment_succeeded": on_payment_succeeded,
    "invoice.paid": on_payment_succeeded,
    **{
        f"invoice.{action}": on_invoice_logged
        for action in (
            "created",
            "finalized",
            "updated",
            "voided",
            "marked_uncollectible",
            "payment_action_required",
        )
    },
}
HANDLED_EVENT_TYPES = frozenset(HANDLERS)
