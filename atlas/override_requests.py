"""Check an operator's override request and turn it into an :class:`Override` (shared by
``atlas grant`` / ``atlas revoke`` / ``atlas overrides clear`` and the API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from atlas.catalog import Catalog
from atlas.errors import AtlasError
from schemas.overrides import EFFECTS, Override

MAX_REASON_LENGTH = 500


class OverrideError(AtlasError):
    """The override request is invalid; the message says which part and why."""


def parse_until(text: str) -> int:
    """``2026-12-31`` (midnight UTC that day) or an ISO 8601 time with a zone, as epoch
    seconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OverrideError(
            f"until {text!r} is not a date (2026-12-31) or a time with a zone "
            "(2026-12-31T18:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        if len(text.strip()) > len("2026-12-31"):
            raise OverrideError(f"until {text!r} needs a time zone, e.g. a trailing Z")
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def build_override(
    catalog: Catalog,
    *,
    customer_id: str,
    user_id: str | None,
    feature: str,
    effect: str,
    limit: int | None,
    until: int | None,
    applied_by: str,
    reason: str,
    now_ms: int,
) -> Override:
    if effect not in EFFECTS:
        raise OverrideError(f"effect must be one of {list(EFFECTS)}, got {effect!r}")
    if feature not in catalog.features:
        known = ", ".join(sorted(catalog.features))
        raise OverrideError(f"unknown feature {feature!r}; the catalog defines: {known}")
    if limit is not None and (effect != "grant" or isinstance(limit, bool) or limit < 0):
        raise OverrideError("a limit goes only with grant, as a whole number >= 0")
    if until is not None and (effect == "clear" or until * 1000 <= now_ms):
        raise OverrideError("until must lie in the future, and clear takes none")
    if not reason.strip() or len(reason) > MAX_REASON_LENGTH:
        raise OverrideError(f"a reason (1-{MAX_REASON_LENGTH} characters) is required: audited")
    if not applied_by.strip():
        raise OverrideError("who applies the override must be known: audited")
    return Override(
        override_id=f"ovr_{uuid.uuid4().hex}",
        customer_id=customer_id,
        user_id=user_id,
        feature=feature,
        effect=effect,
        limit=limit,
        until=until,
        applied_at_ms=now_ms,
        applied_by=applied_by.strip(),
        reason=reason.strip(),
    )
