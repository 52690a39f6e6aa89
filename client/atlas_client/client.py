"""The blocking client: checks answer from the local cache, a miss fetches from the API."""

from __future__ import annotations

from time import monotonic
from typing import Self

from atlas_client._base import ClientBase
from atlas_client._decide import Resolution, decide, denied, require_str
from atlas_client.models import Decision, Reason, UserEntitlements


class EntitlementsClient(ClientBase):
    """Local entitlement checks for one process, kept current by Atlas's change stream.

    Keyword arguments (at least one of ``api_url`` and ``kafka_bootstrap_servers``):

    * ``api_url``, ``api_key`` — the Atlas entitlements API and its bearer key; a miss fetches
      ``GET {api_url}/v1/users/{id}/entitlements``.
    * ``kafka_bootstrap_servers`` — follow ``{topic_prefix}atlas.entitlements.changes`` (with
      an API) or bootstrap from ``{topic_prefix}atlas.entitlements`` (without one).
    * ``topic_prefix`` — prefix of the topic names (``""``).
    * ``max_age`` — seconds an entry is trusted after its last confirmation (600).
    * ``refresh_interval`` — seconds between background refreshes from the API (300).
    * ``request_timeout`` — seconds an API request may take (2).
    * ``kafka_config`` — extra confluent-kafka settings merged in, e.g. SASL credentials.
    * ``upgrade_url`` — passed through to the 403 bodies of gates.

    Call ``start()`` (or use ``with``) to run the background stream and refresh. Answers are
    denials, with a reason, whenever the client is unsure; see ``Reason``. Thread-safe.
    """

    def start(self) -> None:
        """Start the background stream and refresh threads; idempotent. Returns at once."""
        self._engine.start()

    def close(self) -> None:
        """Stop the background threads and close connections; idempotent."""
        self._engine.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def has(self, user_id: str, feature: str) -> bool:
        """Whether ``user_id`` may use ``feature`` now. A fresh cache hit does no I/O."""
        entry = self._entries.get(user_id)
        if entry is not None and feature in entry.features:
            floor = monotonic() - self._max_age
            if entry.confirmed_at >= floor or self._cache.stream_contact >= floor:
                return True
        return self.check(user_id, feature).allowed

    def limit(self, user_id: str, feature: str) -> int | None:
        """The user's limit for ``feature``: ``None`` if granted without one, 0 if denied."""
        entry = self._entries.get(user_id)
        if entry is not None and feature in entry.features:
            floor = monotonic() - self._max_age
            if entry.confirmed_at >= floor or self._cache.stream_contact >= floor:
                return entry.limits.get(feature)
        return self.check(user_id, feature).limit

    def check(self, user_id: str, feature: str) -> Decision:
        """The full decision, with its reason. Blocks on a miss (at most ``request_timeout``)."""
        decision = self.check_cached(user_id, feature)
        if decision is not None:
            return decision
        engine = self._engine
        if engine.catalog_due(monotonic()):
            engine.set_catalog(engine.live_api().fetch_catalog(), monotonic())
            if engine.feature_unknown(feature):
                return denied(user_id, feature, Reason.UNKNOWN_FEATURE)
        return decide(user_id, feature, self._fetch(user_id), engine.catalog)

    def entitlements(self, user_id: str) -> UserEntitlements | None:
        """The user's entitlements; ``None`` when unknown, unavailable, stale or warming up."""
        require_str("user_id", user_id)
        if not user_id:
            return None
        resolution = self._engine.resolve_local(user_id, monotonic())
        if resolution is None:
            resolution = self._fetch(user_id)
        return resolution if isinstance(resolution, UserEntitlements) else None

    def _fetch(self, user_id: str) -> Resolution:
        result = self._engine.live_api().fetch_user(user_id, self._cache.etag(user_id))
        return self._engine.resolve_fetched(user_id, result, monotonic())
