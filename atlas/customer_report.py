"""Everything the operator's page shows about one customer, gathered in one go: the
``subscriptions`` row and overrides (Postgres), the catalog in force, every event received
with what became of it, the worker's output and the doctor's verdict (the broker), and
Stripe's view when ``STRIPE_SECRET_KEY`` is set.

Postgres is required: its errors propagate (the page answers 503). Anything read from the
broker or Stripe may fail or time out on its own; the report then holds what it has, and a
note says what is missing and why.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from confluent_kafka import KafkaException
from sqlalchemy.ext.asyncio import AsyncEngine

from api import queries
from atlas.catalog import Catalog, CatalogError
from atlas.catalog_topic import read_published
from atlas.customer_inputs import (
    DeadLetterMark,
    ReceivedRecord,
    dead_letter_marks,
    received_overrides,
    received_records,
    worker_output,
    worker_state,
)
from atlas.doctor import StripeReading, View, read_stripe, received_view, verdict, view_of
from atlas.event_outcomes import EventOutcome, classify
from atlas.feature_sources import FeatureLine, feature_lines
from atlas.kafka_topics import BrokerUnavailable
from atlas.services import catalog_of
from atlas.settings import Settings
from atlas.stripe_view import StripeUnavailable
from atlas.worker_progress import committed_offset
from schemas.entitlements import Entitlements
from schemas.overrides import Override
from schemas.subscription_state import CustomerState
from schemas.topics import Topics

T = TypeVar("T")

BROKER_TIMEOUT_S = 5.0  # per read: the page must answer even when the broker does not
STRIPE_TIMEOUT_S = 15.0
EVENTS_SHOWN = 50


@dataclass(frozen=True)
class Verdict:
    in_sync: bool
    text: str
    stripe: View | None  # None: Stripe not asked
    received: View
    worker: View | None


@dataclass
class CustomerReport:
    customer_id: str
    row: dict[str, Any] | None
    catalog_version: int
    features: list[FeatureLine]
    overrides: list[dict[str, Any]]  # the latest of each feature, from the overrides table
    events: list[EventOutcome]  # the latest EVENTS_SHOWN, newest first
    events_total: int
    outcome_counts: dict[str, int]
    verdict: Verdict | None
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Atlas knows the customer: a row, an override or an event."""
        return self.row is not None or bool(self.overrides) or self.events_total > 0


@dataclass(frozen=True)
class _Read(Generic[T]):
    value: T | None
    ok: bool


