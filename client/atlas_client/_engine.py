"""The machinery both clients share: settings, cache, catalog, API health, and the
background threads (change stream, refresh)."""

from __future__ import annotations

import threading
import time

from atlas_client._cache import UNKNOWN_USER_TTL, EntitlementCache, Entry
from atlas_client._decide import Resolution
from atlas_client._http import Answer, ApiHealth, FetchResult, Found, SyncApi
from atlas_client._refresh import Refresher
from atlas_client._settings import ClientSettings
from atlas_client._stream import ChangeStream
from atlas_client.errors import ClientClosedError
from atlas_client.models import ClientStatus, Reason

CATALOG_RETRY = 30.0  # seconds between attempts to load a catalog that failed to load


class Engine:
    """Answers what can be answered locally and applies what the sources said."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.cache = EntitlementCache()
        self.catalog: frozenset[str] | None = None
        self.health = ApiHealth()
        self.api: SyncApi | None = None
        self._refresher: Refresher | None = None
        self._stream: ChangeStream | None = None
        if settings.api_url:
            timeout = settings.request_timeout
            self.api = SyncApi(settings.api_url, settings.api_key, self.health, timeout)
            self._refresher = Refresher(self, self.api, settings.refresh_interval)
        if settings.kafka_bootstrap_servers:
            self._stream = ChangeStream(settings.kafka_bootstrap_servers, settings, self.cache)
        self._catalog_retry_at = float("-inf")
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def start(self) -> None:
        with self._lock:
            self.ensure_open()
            if self._started:
                return
            if self._stream is not None:
                self._stream.start()
            if self._refresher is not None:
                self._refresher.start()
            self._started = True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._stream is not None:
            self._stream.stop()
        if self._refresher is not None:
            self._refresher.stop()
        if self.api is not None:
            self.api.close()

    def ensure_open(self) -> None:
        if self._closed:
            raise ClientClosedError("the Atlas client was closed")

    def live_api(self) -> SyncApi:
        """The API, for a fetch that ``resolve_local`` asked for (so there is one)."""
        self.ensure_open()
        assert self.api is not None
        return self.api

    def fresh(self, entry: Entry, now: float) -> bool:
        confirmed = max(entry.confirmed_at, self.cache.stream_contact)
        return now - confirmed <= self.settings.max_age

    def resolve_local(self, user_id: str, now: float) -> Resolution | None:
        """What the cache alone can say about ``user_id``; ``None``: ask the API."""
        entry = self.cache.entries.get(user_id)
        if entry is not None:
            if entry.entitlements is None:
                if now - entry.confirmed_at < UNKNOWN_USER_TTL:
                    return Reason.UNKNOWN_USER
            elif self.fresh(entry, now):
                return entry.entitlements
        if self.api is not None:
            return None
        if self._stream is None or not self._stream.ready:
            return Reason.WARMING_UP
        return Reason.UNKNOWN_USER if entry is None else Reason.STALE

    def resolve_fetched(self, user_id: str, result: FetchResult, now: float) -> Resolution:
        """Apply the API's answer, then say what is known about ``user_id``."""
        self.apply(user_id, result, now)
        if result is Answer.NOT_FOUND:
            return Reason.UNKNOWN_USER
        entry = self.cache.entries.get(user_id)
        held = entry.entitlements if entry is not None else None
        if result is not Answer.UNREACHABLE or (entry is not None and self.fresh(entry, now)):
            # A lower version from the API leaves the (newer) cached entitlements in place.
            return held if held is not None else Reason.UNAVAILABLE
        return Reason.STALE if held is not None else Reason.UNAVAILABLE

    def apply(self, user_id: str, result: FetchResult, now: float) -> None:
        if isinstance(result, Found):
            self.cache.offer(result.entitlements, now, result.etag)
        elif result is Answer.NOT_MODIFIED:
            self.cache.confirm(user_id, now)
        elif result is Answer.NOT_FOUND:
            self.cache.mark_unknown(user_id, now)

    def catalog_due(self, now: float) -> bool:
        return self.api is not None and self.catalog is None and now >= self._catalog_retry_at

    def set_catalog(self, features: frozenset[str] | None, now: float) -> None:
        if features is None:
            self._catalog_retry_at = now + CATALOG_RETRY
        else:
            self.catalog = features

    def feature_unknown(self, feature: str) -> bool:
        return self.catalog is not None and feature not in self.catalog

    def status(self) -> ClientStatus:
        contact = self.cache.stream_contact
        stream = self._stream
        return ClientStatus(
            started=self._started and not self._closed,
            stream_ready=stream is not None and stream.ready,
            seconds_since_stream_contact=(
                time.monotonic() - contact if contact != float("-inf") else None
            ),
            catalog_loaded=self.catalog is not None,
            cached_users=len(self.cache.entries),
            messages_applied=stream.applied if stream is not None else 0,
            messages_skipped=stream.skipped if stream is not None else 0,
        )
