"""A fleet of customers' realistic billing histories, generated from a seed, for the fault test
that posts them in order and then shuffled and duplicated.

Every id a history carries (customers, users, subscriptions, invoices, events) contains the
fleet's tag between underscores, so the same histories for fresh customers are the same bytes
with another tag (:func:`retagged`). All times lie 20-30 days back, and every time-driven
change (period ends, grace ends) either lies further back or 40 days ahead: nothing flips
while the test runs, so both runs must end the same whatever the clock.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass
from typing import Any

import orjson

from tests import stripe_builders as build

DAY = 86400
SHAPES = ("legacy", "classic", "dahlia")


@dataclass(frozen=True)
class Fleet:
    tag: str
    histories: dict[str, list[bytes]]  # customer id -> its events' bodies, in order

    @property
    def events(self) -> list[bytes]:
        return [body for history in self.histories.values() for body in history]


def new_tag(rng: random.Random) -> str:
    """Letters no hex id or JSON key of a Stripe event contains between underscores."""
    return "Q" + "".join(rng.choice(string.ascii_uppercase) for _ in range(7))


def retagged(fleet: Fleet, tag: str) -> Fleet:
    old, new = f"_{fleet.tag}_".encode(), f"_{tag}_".encode()
    return Fleet(
        tag,
        {
            customer.replace(fleet.tag, tag): [body.replace(old, new) for body in history]
            for customer, history in fleet.histories.items()
        },
    )


def fleet(events: int, customers: int, prices: dict[str, str], seed: int) -> Fleet:
    rng = random.Random(seed)
    tag = new_tag(rng)
    start = int(time.time()) - 30 * DAY
    histories: dict[str, list[bytes]] = {}
    serial = iter(range(10**9))
    for number in range(customers):
        wanted = events // customers + (1 if number < events % customers else 0)
        story = _History(rng, tag, number, prices, start + rng.randint(0, 2 * DAY))
        bodies = []
        for event in story.events(wanted):
            event["id"] = f"evt_{tag}_{next(serial):08d}"
            bodies.append(orjson.dumps(event))
        histories[story.customer] = bodies
    return Fleet(tag, histories)


class _History:
    """One customer: sign-up, checkout, then renewals, failures, plan changes, pauses and noise,
    sometimes ending in cancellation."""

    def __init__(
        self, rng: random.Random, tag: str, number: int, prices: dict[str, str], start: int
    ) -> None:
        self.rng = rng
        self.customer = f"cus_{tag}_{number:05d}"
        self.user = f"user_{tag}_{number:05d}"
        self.sub = f"sub_{tag}_{number:05d}"
        self.tag, self.number = tag, number
        self.paid = [prices["pro"], prices["advisory"]]
        self.price = rng.choice([*self.paid, *self.paid, prices["free"], "price_retired_plan"])
        self.shape = rng.choice(SHAPES)
        self.clock = start
        self.invoices = 0
        self.renewal = start + 40 * DAY + 30 * DAY  # ~40 days ahead: never reached in a test

    def _tick(self) -> int:
        # Sometimes the same second as the previous event: the ordering rule breaks the tie.
        self.clock += self.rng.choice([0, 0, 1, 5, 60, 3600, 3 * 3600])
        return self.clock

    def _sub(self, kind: str, status: str, **fields: Any) -> dict[str, Any]:
        return build.subscription_event(
            kind,
            self.customer,
            self.sub,
            self.price,
            status,
            created=self._tick(),
            shape=self.shape,
            period_end=fields.pop("period_end", self.renewal),
            **fields,
        )

    def _invoice(self, event_type: str) -> dict[str, Any]:
        if event_type == "invoice.created":
            self.invoices += 1
        invoice_id = f"in_{self.tag}_{self.number:05d}x{self.invoices}"
        return build.invoice_event(
            event_type,
            self.customer,
            self.sub,
            self.price,
            created=self._tick(),
            shape="dahlia" if self.shape == "dahlia" else "classic",
            invoice_id=invoice_id,
        )

    def events(self, wanted: int) -> list[dict[str, Any]]:
        user = self.user if self.rng.random() < 0.5 else None
        out = [
            build.customer_event(
                "customer.created", self.customer, created=self._tick(), user_id=user
            )
        ]
        out.append(
            build.checkout_completed(self.customer, self.sub, self.user, created=self._tick())
        )
        out.append(self._sub("created", self.rng.choice(["active", "active", "trialing"])))
        steps = [
            self._renew,
            self._renew,
            self._fail,
            self._recover,
            self._change_plan,
            self._toggle_cancel,
            self._pause,
            self._noise,
        ]
        while len(out) < wanted:
            out += self.rng.choice(steps)()
        if self.rng.random() < 0.3:
            out[wanted - 1] = self._sub("deleted", "canceled", period_end=self.clock + 60)
        return out[:wanted]

    def _renew(self) -> list[dict[str, Any]]:
        return [self._invoice(t) for t in ("invoice.created", "invoice.finalized", "invoice.paid")]

    def _fail(self) -> list[dict[str, Any]]:
        return [self._invoice("invoice.payment_failed"), self._sub("updated", "past_due")]

    def _recover(self) -> list[dict[str, Any]]:
        return [self._invoice("invoice.payment_succeeded"), self._sub("updated", "active")]

    def _change_plan(self) -> list[dict[str, Any]]:
        self.price = self.rng.choice([*self.paid, "price_retired_plan"])
        return [self._sub("updated", "active")]

    def _toggle_cancel(self) -> list[dict[str, Any]]:
        return [self._sub("updated", "active", cancel_at_period_end=self.rng.random() < 0.5)]

    def _pause(self) -> list[dict[str, Any]]:
        return [self._sub("paused", "paused"), self._sub("resumed", "active")]

    def _noise(self) -> list[dict[str, Any]]:
        tax_id = {
            "id": f"txi_{self.tag}_{self.number:05d}",
            "object": "tax_id",
            "customer": self.customer,
        }
        return [
            build.envelope("customer.tax_id.created", tax_id, self._tick()),
            build.customer_event(
                "customer.updated", self.customer, created=self._tick(), user_id=self.user
            ),
        ]
