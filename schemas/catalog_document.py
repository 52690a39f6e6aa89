"""The value of topic ``atlas.catalog`` (key ``catalog``) and of the ``catalogs`` table: one
published version of the plan catalog, with who applied it, when and why.

``source`` is the catalog as written (the TOML file's tables, as JSON); workers and the API
parse it with ``atlas.catalog.parse_catalog``. ``retired_bits`` remembers the bit of every
feature ever removed, so no later feature can reuse it and misread stored bitmaps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

SCHEMA_VERSION = 1
CATALOG_KEY = b"catalog"


@dataclass(frozen=True, slots=True)
class CatalogDocument:
    version: int
    source: dict[str, Any]
    applied_at: int
    applied_by: str
    reason: str
    retired_bits: dict[str, str] = field(default_factory=dict)  # bit (as text) -> feature key

    def to_json_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, **asdict(self)}

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_json_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> CatalogDocument:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            raise ValueError("not a catalog document of schema 1")
        return cls(
            version=int(data["version"]),
            source=dict(data["source"]),
            applied_at=int(data["applied_at"]),
            applied_by=str(data["applied_by"]),
            reason=str(data["reason"]),
            retired_bits={str(k): str(v) for k, v in data.get("retired_bits", {}).items()},
        )
