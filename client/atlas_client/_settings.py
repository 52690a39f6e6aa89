"""The client's settings, checked once at construction. Secrets stay out of ``repr``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from atlas_client.errors import ConfigurationError


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client was constructed with; see ``EntitlementsClient`` for meanings."""

    api_url: str | None
    api_key: str | None = field(repr=False)
    kafka_bootstrap_servers: str | None
    topic_prefix: str
    max_age: float
    refresh_interval: float
    request_timeout: float
    kafka_config: Mapping[str, Any] = field(repr=False)
    upgrade_url: str | None

    def __post_init__(self) -> None:
        if not self.api_url and not self.kafka_bootstrap_servers:
            raise ConfigurationError("give api_url, kafka_bootstrap_servers or both")
        for name in ("max_age", "refresh_interval", "request_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        object.__setattr__(self, "kafka_config", MappingProxyType(dict(self.kafka_config)))

    @property
    def changes_topic(self) -> str:
        return f"{self.topic_prefix}atlas.entitlements.changes"

    @property
    def entitlements_topic(self) -> str:
        return f"{self.topic_prefix}atlas.entitlements"

    @property
    def kafka_only(self) -> bool:
        """No API: bootstrap from the compacted topic and keep following it."""
        return not self.api_url
