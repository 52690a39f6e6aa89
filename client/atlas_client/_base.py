"""What the sync and async clients have in common: construction and the no-I/O answers."""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic
from typing import Any

from atlas_client._decide import decide, denied, precheck
from atlas_client._engine import Engine
from atlas_client._settings import ClientSettings
from atlas_client.models import ClientStatus, Decision, Reason


class ClientBase:
    """Shared by ``EntitlementsClient`` and ``AsyncEntitlementsClient``; see their docs."""

    def __init__(
        self,
        *,
        api_url: str | None = None,
        api_key: str | None = None,
        kafka_bootstrap_servers: str | None = None,
        topic_prefix: str = "",
        max_age: float = 600.0,
        refresh_interval: float = 300.0,
        request_timeout: float = 2.0,
        kafka_config: Mapping[str, Any] | None = None,
        upgrade_url: str | None = None,
    ) -> None:
        settings = ClientSettings(
            api_url=api_url,
            api_key=api_key,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            topic_prefix=topic_prefix,
            max_age=max_age,
            refresh_interval=refresh_interval,
            request_timeout=request_timeout,
            kafka_config=kafka_config or {},
            upgrade_url=upgrade_url,
        )
        self._engine = Engine(settings)
        # The hit path reads these directly: one dict lookup, two comparisons.
        self._cache = self._engine.cache
        self._entries = self._cache.entries
        self._max_age = max_age

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.settings!r})"

    @property
    def upgrade_url(self) -> str | None:
        """Where gates tell denied users to upgrade (the ``upgrade_url`` argument)."""
        return self._engine.settings.upgrade_url

    def check_cached(self, user_id: str, feature: str) -> Decision | None:
        """The decision if it can be made without any I/O, else ``None``. Never blocks."""
        entry = self._entries.get(user_id)
        if entry is not None and feature in entry.features:
            floor = monotonic() - self._max_age
            if entry.confirmed_at >= floor or self._cache.stream_contact >= floor:
                return entry.grant(feature)
        early = precheck(user_id, feature)
        if early is not None:
            return early
        engine = self._engine
        resolution = engine.resolve_local(user_id, monotonic())
        if resolution is not None:
            return decide(user_id, feature, resolution, engine.catalog)
        if engine.feature_unknown(feature):
            return denied(user_id, feature, Reason.UNKNOWN_FEATURE)
        return None

    def status(self) -> ClientStatus:
        """A snapshot of the client's health (stream, catalog, cache size, counters)."""
        return self._engine.status()
