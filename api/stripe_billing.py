"""Stripe-hosted billing pages: Checkout Sessions and billing-portal sessions. Atlas only
creates the session and hands back its URL; card data never passes through it."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from atlas.errors import AtlasError
from atlas.settings import Settings
from atlas.stripe_client import stripe_client


class BillingError(AtlasError):
    """Stripe refused or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class StripeBilling:
    client: stripe.StripeClient
    success_url: str
    cancel_url: str
    return_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeBilling | None:
        """``None`` unless STRIPE_SECRET_KEY and the three ATLAS_*_URL settings are set."""
        client = stripe_client(settings)
        urls = (
            settings.checkout_success_url,
            settings.checkout_cancel_url,
            settings.portal_return_url,
        )
        if client is None or None in urls:
            return None
        success, cancel, back = (url for url in urls if url is not None)
        return cls(client, success, cancel, back)

    async def checkout(self, *, price_id: str, user_id: str, customer_id: str | None) -> str:
        """A subscription-mode Checkout Session for ``price_id``; its URL. The user id rides
        along as ``client_reference_id`` and in the subscription's metadata, so the webhooks
        that follow link the customer to the user."""
        params: dict[str, object] = {
            "mode": "subscription",
            "line_items": [{"price": price_id, "quantity": 1}],
            "client_reference_id": user_id,
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            "subscription_data": {"metadata": {"user_id": user_id}},
            "metadata": {"user_id": user_id},
        }
        if customer_id is not None:
            params["customer"] = customer_id
        try:
            session = await self.client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise BillingError(f"Stripe did not create the checkout: {_reason(exc)}") from None
        if not session.url:
            raise BillingError("Stripe created a checkout session without a URL")
        return session.url

    async def portal(self, customer_id: str) -> str:
        params = {"customer": customer_id, "return_url": self.return_url}
        try:
            session = await self.client.v1.billing_portal.sessions.create_async(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise BillingError(f"Stripe did not open the portal: {_reason(exc)}") from None
        return session.url


def _reason(exc: stripe.StripeError) -> str:
    return exc.user_message or exc.code or exc.__class__.__name__
