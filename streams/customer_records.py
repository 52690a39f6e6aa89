"""The worker's table value per customer: folded state, last emitted entitlements, next timer,
and what announcing them again needs (see ``CustomerProcessor.announce_again``)."""

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
    features_before: tuple[str, ...] = ()  # before the last change: its granted/revoked
    writer: str | None = None  # the worker process that last announced this record

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: what the worker's table (and its changelog) holds."""
        emitted = orjson.Fragment(self.emitted.to_json()) if self.emitted else None
        record = {
            "state": self.state,
            "emitted": emitted,
            "due_at": self.due_at,
            "features_before": self.features_before,
            "writer": self.writer,
        }
        data: dict[str, Any] = orjson.loads(orjson.dumps(record))  # C-speed, unlike asdict
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerRecord:
        emitted = data.get("emitted")
        return cls(
            state=CustomerState.from_dict(data["state"]),
            emitted=Entitlements.from_dict(emitted) if emitted else None,
            due_at=data.get("due_at"),
            features_before=tuple(data.get("features_before", ())),
            writer=data.get("writer"),
        )
