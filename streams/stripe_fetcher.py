"""Ask the Stripe API for what an event left out: a subscription Checkout named before any
event described it, or the remaining pages of a customer's active entitlements."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from atlas.settings import Settings
from atlas.stripe_client import stripe_client

log = logging.getLogger(__name__)

PAGE_SIZE = 100


class StripeFetcher:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeFetcher | None:
        """``None`` without ``STRIPE_SECRET_KEY``: only what events carry is used."""
        client = stripe_client(settings)
        return None if client is None else cls(client)

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        try:
            subscription = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as exc:
            log.warning("could not fetch subscription %s from Stripe: %s", subscription_id, exc)
            return None
        return subscription.to_dict()

    async def active_entitlement_keys(self, customer_id: str) -> list[str] | None:
        """Every page of the customer's active entitlements, as lookup keys; ``None`` when
        Stripe could not be asked (the summary event is then left unapplied and logged)."""
        service = self._client.v1.entitlements.active_entitlements
        keys: list[str] = []
        params: dict[str, Any] = {"customer": customer_id, "limit": PAGE_SIZE}
        try:
            while True:
                page = await service.list_async(params)  # type: ignore[arg-type]
                keys.extend(entry.lookup_key for entry in page.data)
                if not page.has_more or not page.data:
                    return keys
                params["starting_after"] = page.data[-1].id
        except stripe.StripeError as exc:
            log.warning("could not list active entitlements of %s: %s", customer_id, exc)
            return None
