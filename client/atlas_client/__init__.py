"""Atlas client: local entitlement checks kept current by pushed changes.

    from atlas_client import EntitlementsClient

    with EntitlementsClient(api_url="http://atlas:8001", api_key=key,
                            kafka_bootstrap_servers="kafka:9092") as client:
        if client.has("user_1", "exports"):
            ...

Gating: ``atlas_client.starlette`` and ``atlas_client.fastapi``; the features gated on:
``atlas_client.registry``. See the README for freshness rules and deny reasons.
"""

from __future__ import annotations

from atlas_client import registry
from atlas_client.aio import AsyncEntitlementsClient
from atlas_client.client import EntitlementsClient
from atlas_client.errors import (
    AccessRefused,
    AtlasClientError,
    ClientClosedError,
    ConfigurationError,
    GateNotInstalledError,
)
from atlas_client.models import ClientStatus, Decision, Reason, UserEntitlements

__all__ = [
    "AccessRefused",
    "AsyncEntitlementsClient",
    "AtlasClientError",
    "ClientClosedError",
    "ClientStatus",
    "ConfigurationError",
    "Decision",
    "EntitlementsClient",
    "GateNotInstalledError",
    "Reason",
    "UserEntitlements",
    "registry",
]
