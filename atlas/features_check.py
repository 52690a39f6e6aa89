"""``atlas features check``: import an application's modules, so its ``requires_feature`` /
``require_feature`` gates register, and compare the features they gate on with the catalog.

Exit status: 0 when the catalog defines every gated feature, 1 when it lacks one (each is
listed with the endpoints gated on it), 2 when a module cannot be imported or the catalog
cannot be read.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from atlas.catalog import Catalog, load_catalog
from atlas.errors import AtlasError
from atlas.settings import load_settings


class ImportFailed(AtlasError):
    """A module named with --import could not be imported."""


def _import_all(modules: Sequence[str]) -> None:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the application's own packages
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure while importing is the application's to fix
            raise ImportFailed(f"cannot import {name}: {exc.__class__.__name__}: {exc}") from None


def _catalog(path: Path | None) -> Catalog:
    if path is not None:
        return load_catalog(path)
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        from atlas.services import current_catalog

        return current_catalog(load_settings())
    settings_path = os.environ.get("ATLAS_CATALOG")
    return load_catalog(Path(settings_path) if settings_path else None)


def missing_features(gated: Mapping[str, Sequence[str]], catalog: Catalog) -> dict[str, list[str]]:
    """Gated features the catalog does not define, with the endpoints gated on each."""
    return {
        key: list(places) for key, places in sorted(gated.items()) if key not in catalog.features
    }


def check_features(modules: Sequence[str], catalog_path: Path | None) -> int:
    try:
        from atlas_client.registry import registered_features
    except ImportError:
        raise ImportFailed(
            "atlas features check runs where your application and atlas-client are installed "
            "(pip install ./client)"
        ) from None
    _import_all(modules)
    catalog = _catalog(catalog_path)
    gated = registered_features()
    missing = missing_features(gated, catalog)
    source = f"catalog version {catalog.version}" if catalog.version else "the catalog file"
    for key, places in sorted(gated.items()):
        mark = "MISSING" if key in missing else "ok"
        print(f"{mark:8} {key:30} {', '.join(places)}")
    ungated = sorted(set(catalog.features) - set(gated))
    if ungated:
        print(f"(defined in {source} but gated nowhere here: {', '.join(ungated)})")
    if missing:
        print(
            f"atlas features check: {len(missing)} gated feature(s) missing from {source}: "
            f"{', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    print(f"atlas features check: all {len(gated)} gated feature(s) are in {source}")
    return 0
