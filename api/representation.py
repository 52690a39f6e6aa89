"""What the entitlements API answers: a ``subscriptions`` row as JSON, its ETag, the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from atlas.catalog import Catalog


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def entitlements_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": row["user_id"],
        "customer_id": row["stripe_customer_id"],
        "plan": row["plan"],
        "status": row["status"],
        "features": sorted(row["features"]),
        "limits": dict(row["limits"]),
        "feature_bits": row["feature_bits"],
        "current_period_end": _iso(row["current_period_end"]),
        "cancel_at_period_end": row["cancel_at_period_end"],
        "grace_until": _iso(row["grace_until"]),
        "banner": row["banner"],
        "version": row["version"],
    }


def etag_of(row: dict[str, Any]) -> str:
    """A row's version only grows and names its content, so it makes a strong validator."""
    return f'"{row["version"]}-{row["stripe_customer_id"]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def catalog_body(catalog: Catalog) -> dict[str, Any]:
    return {
        "version": catalog.version,
        "features": {
            key: {"bit": feature.bit, "description": feature.description}
            for key, feature in sorted(catalog.features.items())
        },
        "plans": {
            tier: {
                "rank": plan.rank,
                "features": sorted(plan.features),
                "limits": dict(sorted(plan.limits.items())),
                "grace_days": plan.grace_days,
                "features_from": plan.features_from,
            }
            for tier, plan in sorted(catalog.plans.items(), key=lambda item: item[1].rank)
        },
    }
