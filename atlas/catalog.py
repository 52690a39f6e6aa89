"""The plan catalog: features with fixed bit positions, and the tiers that grant them.

The catalog is a TOML file (see ``default_catalog.toml`` for the documented format). Loading
validates everything up front and raises :class:`CatalogError` with a message that names the
offending entry, so a bad catalog never reaches a running worker.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from atlas.errors import AtlasError

FREE_TIER = "free"
MAX_BIT = 62  # the bitmap is a signed 64-bit integer column
FEATURE_SOURCES = ("catalog", "stripe")  # where a plan's features come from


class CatalogError(AtlasError):
    """The catalog file is malformed; the message names the entry to fix."""


@dataclass(frozen=True)
class Feature:
    key: str
    bit: int
    description: str


@dataclass(frozen=True)
class Plan:
    tier: str
    rank: int
    features: frozenset[str]
    limits: Mapping[str, int]
    price_ids: frozenset[str]
    grace_days: int | None = None  # past_due keeps the plan's features this long, then free
    features_from: str = "catalog"  # "stripe": features from Stripe's entitlement summary


@dataclass(frozen=True)
class Catalog:
    features: Mapping[str, Feature]
    plans: Mapping[str, Plan]
    version: int = 0  # 0: read from a file; >= 1: published by `atlas catalog apply`

    def tier_for_price(self, price_id: str) -> str | None:
        for plan in self.plans.values():
            if price_id in plan.price_ids:
                return plan.tier
        return None

    def feature_bits(self, keys: frozenset[str]) -> int:
        bits = 0
        for key in keys:
            bits |= 1 << self.features[key].bit
        return bits


def load_catalog(
    path: Path | None = None, price_ids: Mapping[str, tuple[str, ...]] | None = None
) -> Catalog:
    """Load and validate a catalog; ``price_ids`` (tier -> ids, from settings) are merged in."""
    if path is None:
        text = resources.files("atlas").joinpath("default_catalog.toml").read_text()
        source = "the default catalog"
    else:
        text = path.read_text()
        source = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source} is not valid TOML: {exc}") from None
    return parse_catalog(raw, price_ids or {}, source)


def parse_catalog(
    raw: Mapping[str, Any], price_ids: Mapping[str, tuple[str, ...]], source: str, version: int = 0
) -> Catalog:
    features = _parse_features(_table(raw.get("features"), "features", source), source)
    plans = {
        tier: _parse_plan(tier, _table(entry, f"plans.{tier}", source), features, source)
        for tier, entry in _table(raw.get("plans"), "plans", source).items()
    }
    if FREE_TIER not in plans:
        raise CatalogError(f"{source}: the catalog must define a [plans.{FREE_TIER}] tier")
    plans = _merge_price_ids(plans, price_ids, source)
    return Catalog(features=features, plans=plans, version=version)


def _table(value: Any, name: str, source: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogError(f"{source}: [{name}] must be a table")
    return value


def _parse_features(raw: Mapping[str, Any], source: str) -> dict[str, Feature]:
    features: dict[str, Feature] = {}
    used_bits: dict[int, str] = {}
    for key, value in raw.items():
        entry = _table(value, f"features.{key}", source)
        bit = entry.get("bit")
        if not isinstance(bit, int) or isinstance(bit, bool) or not 0 <= bit <= MAX_BIT:
            raise CatalogError(f"{source}: features.{key}.bit must be a whole number 0-{MAX_BIT}")
        if bit in used_bits:
            raise CatalogError(
                f"{source}: features.{key}.bit {bit} is already used by '{used_bits[bit]}'"
            )
        used_bits[bit] = key
        description = entry.get("description", "")
        if not isinstance(description, str):
            raise CatalogError(f"{source}: features.{key}.description must be a string")
        features[key] = Feature(key=key, bit=bit, description=description)
    return features


def _parse_plan(
    tier: str, raw: Mapping[str, Any], features: Mapping[str, Feature], source: str
) -> Plan:
    rank = raw.get("rank", 0)
    if not isinstance(rank, int) or isinstance(rank, bool):
        raise CatalogError(f"{source}: plans.{tier}.rank must be a whole number")
    granted = raw.get("features", [])
    if not isinstance(granted, list) or not all(isinstance(key, str) for key in granted):
        raise CatalogError(f"{source}: plans.{tier}.features must be a list of feature keys")
    unknown = sorted(set(granted) - set(features))
    if unknown:
        raise CatalogError(f"{source}: plans.{tier} grants undefined features: {unknown}")
    features_from = raw.get("features_from", "catalog")
    if features_from not in FEATURE_SOURCES:
        raise CatalogError(
            f"{source}: plans.{tier}.features_from must be one of {list(FEATURE_SOURCES)}"
        )
    limitable = set(features) if features_from == "stripe" else set(granted)
    limits = raw.get("limits", {})
    if not isinstance(limits, Mapping):
        raise CatalogError(f"{source}: [plans.{tier}.limits] must be a table")
    for key, value in limits.items():
        if key not in limitable:
            raise CatalogError(f"{source}: plans.{tier}.limits.{key} limits a feature not granted")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CatalogError(f"{source}: plans.{tier}.limits.{key} must be a whole number >= 0")
    prices = raw.get("price_ids", [])
    if not isinstance(prices, list) or not all(isinstance(price, str) for price in prices):
        raise CatalogError(f"{source}: plans.{tier}.price_ids must be a list of strings")
    grace_days = raw.get("grace_days")
    if grace_days is not None and (
        not isinstance(grace_days, int) or isinstance(grace_days, bool) or grace_days < 0
    ):
        raise CatalogError(f"{source}: plans.{tier}.grace_days must be a whole number >= 0")
    return Plan(
        tier=tier,
        rank=rank,
        features=frozenset(granted),
        limits=dict(limits),
        price_ids=frozenset(prices),
        grace_days=grace_days,
        features_from=features_from,
    )


def _merge_price_ids(
    plans: dict[str, Plan], price_ids: Mapping[str, tuple[str, ...]], source: str
) -> dict[str, Plan]:
    for tier, ids in price_ids.items():
        if tier not in plans:
            raise CatalogError(
                f"STRIPE_PRICE_ID_{tier.upper()} names tier '{tier}', which {source} lacks"
            )
        plans[tier] = replace(plans[tier], price_ids=plans[tier].price_ids | frozenset(ids))
    owner: dict[str, str] = {}
    for plan in plans.values():
        for price in plan.price_ids:
            if price in owner:
                raise CatalogError(
                    f"price id {price} is configured for both '{owner[price]}' and '{plan.tier}'"
                )
            owner[price] = plan.tier
    return plans
