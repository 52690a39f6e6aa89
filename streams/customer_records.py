"""The worker's table value per customer: folded state, last emitted entitlements, next timer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.entitlements import Entitlements
from schemas.subscription_state import CustomerState


@dataclass(slots=True)
class CustomerRecord:
    state: CustomerState
    emitted: Entitlements | None = None
    due_at: int | None = None  # when derived entitlements change with no new event

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "state": self.state,
                "emitted": orjson.loads(self.emitted.to_json()) if self.emitted else None,
                "due_at": self.due_at,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> CustomerRecord:
        data: dict[str, Any] = orjson.loads(raw)
        emitted = data.get("emitted")
        return cls(
            state=CustomerState.from_dict(data["state"]),
            emitted=Entitlements.from_json(orjson.dumps(emitted)) if emitted else None,
            due_at=data.get("due_at"),
        )
