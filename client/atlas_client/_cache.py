"""The in-process cache of entitlements, shared by request threads and background threads.

Reads take no lock: an entry is replaced whole (``dict`` assignment is atomic under the GIL)
and never mutated. Writes take one lock, because the version check and the store must not
interleave with another writer's (a change event racing an API answer from an older row).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from atlas_client._decide import granted
from atlas_client.models import Decision, UserEntitlements

NEVER = float("-inf")
UNKNOWN_USER_TTL = 30.0  # seconds a 404 from the API is believed without asking again
_NO_LIMITS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached answer for a user; ``entitlements`` is ``None`` for "the API does not know
    this user". ``features`` and ``limits`` are copied out for the hit path's sake, and
    ``granted`` memoizes the granting decisions made from these entitlements (a pure function
    of them, so filling it in is not a change of the entry)."""

    entitlements: UserEntitlements | None
    confirmed_at: float  # time.monotonic() of the last confirmation
    etag: str | None
    features: frozenset[str]
    limits: Mapping[str, int]
    granted: dict[str, Decision]

    @classmethod
    def of(cls, entitlements: UserEntitlements, now: float, etag: str | None) -> Entry:
        return cls(entitlements, now, etag, entitlements.features, entitlements.limits, {})

    @classmethod
    def unknown(cls, now: float) -> Entry:
        return cls(None, now, None, frozenset(), _NO_LIMITS, {})

    def grant(self, feature: str) -> Decision:
        """The granting decision for ``feature``, one of ``features``; made once."""
        decision = self.granted.get(feature)
        if decision is None:
            assert self.entitlements is not None  # features is empty without entitlements
            decision = self.granted[feature] = granted(self.entitlements, feature)
        return decision


class EntitlementCache:
    """User id → ``Entry``, plus the last time the change stream proved to be live."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.stream_contact = NEVER
        self._user_of_customer: dict[str, str] = {}
        self._lock = threading.Lock()

    def etag(self, user_id: str) -> str | None:
        entry = self.entries.get(user_id)
        return entry.etag if entry is not None else None

    def offer(self, entitlements: UserEntitlements, now: float, etag: str | None = None) -> None:
        """Store ``entitlements`` unless a higher version is cached; an equal version only
        refreshes the confirmation time."""
        user_id = entitlements.user_id
        with self._lock:
            held = self.entries.get(user_id)
            current = held.entitlements if held is not None else None
            if current is not None and current.version > entitlements.version:
                return
            if held is not None and current is not None and current.version == entitlements.version:
                self.entries[user_id] = replace(held, confirmed_at=now, etag=etag or held.etag)
                return
            self.entries[user_id] = Entry.of(entitlements, now, etag)
            self._relink(entitlements)

    def confirm(self, user_id: str, now: float) -> None:
        """The source says the cached entitlements are unchanged (HTTP 304)."""
        with self._lock:
            held = self.entries.get(user_id)
            if held is not None and held.entitlements is not None:
                self.entries[user_id] = replace(held, confirmed_at=now)

    def mark_unknown(self, user_id: str, now: float) -> None:
        """The API does not know ``user_id``; a cached positive entry (which can only have
        come from the change stream, ahead of the API) is kept."""
        with self._lock:
            held = self.entries.get(user_id)
            if held is None or held.entitlements is None:
                self.entries[user_id] = Entry.unknown(now)

    def due_for_refresh(self, now: float, interval: float) -> list[tuple[str, str | None]]:
        """(user id, etag) of every known user not confirmed in the last ``interval``
        seconds; forgets expired unknown-user entries on the way."""
        with self._lock:
            for user_id, entry in list(self.entries.items()):
                if entry.entitlements is None and now - entry.confirmed_at >= UNKNOWN_USER_TTL:
                    del self.entries[user_id]
            return [
                (user_id, entry.etag)
                for user_id, entry in self.entries.items()
                if entry.entitlements is not None and now - entry.confirmed_at >= interval
            ]

    def _relink(self, entitlements: UserEntitlements) -> None:
        # A customer re-linked to another user: the previous user must not keep its access.
        previous = self._user_of_customer.get(entitlements.customer_id)
        self._user_of_customer[entitlements.customer_id] = entitlements.user_id
        if previous is None or previous == entitlements.user_id:
            return
        held = self.entries.get(previous)
        if held is not None and held.entitlements is not None:
            if held.entitlements.customer_id == entitlements.customer_id:
                del self.entries[previous]
