"""Turning what the cache knows about a user into a ``Decision`` (pure functions)."""

from __future__ import annotations

from atlas_client.models import Decision, Reason, UserEntitlements

# What is known about a user: their entitlements, or why they are not known.
Resolution = UserEntitlements | Reason


def precheck(user_id: str, feature: str) -> Decision | None:
    """Reject wrong types (a programming error) and answer empty ids without a lookup."""
    require_str("user_id", user_id)
    require_str("feature", feature)
    if not user_id:
        return denied(user_id, feature, Reason.UNKNOWN_USER)
    if not feature:
        return denied(user_id, feature, Reason.UNKNOWN_FEATURE)
    return None


def require_str(name: str, value: object) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``str``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def decide(
    user_id: str, feature: str, resolution: Resolution, catalog: frozenset[str] | None
) -> Decision:
    """Grant when the user's entitlements include ``feature``; otherwise say why not."""
    if not isinstance(resolution, UserEntitlements):
        return denied(user_id, feature, resolution)
    entitlements = resolution
    if feature in entitlements.features:
        return granted(entitlements, feature)
    unknown = catalog is not None and feature not in catalog
    reason = Reason.UNKNOWN_FEATURE if unknown else Reason.NOT_IN_PLAN
    return denied(user_id, feature, reason, entitlements)


def granted(entitlements: UserEntitlements, feature: str) -> Decision:
    """A grant of ``feature``, which ``entitlements`` include."""
    limit = entitlements.limits.get(feature)
    user_id, plan, version = entitlements.user_id, entitlements.plan, entitlements.version
    return Decision(True, Reason.GRANTED, feature, user_id, plan, limit, version)


def denied(
    user_id: str, feature: str, reason: Reason, entitlements: UserEntitlements | None = None
) -> Decision:
    """A denial; ``limit`` is 0 whatever the reason."""
    if entitlements is None:
        return Decision(False, reason, feature, user_id, None, 0, None)
    return Decision(False, reason, feature, user_id, entitlements.plan, 0, entitlements.version)
