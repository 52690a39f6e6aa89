"""Every feature this process gates on, and where: filled at import time by
``requires_feature`` (Starlette) and ``require_feature`` (FastAPI), so a tool can import an
application's modules and compare the features they gate on with Atlas's catalog."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

_lock = threading.Lock()
_gated: dict[str, tuple[str, ...]] = {}


def register(feature: str, where: str) -> None:
    """Record that ``where`` (an endpoint's ``module.qualname``) is gated on ``feature``."""
    with _lock:
        places = _gated.get(feature, ())
        if where not in places:
            _gated[feature] = (*places, where)


def registered_features() -> Mapping[str, tuple[str, ...]]:
    """Feature key → the places gated on it, in registration order (a read-only copy)."""
    with _lock:
        return MappingProxyType(dict(_gated))
