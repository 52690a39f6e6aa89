"""Whether a new catalog may replace the published one. Pure: both catalogs in, errors out.

A feature's bit is its identity in every stored bitmap (``feature_bits``), so a bit never
changes and is never reused, not even after its feature is removed; a removed feature must
first be taken out of every plan that grants it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlas.catalog import Catalog, CatalogError
from schemas.catalog_document import CatalogDocument


def removed_but_granted(current: Catalog, new_source: Mapping[str, Any]) -> list[str]:
    """Problems with features dropped from ``[features]`` that a plan of the new file lists."""
    features = new_source.get("features")
    plans = new_source.get("plans")
    if not isinstance(features, Mapping) or not isinstance(plans, Mapping):
        return []  # parse_catalog reports the malformed file
    problems = []
    for key in sorted(set(current.features) - set(features)):
        granting = sorted(
            tier
            for tier, plan in plans.items()
            if isinstance(plan, Mapping) and key in (plan.get("features") or [])
        )
        if granting:
            plans_text = ", ".join(f"plans.{tier}" for tier in granting)
            problems.append(
                f"feature '{key}' is removed from [features] but {plans_text} still grants it; "
                "take it out of those plans first"
            )
    return problems


def retired_bits_after(current: Catalog, document: CatalogDocument, new: Catalog) -> dict[str, str]:
    """The retired bits once ``new`` replaces ``current``; raises :class:`CatalogError` listing
    every bit that changed or would be reused."""
    retired = dict(document.retired_bits)
    problems = []
    for key, feature in new.features.items():
        old = current.features.get(key)
        if old is not None and old.bit != feature.bit:
            problems.append(
                f"features.{key}.bit changes from {old.bit} to {feature.bit}; a feature keeps "
                "its bit forever (stored bitmaps use it)"
            )
        elif old is None and str(feature.bit) in retired:
            problems.append(
                f"features.{key}.bit {feature.bit} belonged to removed feature "
                f"'{retired[str(feature.bit)]}'; pick a bit never used before"
            )
        elif old is None:
            owner = next((f.key for f in current.features.values() if f.bit == feature.bit), None)
            if owner is not None and owner not in new.features:
                problems.append(
                    f"features.{key}.bit {feature.bit} belongs to removed feature '{owner}'; "
                    "pick a bit never used before"
                )
    if problems:
        raise CatalogError("; ".join(problems))
    for key in set(current.features) - set(new.features):
        retired[str(current.features[key].bit)] = key
    return retired
