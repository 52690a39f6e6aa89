"""Kafka-bootstrap mode (no API): the client reads the compacted atlas.entitlements topic
from its beginning, answers "warming_up" until every partition reached its end, then follows
the topic."""

from __future__ import annotations

import pytest

from atlas_client import EntitlementsClient
from tests.support.client_fixtures import FAST_FETCH, AtlasTopics, record, topics  # noqa: F401
from tests.support.polling import wait_for

pytestmark = pytest.mark.kafka


def test_bootstrap_reads_the_compacted_topic_then_follows_it(topics: AtlasTopics) -> None:  # noqa: F811
    topic = topics.names.entitlements
    topics.produce_entitlements(record("b1", "free", version=1))
    topics.produce_entitlements(record("b1", "pro", version=2))
    topics.produce_entitlements(record("b2", "free", version=1))
    topics.produce_entitlements(record(None, version=1, customer_id="cus_unlinked"))
    topics.produce(topic, b"\xff", "cus_garbage")
    topics.produce(topic, None, "cus_deleted")

    client = EntitlementsClient(
        kafka_bootstrap_servers=topics.bootstrap,
        topic_prefix=topics.prefix,
        kafka_config=FAST_FETCH,
    )
    try:
        assert client.check("b1", "exports").reason == "warming_up"
        assert client.entitlements("b1") is None
        client.start()
        wait_for(lambda: client.status().stream_ready, 20, "the bootstrap")

        assert client.has("b1", "exports")
        assert client.check("b1", "exports").version == 2
        assert client.check("b2", "exports").reason == "not_in_plan"
        assert client.check("nobody", "exports").reason == "unknown_user"
        # Without the API there is no catalog: a feature the user lacks is "not_in_plan".
        assert client.check("b2", "exprots").reason == "not_in_plan"
        status = client.status()
        assert (status.messages_applied, status.messages_skipped) == (3, 3)

        topics.produce_entitlements(record("b2", "pro", version=2))
        wait_for(lambda: client.has("b2", "exports"), 10, "the upgrade after the bootstrap")

        # cus_b1 is re-linked to another user: b1 must not keep its access.
        topics.produce_entitlements(record("b3", "pro", version=3, customer_id="cus_b1"))
        wait_for(lambda: client.has("b3", "exports"), 10, "the re-linked customer")
        assert client.check("b1", "exports").reason == "unknown_user"
    finally:
        client.close()
