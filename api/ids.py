"""What the API takes as a user or customer id: 1-256 printable characters, not padded."""

from __future__ import annotations

MAX_ID_LENGTH = 256


def valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID_LENGTH and value.isprintable() and value.strip() == value
