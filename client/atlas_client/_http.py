"""Fetching from the Atlas entitlements API, blocking (``SyncApi``) or async (``AsyncApi``).

Every failure becomes ``Answer.UNREACHABLE``: the caller denies, it never raises. After a
failure the API is left alone for ``RETRY_DELAY`` seconds, so an outage costs each check
nothing instead of a timeout. The API key is sent, never logged. A 404 counts as "unknown
user" only with the API's ``{"error": "unknown_user"}`` body: a 404 from a wrong
``api_url`` must not deny every user as unknown.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

import httpx

from atlas_client import _wire
from atlas_client.models import UserEntitlements

log = logging.getLogger("atlas_client")

RETRY_DELAY = 1.0


class Answer(Enum):
    """An API answer that carries no entitlements."""

    NOT_MODIFIED = "not_modified"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Found:
    """A 200 answer: the user's entitlements and the ETag to revalidate them with."""

    entitlements: UserEntitlements
    etag: str | None


FetchResult = Found | Answer


class ApiHealth:
    """Shared by one client's transports: the back-off after a failure, and one log line per
    outage (and per refused key) rather than one per request."""

    def __init__(self) -> None:
        self._down_until = float("-inf")
        self._down = False
        self._refusal_logged = False

    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def answered(self) -> None:
        if self._down:
            self._down = False
            log.info("Atlas API answering again")

    def failed(self, detail: str) -> None:
        if not self._down:
            self._down = True
            log.warning("Atlas API unusable (%s): denying what the cache cannot answer", detail)
        self._down_until = time.monotonic() + RETRY_DELAY

    def refused(self, status: int) -> None:
        if not self._refusal_logged:
            self._refusal_logged = True
            log.error("Atlas API refused the API key (HTTP %d): every check is denied", status)
        self._down_until = time.monotonic() + RETRY_DELAY


class _Protocol:
    """Request building and answer reading, common to both transports."""

    def __init__(self, api_url: str, api_key: str | None, health: ApiHealth) -> None:
        self.health = health
        self.base_url = api_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _user_url(self, user_id: str) -> str:
        return f"{self.base_url}/v1/users/{quote(user_id, safe='')}/entitlements"

    def _catalog_url(self) -> str:
        return f"{self.base_url}/v1/catalog"

    def _user_headers(self, etag: str | None) -> dict[str, str]:
        return {**self._auth, "If-None-Match": etag} if etag else self._auth

    def _read_user(self, user_id: str, response: httpx.Response) -> FetchResult:
        status = response.status_code
        if status == 200:
            return self._found(user_id, response)
        if status in (401, 403):
            self.health.refused(status)
            return Answer.UNREACHABLE
        if status == 304:
            self.health.answered()
            return Answer.NOT_MODIFIED
        if status == 404 and _error_code(response) == "unknown_user":
            self.health.answered()
            return Answer.NOT_FOUND
        self.health.failed(f"HTTP {status}")
        return Answer.UNREACHABLE

    def _found(self, user_id: str, response: httpx.Response) -> FetchResult:
        try:
            entitlements = _wire.api_entitlements(response.content)
        except _wire.WireFormatError as exc:
            self.health.failed(f"malformed entitlements: {exc}")
            return Answer.UNREACHABLE
        if entitlements.user_id != user_id:
            self.health.failed("entitlements of another user")
            return Answer.UNREACHABLE
        self.health.answered()
        return Found(entitlements, response.headers.get("etag"))

    def _read_catalog(self, response: httpx.Response) -> frozenset[str] | None:
        if response.status_code in (401, 403):
            self.health.refused(response.status_code)
            return None
        try:
            response.raise_for_status()
            features = _wire.catalog_features(response.content)
        except (httpx.HTTPStatusError, _wire.WireFormatError) as exc:
            log.warning("Atlas catalog unusable: %s", exc)
            return None
        self.health.answered()
        return features

    def _transport_failed(self, exc: httpx.HTTPError) -> None:
        self.health.failed(f"{type(exc).__name__}: {exc}")


class SyncApi(_Protocol):
    """Blocking fetches with ``httpx.Client``; used by the sync client and the refresher."""

    def __init__(self, api_url: str, api_key: str | None, health: ApiHealth, timeout: float):
        super().__init__(api_url, api_key, health)
        self._http = httpx.Client(timeout=timeout)

    def fetch_user(self, user_id: str, etag: str | None) -> FetchResult:
        if not self.health.usable():
            return Answer.UNREACHABLE
        try:
            response = self._http.get(self._user_url(user_id), headers=self._user_headers(etag))
        except httpx.HTTPError as exc:
            self._transport_failed(exc)
            return Answer.UNREACHABLE
        return self._read_user(user_id, response)

    def fetch_catalog(self) -> frozenset[str] | None:
        if not self.health.usable():
            return None
        try:
            response = self._http.get(self._catalog_url(), headers=self._auth)
        except httpx.HTTPError as exc:
            self._transport_failed(exc)
            return None
        return self._read_catalog(response)

    def close(self) -> None:
        self._http.close()


class AsyncApi(_Protocol):
    """Non-blocking fetches with ``httpx.AsyncClient``; used by the async client."""

    def __init__(self, api_url: str, api_key: str | None, health: ApiHealth, timeout: float):
        super().__init__(api_url, api_key, health)
        self._http = httpx.AsyncClient(timeout=timeout)

    async def fetch_user(self, user_id: str, etag: str | None) -> FetchResult:
        if not self.health.usable():
            return Answer.UNREACHABLE
        try:
            response = await self._http.get(
                self._user_url(user_id), headers=self._user_headers(etag)
            )
        except httpx.HTTPError as exc:
            self._transport_failed(exc)
            return Answer.UNREACHABLE
        return self._read_user(user_id, response)

    async def fetch_catalog(self) -> frozenset[str] | None:
        if not self.health.usable():
            return None
        try:
            response = await self._http.get(self._catalog_url(), headers=self._auth)
        except httpx.HTTPError as exc:
            self._transport_failed(exc)
            return None
        return self._read_catalog(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_code(response: httpx.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
