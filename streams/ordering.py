"""How Atlas orders Stripe events that arrive late, twice, or out of order.

Each register of a customer's state is stamped with the version of the event that wrote it and
only a strictly greater version overwrites it. Versions compare as tuples:

* subscription snapshots: ``(terminal, created, status_rank, event_id)``. A terminal status
  (``canceled``, ``incomplete_expired``) beats every non-terminal one whatever the times, since
  Stripe never revives such a subscription; otherwise the later ``created`` second wins; in the
  same second the higher status rank wins (so a terminal state wins ties, then ``unpaid``,
  ``past_due``, ``paused``, ``active``, ``trialing``, ``incomplete``); last, the greater event id,
  an arbitrary but fixed choice that makes the result independent of arrival order.
* payment outcomes: ``(created, failed, event_id)``: later wins; a failure wins a same-second tie.
* user links and customer deletion: ``(created, event_id)``.
"""

from __future__ import annotations

from typing import Any

from schemas.subscription_state import Version

TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
_STATUS_RANK = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "paused": 3,
    "past_due": 4,
    "unpaid": 5,
    "canceled": 6,
    "incomplete_expired": 6,
}


def snapshot_version(created: int, status: str, event_id: str) -> Version:
    terminal = 1 if status in TERMINAL_STATUSES else 0
    return [terminal, created, _STATUS_RANK.get(status, 0), event_id]


def payment_version(created: int, succeeded: bool, event_id: str) -> Version:
    return [created, 0 if succeeded else 1, event_id]


def event_version(created: int, event_id: str) -> Version:
    return [created, event_id]


def supersedes(candidate: Version, current: Version | None) -> bool:
    """True when a register stamped ``current`` must take the value stamped ``candidate``."""
    return current is None or _key(candidate) > _key(current)


def _key(version: Version) -> tuple[Any, ...]:
    return tuple(version)
