"""Per-user overrides of the catalog: the value of topic ``atlas.overrides`` (keyed by the
user's Stripe customer id) and of the ``overrides`` audit table.

An override grants a feature (optionally with its own limit) or revokes it for one customer,
whatever the plan says, optionally until a moment; ``clear`` removes the override of that
feature. The latest override of a feature wins (ordered by ``applied_at``, then
``override_id``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

SCHEMA_VERSION = 1
EFFECTS = ("grant", "revoke", "clear")


@dataclass(frozen=True, slots=True)
class Override:
    override_id: str
    customer_id: str
    user_id: str | None
    feature: str
    effect: str  # one of EFFECTS
    limit: int | None  # grant only: the feature's limit for this customer
    until: int | None  # epoch seconds; the override lapses then
    applied_at_ms: int
    applied_by: str
    reason: str

    @property
    def version(self) -> list[Any]:
        return [self.applied_at_ms, self.override_id]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, **asdict(self)}

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Override:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            raise ValueError("not an override of schema 1")
        override = cls(**{key: value for key, value in data.items() if key != "schema"})
        if override.effect not in EFFECTS:
            raise ValueError(f"unknown override effect {override.effect!r}")
        return override
