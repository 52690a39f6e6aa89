"""Fetch a subscription from the Stripe API when Checkout names one no event described yet."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from atlas.settings import Settings

log = logging.getLogger(__name__)


class SubscriptionFetcher:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> SubscriptionFetcher | None:
        """``None`` without ``STRIPE_SECRET_KEY``: the subscription's own events then decide."""
        if settings.stripe_secret_key is None:
            return None
        addresses: Any = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=addresses,
            http_client=stripe.HTTPXClient(),
            max_network_retries=2,
        )
        return cls(client)

    async def fetch(self, subscription_id: str) -> dict[str, Any] | None:
        try:
            subscription = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as exc:
            log.warning("could not fetch subscription %s from Stripe: %s", subscription_id, exc)
            return None
        return subscription.to_dict()
