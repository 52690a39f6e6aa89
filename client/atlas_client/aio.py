"""The asyncio client: the same cache and background threads, non-blocking fetches."""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Self

from atlas_client._base import ClientBase
from atlas_client._decide import Resolution, decide, denied, require_str
from atlas_client._http import AsyncApi
from atlas_client.models import Decision, Reason, UserEntitlements


class AsyncEntitlementsClient(ClientBase):
    """``EntitlementsClient`` for asyncio code: the same keyword arguments and answers, and
    the same methods as coroutines. A cache hit does no I/O and never yields to the loop; a
    miss fetches with ``httpx.AsyncClient``. The Kafka stream and the periodic refresh run
    in background threads, as for the blocking client.
    """

    _async_api: AsyncApi | None = None

    async def start(self) -> None:
        """Start the background stream and refresh threads; idempotent."""
        self._engine.start()

    async def close(self) -> None:
        """Stop the background threads and close connections; idempotent."""
        await asyncio.to_thread(self._engine.close)
        if self._async_api is not None:
            await self._async_api.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def has(self, user_id: str, feature: str) -> bool:
        """Whether ``user_id`` may use ``feature`` now. A fresh cache hit does no I/O."""
        entry = self._entries.get(user_id)
        if entry is not None and feature in entry.features:
            floor = monotonic() - self._max_age
            if entry.confirmed_at >= floor or self._cache.stream_contact >= floor:
                return True
        return (await self.check(user_id, feature)).allowed

    async def limit(self, user_id: str, feature: str) -> int | None:
        """The user's limit for ``feature``: ``None`` if granted without one, 0 if denied."""
        entry = self._entries.get(user_id)
        if entry is not None and feature in entry.features:
            floor = monotonic() - self._max_age
            if entry.confirmed_at >= floor or self._cache.stream_contact >= floor:
                return entry.limits.get(feature)
        return (await self.check(user_id, feature)).limit

    async def check(self, user_id: str, feature: str) -> Decision:
        """The full decision, with its reason. Awaits the API on a miss."""
        decision = self.check_cached(user_id, feature)
        if decision is not None:
            return decision
        engine = self._engine
        if engine.catalog_due(monotonic()):
            engine.set_catalog(await self._api().fetch_catalog(), monotonic())
            if engine.feature_unknown(feature):
                return denied(user_id, feature, Reason.UNKNOWN_FEATURE)
        return decide(user_id, feature, await self._fetch(user_id), engine.catalog)

    async def entitlements(self, user_id: str) -> UserEntitlements | None:
        """The user's entitlements; ``None`` when unknown, unavailable, stale or warming up."""
        require_str("user_id", user_id)
        if not user_id:
            return None
        resolution = self._engine.resolve_local(user_id, monotonic())
        if resolution is None:
            resolution = await self._fetch(user_id)
        return resolution if isinstance(resolution, UserEntitlements) else None

    def _api(self) -> AsyncApi:
        api = self._engine.live_api()  # checks the client is open and has an API
        if self._async_api is None:
            settings = self._engine.settings
            self._async_api = AsyncApi(
                api.base_url, settings.api_key, self._engine.health, settings.request_timeout
            )
        return self._async_api

    async def _fetch(self, user_id: str) -> Resolution:
        result = await self._api().fetch_user(user_id, self._cache.etag(user_id))
        return self._engine.resolve_fetched(user_id, result, monotonic())
