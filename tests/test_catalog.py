"""The plan catalog is validated before anything runs on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.catalog import CatalogError, load_catalog

VALID = """
[features.a]
bit = 0
[features.b]
bit = 1
[plans.free]
features = ["a"]
[plans.pro]
rank = 1
features = ["a", "b"]
price_ids = ["price_pro_catalog"]
[plans.pro.limits]
b = 10
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return path


def test_default_catalog_loads() -> None:
    catalog = load_catalog()
    assert set(catalog.plans) == {"free", "pro", "advisory"}
    bits = [feature.bit for feature in catalog.features.values()]
    assert len(bits) == len(set(bits))


def test_price_ids_from_catalog_and_settings(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, VALID), {"pro": ("price_env_1", "price_env_2")})
    assert catalog.tier_for_price("price_pro_catalog") == "pro"
    assert catalog.tier_for_price("price_env_2") == "pro"
    assert catalog.tier_for_price("price_unknown") is None
    assert catalog.feature_bits(catalog.plans["pro"].features) == 0b11


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "is not valid TOML"),
        (VALID.replace("[plans.free]", "[plans.basic]"), "must define a [plans.free]"),
        (VALID.replace("bit = 1", "bit = 0"), "bit 0 is already used by 'a'"),
        (VALID.replace("bit = 1", "bit = 63"), "must be a whole number 0-62"),
        (
            VALID.replace('features = ["a", "b"]', 'features = ["a", "c"]'),
            "undefined features: ['c']",
        ),
        (VALID.replace("b = 10", "a = -1"), "must be a whole number >= 0"),
        (
            VALID.replace('features = ["a", "b"]', 'features = ["a"]'),
            "limits a feature not granted",
        ),
        (VALID.replace("rank = 1", 'rank = "high"'), "rank must be a whole number"),
    ],
)
def test_invalid_catalogs_are_rejected_with_the_entry_named(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_catalog(write(tmp_path, text))


def test_price_configured_for_two_tiers(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="both"):
        load_catalog(write(tmp_path, VALID), {"free": ("price_pro_catalog",)})


def test_price_variable_for_a_tier_the_catalog_lacks(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="STRIPE_PRICE_ID_GOLD"):
        load_catalog(write(tmp_path, VALID), {"gold": ("price_gold",)})
