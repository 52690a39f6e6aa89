"""The one way Atlas builds a Stripe API client (``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE``)."""

from __future__ import annotations

from typing import Any

import stripe

from atlas.settings import Settings


def stripe_client(settings: Settings) -> stripe.StripeClient | None:
    """``None`` without ``STRIPE_SECRET_KEY``: whatever needs the API then says so."""
    if settings.stripe_secret_key is None:
        return None
    addresses: Any = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=addresses,
        http_client=stripe.HTTPXClient(allow_sync_methods=True),  # commands call it blocking
        max_network_retries=2,
    )
