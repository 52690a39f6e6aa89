"""Where each of a customer's features comes from: the plan (the catalog, or Stripe's
entitlements for a plan with ``features_from = "stripe"``) and the customer's live override.
Pure; the operator's page shows one :class:`FeatureLine` per catalog feature."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from atlas.catalog import Catalog, Plan


@dataclass(frozen=True, slots=True)
class FeatureLine:
    key: str
    description: str
    granted: bool  # in the row: what the API and the client library serve
    limit: int | None
    limit_from: str | None  # "plan" or "override"
    plan_says: str  # what the plan alone gives, and why
    plan_grants: bool
    override: Mapping[str, Any] | None  # the live override row (who, when, why, until)

    @property
    def explained(self) -> bool:
        """Whether the plan and the override account for what the row says."""
        if self.override is not None:
            return self.granted == bool(self.override["effect"] == "grant")
        return self.granted == self.plan_grants


def live_overrides(overrides: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """Feature → its latest override when that one is a grant or revoke still in force."""
    return {
        row["feature"]: row
        for row in overrides
        if row["effect"] != "clear" and (row["until"] is None or row["until"] > now)
    }


def _plan_says(
    plan: Plan | None, tier: str, key: str, stripe_keys: Collection[str] | None
) -> tuple[bool, str]:
    if plan is None:
        return False, f"plan {tier!r} is not in the catalog in force"
    if plan.features_from != "stripe":
        if key in plan.features:
            return True, f"plan {tier}"
        return False, f"not in plan {tier}"
    if stripe_keys is None:
        return False, f"plan {tier} takes features from Stripe; the worker's state was not read"
    if key in stripe_keys:
        return True, f"Stripe entitlement (plan {tier} takes features from Stripe)"
    return False, f"no Stripe entitlement (plan {tier} takes features from Stripe)"


def feature_lines(
    row: Mapping[str, Any],
    catalog: Catalog,
    overrides: Sequence[Mapping[str, Any]],
    stripe_keys: Collection[str] | None,
    now: datetime,
) -> list[FeatureLine]:
    """One line per catalog feature (by bit), then any the row grants the catalog lacks."""
    tier = str(row["plan"])
    plan = catalog.plans.get(tier)
    live = live_overrides(overrides, now)
    limits: Mapping[str, int] = row["limits"] or {}
    lines = []
    for feature in sorted(catalog.features.values(), key=lambda feature: feature.bit):
        plan_grants, plan_says = _plan_says(plan, tier, feature.key, stripe_keys)
        override = live.get(feature.key)
        limit = limits.get(feature.key)
        by_override = override is not None and override["limit"] is not None
        lines.append(
            FeatureLine(
                key=feature.key,
                description=feature.description,
                granted=feature.key in row["features"],
                limit=limit,
                limit_from=None if limit is None else "override" if by_override else "plan",
                plan_says=plan_says,
                plan_grants=plan_grants,
                override=override,
            )
        )
    for key in sorted(set(row["features"]) - set(catalog.features)):
        limit = limits.get(key)
        unknown = "not in the catalog in force"
        lines.append(FeatureLine(key, "", True, limit, None, unknown, False, None))
    return lines
