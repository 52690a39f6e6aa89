"""Property: folding a customer's events and overrides in any order, with any duplicates,
gives the state and entitlements that folding them in order gives (streams/ordering.py states
the rule)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.catalog import load_catalog
from schemas.overrides import Override
from schemas.stripe_event import event_from_mapping
from schemas.subscription_state import CustomerState
from streams.derive import derive
from streams.fold import apply_override, fold
from tests import stripe_builders as build

CATALOG = load_catalog(None, {"pro": ("price_pro",), "advisory": ("price_adv",)})
CUSTOMER = "cus_property"
NOW = 1_800_000_000
STATUSES = [
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
]


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    created = NOW - draw(st.integers(0, 6))  # few distinct seconds: many same-second ties
    sub = draw(st.sampled_from(["sub_a", "sub_b"]))
    price = draw(st.sampled_from(["price_pro", "price_adv", "price_other"]))
    kind = draw(
        st.sampled_from(["sub", "deleted", "failed", "paid", "checkout", "gone", "summary"])
    )
    if kind == "summary":
        keys = draw(st.lists(st.sampled_from(sorted(CATALOG.features)), max_size=3))
        return build.entitlement_summary_event(CUSTOMER, keys, created=created)
    if kind == "sub":
        return build.subscription_event(
            draw(st.sampled_from(["created", "updated"])),
            CUSTOMER,
            sub,
            price,
            draw(st.sampled_from(STATUSES)),
            created=created,
            period_end=NOW + draw(st.sampled_from([-100, 100])),
            cancel_at_period_end=draw(st.booleans()),
            shape=draw(st.sampled_from(["legacy", "classic", "dahlia"])),
        )
    if kind == "deleted":
        return build.subscription_event(
            "deleted",
            CUSTOMER,
            sub,
            price,
            "canceled",
            created=created,
            period_end=NOW + draw(st.sampled_from([-5, 5])),
        )
    if kind in ("failed", "paid"):
        event_type = "invoice.payment_failed" if kind == "failed" else "invoice.paid"
        return build.invoice_event(
            event_type,
            CUSTOMER,
            sub,
            price,
            created=created,
            shape=draw(st.sampled_from(["classic", "dahlia"])),
        )
    if kind == "checkout":
        return build.checkout_completed(
            CUSTOMER, sub, draw(st.sampled_from(["u1", "u2"])), created=created
        )
    return build.customer_event("customer.deleted", CUSTOMER, created=created)


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    effect = draw(st.sampled_from(["grant", "revoke", "clear"]))
    return Override(
        override_id=f"ovr_{draw(st.uuids()).hex}",  # unique, as uuid4 makes them
        customer_id=CUSTOMER,
        user_id=None,
        feature=draw(st.sampled_from(["exports", "advisory-sessions"])),
        effect=effect,
        limit=draw(st.sampled_from([None, 3])) if effect == "grant" else None,
        until=draw(st.sampled_from([None, NOW - 1, NOW + 1])) if effect != "clear" else None,
        applied_at_ms=(NOW - draw(st.integers(0, 3))) * 1000,
        applied_by="property",
        reason="test",
    )


Input = dict[str, Any] | Override


def created_of(item: Input) -> int:
    return item.applied_at_ms // 1000 if isinstance(item, Override) else int(item["created"])


def folded(sequence: list[Input]) -> tuple[CustomerState, dict[str, Any]]:
    state = CustomerState(customer_id=CUSTOMER)
    for item in sequence:
        if isinstance(item, Override):
            apply_override(state, item)
        else:
            fold(state, event_from_mapping(item))
    view = derive(state, CATALOG, NOW, 0).entitlements.view()
    comparable = replace(state, seen_event_ids=[], last_event_id=None, version=0)
    return comparable, view


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(events(), overrides()), min_size=1, max_size=12), st.data())
def test_any_order_and_duplication_folds_to_the_in_order_result(
    history: list[Input], data: st.DataObject
) -> None:
    in_order = sorted(history, key=created_of)
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=6))
    delivered = data.draw(st.permutations(history + duplicates))
    assert folded(delivered) == folded(in_order)


def _fold_all(*raw_events: dict[str, Any]) -> dict[str, Any]:
    return folded(list(raw_events))[1]


def test_a_terminal_state_wins_over_a_later_non_terminal_one() -> None:
    canceled = build.subscription_event(
        "deleted", CUSTOMER, "sub_a", "price_pro", "canceled", created=NOW - 10, period_end=NOW - 5
    )
    later_update = build.subscription_event(
        "updated", CUSTOMER, "sub_a", "price_pro", "active", created=NOW
    )
    for order in ([canceled, later_update], [later_update, canceled]):
        view = _fold_all(*order)
        assert (view["plan"], view["status"]) == ("free", "canceled")


def test_same_second_tie_goes_to_the_higher_status_rank() -> None:
    active = build.subscription_event(
        "updated", CUSTOMER, "sub_a", "price_pro", "active", created=NOW
    )
    past_due = build.subscription_event(
        "updated", CUSTOMER, "sub_a", "price_pro", "past_due", created=NOW
    )
    for order in ([active, past_due], [past_due, active]):
        assert _fold_all(*order)["status"] == "past_due"


def test_an_older_event_never_overwrites_newer_state() -> None:
    newer = build.subscription_event("updated", CUSTOMER, "sub_a", "price_adv", created=NOW)
    older = build.subscription_event("updated", CUSTOMER, "sub_a", "price_pro", created=NOW - 1)
    assert _fold_all(newer, older)["plan"] == "advisory"


def test_payment_outcome_applies_only_when_strictly_newer_than_the_snapshot() -> None:
    snapshot = build.subscription_event("updated", CUSTOMER, "sub_a", "price_pro", created=NOW)
    same_second_failure = build.invoice_event(
        "invoice.payment_failed", CUSTOMER, "sub_a", "price_pro", created=NOW
    )
    later_failure = build.invoice_event(
        "invoice.payment_failed", CUSTOMER, "sub_a", "price_pro", created=NOW + 1
    )
    assert _fold_all(snapshot, same_second_failure)["status"] == "active"
    assert _fold_all(snapshot, later_failure)["status"] == "past_due"
