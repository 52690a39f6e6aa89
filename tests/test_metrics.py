"""`GET /metrics` on the ingress, worker and sink, in Prometheus text format, counting what
the pipeline did — and never showing a secret."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import stripe_builders as build
from tests.support.pipeline import API_KEY, PRICES, WEBHOOK_SECRET, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str) -> str:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_every_service_counts_what_it_did(pipeline: Pipeline) -> None:
    customer = build.new_id("cus")
    event = build.subscription_event("created", customer, build.new_id("sub"), PRICES["pro"])
    pipeline.post_ok(event)
    assert pipeline.post(event, secret="whsec_" + "0" * 32).status_code == 400
    pipeline.wait_row(customer, plan="pro")

    ingress = samples(scrape(pipeline.url))
    assert ingress[("atlas_webhooks_total", (("outcome", "accepted"),))] >= 1
    assert ingress[("atlas_webhooks_total", (("outcome", "invalid_signature"),))] >= 1
    assert ingress[("atlas_publish_seconds_count", ())] >= 1

    worker_url = f"http://127.0.0.1:{pipeline.metrics_ports['worker']}"
    kind = (("kind", "customer.subscription.created"),)

    def worker_counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        found = samples(scrape(worker_url))
        lagging = any(name == "atlas_consumer_lag" for name, _ in found)
        return found if found.get(("atlas_events_processed_total", kind)) and lagging else None

    worker = wait_for(worker_counted, 20, "the worker's metrics")
    assert worker[("atlas_change_events_total", ())] >= 1
    assert worker[("atlas_catalog_version", ())] == 0

    sink = samples(scrape(f"http://127.0.0.1:{pipeline.metrics_ports['sink']}"))
    assert sink[("atlas_sink_rows_total", (("table", "subscriptions"),))] >= 1
    assert sink[("atlas_sink_upsert_seconds_count", ())] >= 1

    everything = scrape(pipeline.url) + scrape(worker_url)
    for secret in (WEBHOOK_SECRET, API_KEY, "whsec_"):
        assert secret not in everything