class _Gatherer:
    def __init__(self, settings: Settings, customer: str, threads: Executor) -> None:
        self.settings = settings
        self.topics = Topics.with_prefix(settings.topic_prefix)
        self.customer = customer
        self.notes: list[str] = []
        self._threads = threads

    def _in_thread(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    async def broker(self, what: str, read: Callable[..., T]) -> _Read[T]:
        """``read(settings, topics, customer, timeout)`` in a thread; a note when it fails."""
        args = (self.settings, self.topics, self.customer, BROKER_TIMEOUT_S)
        try:
            return _Read(await self._in_thread(read, *args), True)
        except (BrokerUnavailable, KafkaException) as exc:
            self.notes.append(f"{what} not read: {exc}")
        except (ValueError, KeyError, TypeError) as exc:  # a record not shaped as it should be
            self.notes.append(f"{what} not understood: {exc.__class__.__name__}")
        return _Read(None, False)

    async def catalog(self) -> Catalog:
        bootstrap = self.settings.kafka_bootstrap_servers
        try:
            document = await self._in_thread(
                read_published, bootstrap, self.topics, BROKER_TIMEOUT_S
            )
            return catalog_of(self.settings, document)
        except (BrokerUnavailable, KafkaException, CatalogError) as exc:
            self.notes.append(
                f"published catalog not read ({exc}); showing the catalog file, which may be older"
            )
            return catalog_of(self.settings, None)

    async def stripe(self, catalog: Catalog) -> StripeReading | None:
        try:
            return await asyncio.wait_for(
                self._in_thread(read_stripe, self.settings, self.customer, catalog),
                STRIPE_TIMEOUT_S,
            )
        except (StripeUnavailable, TimeoutError) as exc:
            self.notes.append(f"Stripe not read: {str(exc) or 'no answer in time'}")
            return None


@dataclass(frozen=True)
class _Inputs:
    """What the broker and Stripe said; each read may have failed on its own."""

    records: _Read[list[ReceivedRecord]]
    overrides: _Read[list[Override]]
    output: _Read[Entitlements | None]
    state: _Read[CustomerState | None]
    dead_letters: _Read[list[DeadLetterMark]]
    progress: _Read[tuple[int, int]]
    stripe: StripeReading | None


async def _read_inputs(gather: _Gatherer) -> tuple[Catalog, _Inputs]:
    """The catalog and every other read at once, each in its own thread (Stripe's view needs
    the catalog, so it starts once that is read)."""
    records = asyncio.create_task(gather.broker("events on stripe.events", received_records))
    overrides = asyncio.create_task(
        gather.broker("overrides on atlas.overrides", received_overrides)
    )
    output = asyncio.create_task(
        gather.broker("the worker's output on atlas.entitlements", worker_output)
    )
    state = asyncio.create_task(
        gather.broker("the worker's state on atlas.subscriptions", worker_state)
    )
    dead_letters = asyncio.create_task(gather.broker("dead letters", dead_letter_marks))
    progress = asyncio.create_task(gather.broker("the worker's committed offset", _committed))
    catalog = await gather.catalog()
    stripe = await gather.stripe(catalog)
    return catalog, _Inputs(
        await records, await overrides, await output, await state, await dead_letters,
        await progress, stripe,
    )  # fmt: skip


def _committed(
    settings: Settings, topics: Topics, customer: str, timeout_s: float
) -> tuple[int, int]:
    return committed_offset(settings, topics, customer.encode(), timeout_s)


def _dead_letter_places(marks: list[DeadLetterMark], topic: str) -> dict[tuple[int, int], str]:
    places = {}
    for mark in marks:
        place = mark.place(topic)
        if place is not None:
            places[place] = mark.reason or "no reason recorded"
    return places


def _outcomes(customer: str, inputs: _Inputs, gather: _Gatherer) -> list[EventOutcome]:
    records = inputs.records.value or []
    dead = _dead_letter_places(inputs.dead_letters.value or [], gather.topics.stripe_events)
    progress = inputs.progress.value
    if progress is None and records:
        gather.notes.append("which events the worker has processed is unknown")
    return classify(customer, records, dead, dict([progress]) if progress else None)


def _stripe_keys(inputs: _Inputs) -> list[str] | None:
    """The lookup keys of the worker's latest Stripe entitlement summary; None: unknown."""
    if inputs.state.value is None:
        return None
    summary = inputs.state.value.stripe_features
    return summary.lookup_keys if summary else []


def _verdict(
    customer: str,
    catalog: Catalog,
    row: dict[str, Any] | None,
    inputs: _Inputs,
    gather: _Gatherer,
) -> Verdict | None:
    if not (inputs.records.ok and inputs.overrides.ok and inputs.output.ok):
        gather.notes.append("no verdict: the broker did not answer for every view it needs")
        return None
    events = [record.event for record in inputs.records.value or [] if record.event is not None]
    received = received_view(customer, events, inputs.overrides.value or [], catalog)
    stripe = inputs.stripe.view if inputs.stripe else None
    output = inputs.output.value
    in_sync, text = verdict(stripe, received, output, row, customer)
    return Verdict(in_sync, text, stripe, received, view_of(output) if output else None)


async def build_report(
    settings: Settings, engine: AsyncEngine, customer: str, threads: Executor
) -> CustomerReport:
    """The report on ``customer``; its blocking reads run on ``threads`` (its own pool, so a
    broker that does not answer ties up none of the threads the rest of the process uses)."""
    gather = _Gatherer(settings, customer, threads)
    row = await queries.row_for_customer(engine, customer)
    overrides = await queries.latest_overrides(engine, customer)
    catalog, inputs = await _read_inputs(gather)
    outcomes = _outcomes(customer, inputs, gather)
    now = datetime.now(UTC)
    features = feature_lines(row, catalog, overrides, _stripe_keys(inputs), now) if row else []
    return CustomerReport(
        customer_id=customer,
        row=row,
        catalog_version=catalog.version,
        features=features,
        overrides=overrides,
        events=outcomes[-EVENTS_SHOWN:][::-1],
        events_total=len(outcomes),
        outcome_counts=dict(Counter(outcome.outcome for outcome in outcomes)),
        verdict=_verdict(customer, catalog, row, inputs, gather),
        notes=gather.notes,
    )
