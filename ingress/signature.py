"""Stripe's webhook signature scheme, checked without building Stripe objects.

``Stripe-Signature: t=<unix time>,v1=<hex hmac>[,v1=...][,v0=...]``: the HMAC-SHA256 of
``"<t>." + raw body`` under the endpoint's signing secret. Any ``v1`` matching any configured
secret is accepted (Stripe sends several during secret rotation); the timestamp must be within
the tolerance of now, in either direction. The ``stripe`` library skips the age check unless a
tolerance is passed; this module always enforces it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from atlas.errors import AtlasError

TOLERANCE_S = 300
_MAX_HEADER_LENGTH = 8192


class SignatureError(AtlasError):
    """The webhook's signature does not prove it came from Stripe; ``reason`` says how."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed_signature", "Stripe-Signature lacks t= or v1=")
    return timestamp, signatures


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: tuple[bytes, ...],
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> int:
    """Raise :class:`SignatureError` unless ``header`` signs ``body``; return its timestamp."""
    if not header:
        raise SignatureError("missing_signature", "no Stripe-Signature header")
    if len(header) > _MAX_HEADER_LENGTH:
        raise SignatureError("malformed_signature", "Stripe-Signature header is too long")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(
            "stale_timestamp", f"signature timestamp is more than {tolerance_s} s from now"
        )
    signed = str(timestamp).encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise SignatureError("invalid_signature", "no v1 signature matches a configured secret")


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """A valid ``Stripe-Signature`` header for ``body``: for tests, benchmarks and tools."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"
