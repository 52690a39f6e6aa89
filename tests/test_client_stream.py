"""The client following atlas.entitlements.changes on a real broker, beside the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas.embedded import EmbeddedKafka, free_port
from atlas_client import EntitlementsClient
from tests.support.client_fixtures import (  # noqa: F401
    API_KEY,
    FAST_FETCH,
    AtlasTopics,
    StubApi,
    record,
    stub_api,
    topics,
)
from tests.support.polling import wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.kafka


def _client(
    api: StubApi, bootstrap: str, prefix: str, max_age: float = 600, refresh_interval: float = 300
) -> EntitlementsClient:
    client = EntitlementsClient(
        api_url=api.url,
        api_key=API_KEY,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        kafka_config=FAST_FETCH,
        max_age=max_age,
        refresh_interval=refresh_interval,
    )
    client.start()
    wait_for(lambda: client.status().stream_ready, 20, "the change stream to reach its end")
    return client


@pytest.fixture
def client(stub_api: StubApi, topics: AtlasTopics) -> Iterator[EntitlementsClient]:  # noqa: F811
    client = _client(stub_api, topics.bootstrap, topics.prefix)
    yield client
    client.close()


def test_change_event_updates_the_cache_without_http(
    stub_api: StubApi,  # noqa: F811
    topics: AtlasTopics,  # noqa: F811
    client: EntitlementsClient,
) -> None:
    stub_api.serve(record("s1", "free", version=10))
    assert client.check("s1", "exports").reason == "not_in_plan"

    topics.produce_change(record("s1", "pro", version=11))
    wait_for(lambda: client.has("s1", "exports"), 10, "the upgrade to reach the cache")
    assert client.check("s1", "exports").version == 11
    assert stub_api.user_hits("s1") == 1

    topics.produce_change(record("s1", "free", version=9))  # a late, older change
    topics.produce_change(record("s1", "free", version=12))
    wait_for(lambda: not client.has("s1", "exports"), 10, "the downgrade")
    assert client.check("s1", "exports").version == 12
    assert stub_api.user_hits("s1") == 1


def test_change_event_replaces_an_unknown_user_at_once(
    stub_api: StubApi,  # noqa: F811
    topics: AtlasTopics,  # noqa: F811
    client: EntitlementsClient,
) -> None:
    assert client.check("s2", "exports").reason == "unknown_user"
    topics.produce_change(record("s2", "pro", version=5))
    wait_for(lambda: client.has("s2", "exports"), 10, "the new user's change")
    assert stub_api.user_hits("s2") == 1


def test_api_answer_older_than_the_stream_never_wins(
    stub_api: StubApi,  # noqa: F811
    topics: AtlasTopics,  # noqa: F811
) -> None:
    client = _client(stub_api, topics.bootstrap, topics.prefix, refresh_interval=0.3)
    try:
        stub_api.serve(record("s3", "free", version=1))
        assert client.check("s3", "exports").reason == "not_in_plan"
        topics.produce_change(record("s3", "pro", version=2))
        wait_for(lambda: client.has("s3", "exports"), 10, "the upgrade")
        # The sink has not written v2 yet: the refresh keeps reading v1 from the API.
        fetched = stub_api.user_hits("s3")
        wait_for(lambda: stub_api.user_hits("s3") >= fetched + 2, 10, "two refreshes")
        decision = client.check("s3", "exports")
        assert (decision.allowed, decision.version) == (True, 2)
    finally:
        client.close()


def test_bad_records_are_skipped_and_counted(
    topics: AtlasTopics,  # noqa: F811
    client: EntitlementsClient,
) -> None:
    changes = topics.names.entitlement_changes
    topics.produce(changes, b"{not json", "cus_x")
    topics.produce(changes, {"schema": 2, "entitlements": record("s4")}, "cus_s4")
    topics.produce_change(record(None, version=3, customer_id="cus_nobody"))
    topics.produce(changes, {"schema": 1, "entitlements": {"schema": 1}}, "cus_y")
    topics.produce_change(record("s4", "pro", version=3))
    wait_for(lambda: client.status().messages_applied >= 1, 10, "the good record")
    wait_for(lambda: client.status().messages_skipped == 4, 10, "four skipped records")
    assert client.has("s4", "exports")


@pytest.fixture
def proxied_bootstrap(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A broker of its own, reachable only through a proxy that can be cut."""
    proxy_port = free_port()
    with EmbeddedKafka(log_path=tmp_path / "tansu.log", advertised_port=proxy_port) as broker:
        proxy = TcpProxy(proxy_port, broker.port).start()
        try:
            yield broker.bootstrap, proxy
        finally:
            proxy.close()


def test_live_stream_keeps_entries_fresh_and_max_age_applies_without_it(
    stub_api: StubApi,  # noqa: F811
    proxied_bootstrap: tuple[str, TcpProxy],
) -> None:
    bootstrap, proxy = proxied_bootstrap
    topics = AtlasTopics(bootstrap)  # noqa: F811
    stub_api.serve(record("s5", "pro", version=1))
    max_age = 2.0
    client = _client(stub_api, bootstrap, topics.prefix, max_age=max_age)
    try:
        assert client.has("s5", "exports")
        stub_api.stop()
        time.sleep(max_age + 1)  # the entry is older than max_age; the stream is live
        assert client.has("s5", "exports")
        assert stub_api.user_hits("s5") == 1

        proxy.cut()
        cut_at = time.monotonic()
        assert client.has("s5", "exports")  # the last contact is recent: still trusted
        wait_for(lambda: client.check("s5", "exports").reason == "stale", 10, "stale")
        assert time.monotonic() - cut_at >= max_age * 0.9
        assert client.entitlements("s5") is None

        proxy.restore()
        wait_for(lambda: client.has("s5", "exports"), 20, "the stream's contact to return")
    finally:
        client.close()
