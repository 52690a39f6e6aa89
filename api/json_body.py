"""Reading a request's JSON object body with a size cap and a closed set of fields; every
problem is a :class:`BadBody` whose message says what to fix (answered 400)."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import orjson

from atlas.errors import AtlasError

MAX_BODY_BYTES = 16 * 1024


class BadBody(AtlasError):
    """The body is not the JSON object this endpoint takes."""


def json_object(raw: bytes, allowed: Set[str], *, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok and not raw.strip():
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadBody("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadBody("body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadBody(f"unknown fields {unknown}; allowed: {sorted(allowed)}")
    if any(isinstance(value, str) and "\x00" in value for value in body.values()):
        raise BadBody("strings must not contain NUL characters")  # Postgres cannot store them
    return body
