"""The worker's table value per customer: folded state, last emitted entitlements, next timer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schemas.entitlements import Entitlements
from schemas.subscription_state import CustomerState


@dataclass(slots=True)
class CustomerRecord:
    state: CustomerState
    emitted: Entitlements | None = None
    due_at: int | None = None  # when derived entitlements change with no new event

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: what the worker's table (and its changelog) holds."""
        return {
            "state": asdict(self.state),
            "emitted": self.emitted.to_dict() if self.emitted else None,
            "due_at": self.due_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerRecord:
        emitted = data.get("emitted")
        return cls(
            state=CustomerState.from_dict(data["state"]),
            emitted=Entitlements.from_dict(emitted) if emitted else None,
            due_at=data.get("due_at"),
        )
