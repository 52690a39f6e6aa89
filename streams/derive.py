"""Derive a customer's entitlements from their folded state, the catalog and the time. Pure.

Rules (documented in the README under "How state is derived"):

* A subscription's status is its latest snapshot's status, changed by a payment outcome from a
  strictly later second: a failure turns ``active``/``trialing`` into ``past_due``; a success
  turns ``past_due``/``unpaid`` into ``active``. An invoice seen before any snapshot of its
  subscription stands for it (failure: ``past_due``, success: ``active``).
* The customer's current subscription is the one that grants paid access now, the highest
  tier first; without any, the most recent one.
* Paid plan features for ``active``, ``trialing`` and ``past_due``; a ``canceled`` subscription
  (or one set to cancel at period end) keeps them until its period end. Otherwise, for unknown
  price ids, and for deleted customers: the free tier.
* A ``past_due`` subscription of a plan with ``grace_days`` keeps the plan until
  ``grace_until`` = the first failed payment not followed by a success (or, without one, the
  moment Stripe's status said ``past_due``) plus ``grace_days``; after that, the free tier
  until a payment succeeds.
* A plan with ``features_from = "stripe"`` grants the catalog features named by the lookup keys
  of the customer's latest Stripe entitlement summary (none before the first summary).
* Overrides come last: a live ``grant`` adds its feature (with its own limit, if it has one),
  a live ``revoke`` removes it, whatever the plan; an override of a feature the catalog does
  not define does nothing; one past its ``until`` has lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from atlas.catalog import FREE_TIER, Catalog, Plan
from schemas.entitlements import Entitlements
from schemas.subscription_state import (
    ANY_SUBSCRIPTION,
    UNIDENTIFIED_SUBSCRIPTION,
    CustomerState,
    PaymentOutcome,
    SubscriptionSnapshot,
)
from streams.ordering import supersedes

ENTITLED_STATUSES = frozenset({"active", "trialing", "past_due"})
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    subscription_id: str | None
    price_ids: tuple[str, ...]
    status: str
    stripe_status: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    last_seen: int


def _apply_payment(view: SubscriptionView, payment: PaymentOutcome) -> SubscriptionView:
    paid_at = int(payment.version[0])
    if paid_at <= view.last_seen:
        return view
    status = view.status
    if not payment.succeeded and status in ("active", "trialing"):
        status = "past_due"
    elif payment.succeeded and status in ("past_due", "unpaid"):
        status = "active"
    return SubscriptionView(
        view.subscription_id,
        view.price_ids,
        status,
        view.stripe_status,
        view.current_period_end,
        view.cancel_at_period_end,
        paid_at,
    )


def _from_snapshot(snapshot: SubscriptionSnapshot) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=snapshot.subscription_id,
        price_ids=tuple(snapshot.price_ids),
        status=snapshot.status,
        stripe_status=snapshot.status,
        current_period_end=snapshot.current_period_end,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        last_seen=int(snapshot.version[1]),
    )


def _from_payment(sub_id: str, payment: PaymentOutcome) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=None if sub_id == ANY_SUBSCRIPTION else sub_id,
        price_ids=tuple(payment.price_ids),
        status="active" if payment.succeeded else "past_due",
        stripe_status=None,
        current_period_end=payment.period_end,
        cancel_at_period_end=False,
        last_seen=int(payment.version[0]),
    )


def _view_of(state: CustomerState, sub_id: str) -> SubscriptionView:
    snapshot, payment = state.snapshots.get(sub_id), state.payments.get(sub_id)
    if snapshot is None:
        assert payment is not None
        return _from_payment(sub_id, payment)
    view = _from_snapshot(snapshot)
    return _apply_payment(view, payment) if payment else view


def paid_until(view: SubscriptionView, now: int) -> tuple[bool, int | None]:
    """Whether the subscription grants its plan at ``now``, and until when if that ends."""
    end = view.current_period_end
    if view.status in ENTITLED_STATUSES:
        if view.cancel_at_period_end and end is not None:
            return end > now, end
        return True, None
    if view.status == "canceled" and end is not None and end > now:
        return True, end
    return False, None


def tier_of(view: SubscriptionView, catalog: Catalog) -> tuple[str | None, str | None]:
    """The highest tier any of the subscription's prices maps to, and that price."""
    best: tuple[int, str, str] | None = None
    for price in view.price_ids:
        tier = catalog.tier_for_price(price)
        if tier is not None:
            candidate = (catalog.plans[tier].rank, tier, price)
            best = candidate if best is None or candidate[0] > best[0] else best
    return (best[1], best[2]) if best else (None, None)


