"""What became of each event a customer sent, told without asking the worker: the events are
folded here in log order with the worker's own fold code, and each is classified by what the
fold did with it. Pure: the caller reads the log, the dead letters and the worker's committed
offset (see ``atlas/customer_report.py``).

Outcomes:

* ``applied``: it changed the customer's state;
* ``superseded``: it changed nothing, and a later event had already been folded (it arrived
  late, out of order);
* ``no_change``: it changed nothing Atlas keeps (an invoice only logged, a repeat of what the
  state says);
* ``duplicate``: an event with the same id was folded before;
* ``not_handled``: Atlas does not handle its type (acknowledged and counted, never fatal);
* ``needs_stripe``: an entitlement summary with more pages, completed from the Stripe API by
  the worker (its log says when that failed);
* ``invalid``: the record is not a Stripe event, or names no customer (the worker skips it);
* ``dead_lettered``: the worker could not process it and parked it on ``stripe.events.dlq``;
* ``fold_error``: folding it here raised (the worker probably dead-letters it too);
* ``pending``: the worker has not committed past it yet; ``would_be`` says what folding it
  will do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from atlas.customer_inputs import ReceivedRecord
from schemas.stripe_event import StripeEvent
from schemas.subscription_state import CustomerState
from streams.fold import FoldResult, fold

OUTCOMES = (
    "applied",
    "superseded",
    "no_change",
    "duplicate",
    "not_handled",
    "needs_stripe",
    "invalid",
    "dead_lettered",
    "fold_error",
    "pending",
)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    partition: int
    offset: int
    event: StripeEvent | None
    outcome: str  # one of OUTCOMES
    detail: str
    would_be: str | None = None  # pending only: the outcome folding it will have


def _of_fold(result: FoldResult, event: StripeEvent, latest_before: int) -> tuple[str, str]:
    if not result.handled:
        return "not_handled", "Atlas does not handle this type; acknowledged and counted"
    if result.duplicate:
        return "duplicate", "an event with this id was already folded; dropped"
    if result.changed:
        return "applied", "changed the customer's state"
    if result.entitlements_to_fetch:
        return "needs_stripe", "summary has more pages: the worker reads them from Stripe"
    if event.created < latest_before:
        return "superseded", "older than events already applied; changed nothing"
    if result.invoice is not None:
        return "no_change", "recorded in the invoices table; no effect on access"
    return "no_change", "changed nothing Atlas keeps"


def _fold_one(state: CustomerState, event: StripeEvent) -> tuple[str, str]:
    latest_before = state.latest_input_second
    try:
        result = fold(state, event)
    except Exception as exc:  # whatever the worker's fold raises, say so instead of failing
        return "fold_error", f"{exc.__class__.__name__}: {exc}"[:300]
    return _of_fold(result, event, latest_before)


def classify(
    customer: str,
    records: Sequence[ReceivedRecord],
    dead_letters: Mapping[tuple[int, int], str],
    committed: Mapping[int, int] | None,
) -> list[EventOutcome]:
    """The outcome of each of ``records`` (one customer's, in log order).

    ``dead_letters`` maps (partition, offset) of a parked record to the reason; those are not
    folded, as the worker did not fold them. ``committed`` maps a partition to the worker's
    committed offset there (records at or past it are pending); ``None`` when unknown.
    """
    state = CustomerState(customer_id=customer)
    outcomes = []
    for record in records:
        place = (record.partition, record.offset)
        if place in dead_letters:
            outcome, detail = "dead_lettered", dead_letters[place]
        elif record.event is None:
            outcome, detail = "invalid", f"not a Stripe event: {record.problem}"
        elif record.event.customer_id is None:
            outcome, detail = "invalid", "the event names no customer; the worker skips it"
        else:
            outcome, detail = _fold_one(state, record.event)
        done = committed is None or record.offset < committed.get(record.partition, 0)
        if outcome != "dead_lettered" and not done:
            outcomes.append(
                EventOutcome(
                    *place, record.event, "pending", "the worker has not processed it yet", outcome
                )
            )
        else:
            outcomes.append(EventOutcome(*place, record.event, outcome, detail))
    return outcomes
