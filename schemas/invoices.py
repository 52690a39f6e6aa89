"""Invoice records: the value of topic ``atlas.invoices`` and the rows of table ``invoices``."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """An invoice as last reported by Stripe; ``event_created``/``event_id`` order the updates."""

    invoice_id: str
    customer_id: str
    subscription_id: str | None
    status: str | None
    amount_due: int | None
    amount_paid: int | None
    currency: str | None
    hosted_invoice_url: str | None
    invoice_created: int | None
    event_type: str
    event_id: str
    event_created: int

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> InvoiceRecord:
        return cls(**orjson.loads(raw))