def current_subscription(
    state: CustomerState, catalog: Catalog, now: int
) -> SubscriptionView | None:
    sub_ids = (set(state.snapshots) | set(state.payments)) - {ANY_SUBSCRIPTION}
    views = [_view_of(state, sub_id) for sub_id in sorted(sub_ids)]
    if not views and ANY_SUBSCRIPTION in state.payments:
        views = [_from_payment(ANY_SUBSCRIPTION, state.payments[ANY_SUBSCRIPTION])]
    if not views:
        return None

    def preference(view: SubscriptionView) -> tuple[bool, int, int]:
        tier, _ = tier_of(view, catalog)
        rank = catalog.plans[tier].rank if tier else -1
        return paid_until(view, now)[0], rank, view.last_seen

    chosen = max(views, key=preference)
    undirected = state.payments.get(ANY_SUBSCRIPTION)
    own = state.payments.get(chosen.subscription_id or "")
    if undirected and (own is None or supersedes(undirected.version, own.version)):
        chosen = _apply_payment(chosen, undirected)
    return chosen


def grace_until(state: CustomerState, view: SubscriptionView, plan: Plan) -> int | None:
    """When a past_due subscription loses its plan's features; ``None``: it never does."""
    if view.status != "past_due" or plan.grace_days is None:
        return None
    since = state.payment_failures[0] if state.payment_failures else view.last_seen
    return since + plan.grace_days * DAY_SECONDS


def granted_features(state: CustomerState, plan: Plan, catalog: Catalog) -> frozenset[str]:
    if plan.features_from != "stripe":
        return plan.features
    keys = state.stripe_features.lookup_keys if state.stripe_features else []
    return frozenset(key for key in keys if key in catalog.features)


def apply_overrides(
    state: CustomerState,
    catalog: Catalog,
    features: frozenset[str],
    limits: dict[str, int],
    now: int,
) -> tuple[frozenset[str], dict[str, int], int | None]:
    """Features and limits after the customer's live overrides, and when the next one lapses."""
    granted, limited, lapses = set(features), dict(limits), []
    for key, override in state.overrides.items():
        live = override.until is None or override.until > now
        if key not in catalog.features or override.effect == "clear" or not live:
            continue
        if override.until is not None:
            lapses.append(override.until)
        if override.effect == "grant":
            granted.add(key)
            if override.limit is not None:
                limited[key] = override.limit
        else:
            granted.discard(key)
            limited.pop(key, None)
    return frozenset(granted), limited, min(lapses, default=None)


class Derived(NamedTuple):
    entitlements: Entitlements
    due_at: int | None  # when they will next change with no new event (a period end, a grace end)


def derive(state: CustomerState, catalog: Catalog, now: int, version: int) -> Derived:
    """The customer's entitlements at ``now``, and when time alone will next change them."""
    view = None if state.deleted_version else current_subscription(state, catalog, now)
    tier, price = tier_of(view, catalog) if view else (None, None)
    paid_now, until = paid_until(view, now) if view else (False, None)
    paid = paid_now and tier is not None
    plan = catalog.plans[tier if paid and tier else FREE_TIER]
    grace_end = grace_until(state, view, plan) if view and paid else None
    if grace_end is not None and grace_end <= now:
        plan = catalog.plans[FREE_TIER]
    features, limits, lapse = apply_overrides(
        state,
        catalog,
        granted_features(state, plan, catalog),
        {key: value for key, value in plan.limits.items()},
        now,
    )
    status = "canceled" if state.deleted_version else (view.status if view else "none")
    sub_id = view.subscription_id if view else None
    entitlements = Entitlements(
        customer_id=state.customer_id,
        user_id=state.user.user_id if state.user else None,
        subscription_id=None if sub_id == UNIDENTIFIED_SUBSCRIPTION else sub_id,
        plan=plan.tier,
        status=status,
        stripe_status=view.stripe_status if view else None,
        price_id=price or (view.price_ids[0] if view and view.price_ids else None),
        current_period_end=view.current_period_end if view else None,
        cancel_at_period_end=view.cancel_at_period_end if view else False,
        features=tuple(sorted(features)),
        feature_bits=catalog.feature_bits(features),
        limits={key: value for key, value in sorted(limits.items()) if key in features},
        banner="past_due" if status == "past_due" and paid else None,
        unknown_price=view is not None and bool(view.price_ids) and tier is None,
        version=version,
        source_event_id=state.last_event_id,
        grace_until=grace_end,
    )
    upcoming = [at for at in (until if paid_now else None, grace_end, lapse) if at and at > now]
    return Derived(entitlements, min(upcoming, default=None))
