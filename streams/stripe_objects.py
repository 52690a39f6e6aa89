"""Read the fields Atlas needs out of Stripe objects of every API version from 2012 to 2026.

Shapes handled: the price on ``items.data[].price`` (2018+), ``items.data[].plan`` (2017-2019)
or a top-level ``plan`` (before items existed); the current period end on the subscription
(until 2025) or on each item (2025 ``basil`` and 2026 ``dahlia``); an invoice's subscription at
the top level (until 2025), under ``parent.subscription_details`` (2025+) or on its lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.invoices import InvoiceRecord
from schemas.stripe_event import StripeEvent
from schemas.subscription_state import ANY_SUBSCRIPTION, UNIDENTIFIED_SUBSCRIPTION

Obj = Mapping[str, Any]


def _id_of(value: Any) -> str | None:
    """A Stripe reference is either an id string or an expanded object with an id."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _mapping(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _list_data(value: Any) -> list[Obj]:
    data = value.get("data") if isinstance(value, Mapping) else value
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, Mapping)]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unique(ids: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def _price_of_line(line: Obj) -> str | None:
    pricing = _mapping(_mapping(line.get("pricing")).get("price_details"))
    return _id_of(line.get("price")) or _id_of(line.get("plan")) or _id_of(pricing.get("price"))


# --- subscriptions -------------------------------------------------------------------------


def subscription_id(sub: Obj) -> str:
    return _id_of(sub.get("id")) or UNIDENTIFIED_SUBSCRIPTION


def subscription_price_ids(sub: Obj) -> list[str]:
    items = _list_data(sub.get("items"))
    return _unique([*(_price_of_line(item) for item in items), _id_of(sub.get("plan"))])


def subscription_period_end(sub: Obj) -> int | None:
    own = _int_or_none(sub.get("current_period_end"))
    if own is not None:
        return own
    ends = [_int_or_none(i.get("current_period_end")) for i in _list_data(sub.get("items"))]
    known = [end for end in ends if end is not None]
    return max(known) if known else None


def subscription_status(sub: Obj) -> str:
    status = sub.get("status")
    return status if isinstance(status, str) and status else "incomplete"


def embedded_subscriptions(customer: Obj) -> list[Obj]:
    """Subscriptions embedded in old customer objects (``subscription`` or ``subscriptions``)."""
    single = customer.get("subscription")
    embedded = [single] if isinstance(single, Mapping) else []
    return embedded + _list_data(customer.get("subscriptions"))


# --- invoices ------------------------------------------------------------------------------


def invoice_subscription_id(invoice: Obj) -> str | None:
    """The subscription an invoice bills; ``ANY_SUBSCRIPTION`` for old subscription invoices
    that do not name it; ``None`` for one-off invoices."""
    own = _id_of(invoice.get("subscription"))
    parent = _mapping(_mapping(invoice.get("parent")).get("subscription_details"))
    if own or _id_of(parent.get("subscription")):
        return own or _id_of(parent.get("subscription"))
    lines = _list_data(invoice.get("lines"))
    for line in lines:
        item_parent = _mapping(_mapping(line.get("parent")).get("subscription_item_details"))
        named = _id_of(line.get("subscription")) or _id_of(item_parent.get("subscription"))
        if named:
            return named
        if line.get("type") == "subscription" and str(line.get("id", "")).startswith("sub_"):
            return str(line["id"])
    legacy = _list_data(_mapping(invoice.get("lines")).get("subscriptions"))
    if legacy or any(line.get("type") == "subscription" for line in lines):
        return ANY_SUBSCRIPTION
    return None


def _invoice_lines(invoice: Obj) -> list[Obj]:
    lines = invoice.get("lines")
    return _list_data(lines) + _list_data(_mapping(lines).get("subscriptions"))


def invoice_price_ids(invoice: Obj) -> list[str]:
    lines = _invoice_lines(invoice)
    return _unique(_price_of_line(line) for line in lines)


def invoice_period_end(invoice: Obj) -> int | None:
    lines = _invoice_lines(invoice)
    ends = [_int_or_none(_mapping(line.get("period")).get("end")) for line in lines]
    known = [end for end in ends if end is not None]
    return max(known) if known else None


def invoice_record(event: StripeEvent) -> InvoiceRecord | None:
    invoice = event.object
    invoice_id = _id_of(invoice.get("id"))
    if invoice_id is None or event.customer_id is None:
        return None  # upcoming invoices have no id yet; nothing to keep
    subscription = invoice_subscription_id(invoice)
    return InvoiceRecord(
        invoice_id=invoice_id,
        customer_id=event.customer_id,
        subscription_id=None if subscription == ANY_SUBSCRIPTION else subscription,
        status=_str_or_none(invoice.get("status")),
        amount_due=_int_or_none(invoice.get("amount_due")),
        amount_paid=_int_or_none(invoice.get("amount_paid")),
        currency=_str_or_none(invoice.get("currency")),
        hosted_invoice_url=_str_or_none(invoice.get("hosted_invoice_url")),
        invoice_created=_int_or_none(invoice.get("created")) or _int_or_none(invoice.get("date")),
        event_type=event.type,
        event_id=event.id,
        event_created=event.created,
    )


# --- users ---------------------------------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def metadata_user_id(obj: Obj) -> str | None:
    return _str_or_none(_mapping(obj.get("metadata")).get("user_id"))


def checkout_user_id(session: Obj) -> str | None:
    return _str_or_none(session.get("client_reference_id")) or metadata_user_id(session)


def checkout_subscription(session: Obj) -> tuple[str | None, Obj | None]:
    """The session's subscription id, and the object itself when the event expanded it."""
    value = session.get("subscription")
    return _id_of(value), value if isinstance(value, Mapping) else None


def entitlement_lookup_keys(summary: Obj) -> tuple[list[str], bool]:
    """The lookup keys an ``entitlements.active_entitlement_summary`` lists, and whether the
    list is complete (``has_more`` false) — older and newer shapes put the key on the
    entitlement or on its expanded ``feature``."""
    listing = _mapping(summary.get("entitlements"))
    keys = [_entitlement_lookup_key(entry) for entry in _list_data(listing)]
    return _unique(keys), not listing.get("has_more")


def _entitlement_lookup_key(entitlement: Obj) -> str | None:
    key = entitlement.get("lookup_key")
    if isinstance(key, str):
        return key
    return _str_or_none(_mapping(entitlement.get("feature")).get("lookup_key"))
