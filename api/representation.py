"""What the entitlements API answers: a ``subscriptions`` row as JSON, its ETag, the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse

from atlas.catalog import Catalog
from atlas.http_errors import error_response


def iso_time(moment: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601 in UTC with a ``Z``."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def unknown_user(user_id: str) -> JSONResponse:
    return error_response(404, "unknown_user", f"Atlas knows no customer for {user_id!r}")


def entitlements_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": row["user_id"],
        "customer_id": row["stripe_customer_id"],
        "plan": row["plan"],
        "status": row["status"],
        "features": sorted(row["features"]),
        "limits": dict(row["limits"]),
        "feature_bits": row["feature_bits"],
        "current_period_end": iso_time(row["current_period_end"]),
        "cancel_at_period_end": row["cancel_at_period_end"],
        "grace_until": iso_time(row["grace_until"]),
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
