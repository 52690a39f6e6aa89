"""Reading Atlas's wire formats: the HTTP API's JSON and the Kafka records.

Unknown fields are ignored, so newer servers can add some. Anything malformed raises
``WireFormatError``; callers decide whether that is a skipped record or an unusable answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from atlas_client.models import UserEntitlements

SCHEMA = 1

TimeReader = Callable[[object], datetime | None]


class WireFormatError(ValueError):
    """A payload does not follow the Atlas wire format."""


def api_entitlements(body: bytes) -> UserEntitlements:
    """Entitlements from the body of ``GET /v1/users/{id}/entitlements`` (ISO-8601 times)."""
    return _entitlements(_object(_json(body)), _iso_time)


def catalog_features(body: bytes) -> frozenset[str]:
    """The feature keys of ``GET /v1/catalog``."""
    features = _object(_json(body)).get("features")
    if not isinstance(features, dict):
        raise WireFormatError("catalog has no 'features' object")
    return frozenset(str(key) for key in features)


def change_record(value: bytes | None) -> UserEntitlements:
    """Entitlements from a record of ``atlas.entitlements.changes`` (its ``entitlements``)."""
    nested = _object(_versioned(value).get("entitlements"))
    if nested.get("schema", SCHEMA) != SCHEMA:  # the change's own schema covers a missing one
        raise WireFormatError(f"entitlements schema {nested['schema']!r} is not {SCHEMA}")
    return _entitlements(nested, _epoch_time)


def entitlements_record(value: bytes | None) -> UserEntitlements:
    """Entitlements from a record of the compacted ``atlas.entitlements`` topic."""
    return _entitlements(_versioned(value), _epoch_time)


def _json(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WireFormatError(f"invalid JSON: {exc}") from None


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WireFormatError("expected a JSON object")
    return data


def _versioned(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise WireFormatError("tombstone")
    record = _object(_json(value))
    if record.get("schema") != SCHEMA:
        raise WireFormatError(f"schema {record.get('schema')!r} is not {SCHEMA}")
    return record


def _entitlements(data: Mapping[str, Any], read_time: TimeReader) -> UserEntitlements:
    return UserEntitlements(
        user_id=_text(data, "user_id"),
        customer_id=_text(data, "customer_id"),
        plan=_text(data, "plan"),
        status=_text(data, "status"),
        features=_features(data.get("features")),
        limits=_limits(data.get("limits")),
        feature_bits=_integer(data, "feature_bits"),
        current_period_end=read_time(data.get("current_period_end")),
        grace_until=read_time(data.get("grace_until")),
        banner=_optional_text(data, "banner"),
        version=_integer(data, "version"),
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise WireFormatError(f"{key!r} must be a non-empty string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise WireFormatError(f"{key!r} must be a string or null")
    return value


def _integer(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireFormatError(f"{key!r} must be an integer")
    return value


def _features(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WireFormatError("'features' must be a list of strings")
    return frozenset(value)


def _limits(value: object) -> Mapping[str, int]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict) or not all(
        isinstance(limit, int) and not isinstance(limit, bool) for limit in value.values()
    ):
        raise WireFormatError("'limits' must map feature keys to integers")
    return MappingProxyType(dict(value))


def _iso_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireFormatError("times must be ISO-8601 strings or null")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WireFormatError(f"not an ISO-8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise WireFormatError("times must be epoch seconds or null")
    return datetime.fromtimestamp(value, UTC)
