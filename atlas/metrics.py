"""Prometheus metrics of every Atlas process, in one place (documented in the README,
"Metrics"). Each process exposes the ones it updates at ``GET /metrics``: the ingress on its
own port, the worker and the sink on ``ATLAS_METRICS_PORT``. Labels have bounded values:
reasons, Stripe event types Atlas handles, topics — never ids or secrets."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from atlas.settings import Settings

WEBHOOKS = Counter(
    "atlas_webhooks",
    "Webhooks answered by the ingress, by outcome (accepted, or the 4xx/5xx error code).",
    ["outcome"],
)
PUBLISH_SECONDS = Histogram(
    "atlas_publish_seconds",
    "From publishing a webhook's event to the broker's acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS = Counter(
    "atlas_events_processed",
    "Records the worker processed, by kind: a handled Stripe event type, or unhandled, "
    "duplicate, invalid, no_customer, override, timer, catalog_rederived.",
    ["kind"],
)
CHANGES = Counter("atlas_change_events", "Change events the worker emitted.")
DEAD_LETTERS = Counter("atlas_dead_letters", "Records the worker sent to stripe.events.dlq.")
CATALOG_VERSION = Gauge("atlas_catalog_version", "The catalog version the worker applies.")
LAG = Gauge(
    "atlas_consumer_lag",
    "Records behind the partition's end, from the last fetch's high watermark.",
    ["topic", "partition"],
)
SINK_ROWS = Counter("atlas_sink_rows", "Rows the sink wrote, by table.", ["table"])
SINK_SECONDS = Histogram(
    "atlas_sink_upsert_seconds",
    "One batch's Postgres transaction, from begin to commit.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SINK_DB_ERRORS = Counter("atlas_sink_db_errors", "Failed Postgres writes (retried).")
SINK_REJECTED = Counter(
    "atlas_sink_rejected_records", "Records Postgres refuses as data (say a NUL), skipped."
)


def serve_metrics(settings: Settings) -> None:
    """Serve ``GET /metrics`` on ``ATLAS_METRICS_PORT`` in a background thread (0: off)."""
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
