"""The client against the API alone (no Kafka): misses fetch, hits do no I/O, and every
doubt is a denial with its reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from atlas.embedded import free_port
from atlas_client import ClientClosedError, ConfigurationError, EntitlementsClient, Reason
from tests.support.client_fixtures import API_KEY, StubApi, record, stub_api  # noqa: F401
from tests.support.polling import wait_for


@pytest.fixture
def client(stub_api: StubApi) -> Iterator[EntitlementsClient]:  # noqa: F811
    with EntitlementsClient(api_url=stub_api.url, api_key=API_KEY) as client:
        wait_for(lambda: client.status().catalog_loaded, 10, "the catalog")
        yield client


def test_miss_fetches_once_then_hits_without_io(
    stub_api: StubApi,  # noqa: F811
    client: EntitlementsClient,
) -> None:
    stub_api.serve(record("u1", "pro", version=7))

    decision = client.check("u1", "exports")
    assert (decision.allowed, decision.reason, decision.plan, decision.version) == (
        True,
        "granted",
        "pro",
        7,
    )
    for _ in range(1000):
        assert client.has("u1", "exports")
        assert client.has("u1", "data-exploration")
    assert client.limit("u1", "api-access") == 10000
    assert client.limit("u1", "exports") is None
    assert client.check("u1", "api-access").limit == 10000
    assert stub_api.user_hits("u1") == 1

    entitlements = client.entitlements("u1")
    assert entitlements is not None
    assert entitlements.customer_id == "cus_u1"
    assert entitlements.features == frozenset(record("u1")["features"])
    assert entitlements.feature_bits == 0b1111
    assert entitlements.current_period_end == datetime(2025, 12, 1, tzinfo=UTC)
    assert entitlements.limits["api-access"] == 10000
    assert stub_api.user_hits("u1") == 1


def test_not_in_plan_and_unknown_feature(stub_api: StubApi, client: EntitlementsClient) -> None:  # noqa: F811
    stub_api.serve(record("u2", "free", version=3))

    lacking = client.check("u2", "exports")
    assert (lacking.allowed, lacking.reason, lacking.plan, lacking.limit) == (
        False,
        "not_in_plan",
        "free",
        0,
    )
    assert client.limit("u2", "exports") == 0
    typo = client.check("u2", "exprots")
    assert (typo.allowed, typo.reason) == (False, "unknown_feature")
    # A feature missing from the catalog is denied without fetching an unseen user.
    assert client.check("u-never-seen", "exprots").reason == "unknown_feature"
    assert stub_api.user_hits("u-never-seen") == 0


def test_unknown_user_is_cached_briefly(stub_api: StubApi, client: EntitlementsClient) -> None:  # noqa: F811
    decision = client.check("ghost", "exports")
    assert (decision.allowed, decision.reason, decision.plan, decision.version) == (
        False,
        "unknown_user",
        None,
        None,
    )
    assert not client.has("ghost", "exports")
    assert client.entitlements("ghost") is None
    assert stub_api.user_hits("ghost") == 1


def test_api_down_and_no_cache_is_unavailable() -> None:
    with EntitlementsClient(api_url=f"http://127.0.0.1:{free_port()}", api_key="k") as client:
        decision = client.check("u3", "exports")
        assert (decision.allowed, decision.reason) == (False, "unavailable")
        assert not client.has("u3", "exports")
        assert client.limit("u3", "exports") == 0
        assert client.entitlements("u3") is None


def test_server_error_is_unavailable(stub_api: StubApi, client: EntitlementsClient) -> None:  # noqa: F811
    stub_api.serve(record("u4"))
    stub_api.fail_status = 503
    assert client.check("u4", "exports").reason == "unavailable"


def test_refused_key_is_unavailable_and_never_logged(
    stub_api: StubApi,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub_api.serve(record("u5"))
    secret = "wrong-key-do-not-log"
    with (
        caplog.at_level(logging.DEBUG),
        EntitlementsClient(api_url=stub_api.url, api_key=secret) as client,
    ):
        assert client.check("u5", "exports").reason == "unavailable"
        assert secret not in repr(client)
    refusals = [r for r in caplog.records if "refused the API key" in r.getMessage()]
    assert len(refusals) == 1
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_stale_entry_is_refetched_with_etag(stub_api: StubApi) -> None:  # noqa: F811
    stub_api.serve(record("u6", "pro", version=4))
    with EntitlementsClient(api_url=stub_api.url, api_key=API_KEY, max_age=0.3) as client:

        def refetched() -> bool:
            assert client.has("u6", "exports")
            return stub_api.user_hits("u6") >= 2

        wait_for(refetched, 5, "a refetch after max_age")
        assert stub_api.not_modified >= 1  # 304: confirmed, unchanged

        stub_api.stop()  # the source is unreachable now: past max_age, deny "stale"
        wait_for(lambda: client.check("u6", "exports").reason == "stale", 5, "stale")
        assert client.entitlements("u6") is None


def test_lower_version_from_api_never_replaces_a_higher_one(stub_api: StubApi) -> None:  # noqa: F811
    stub_api.serve(record("u7", "pro", version=20))
    with EntitlementsClient(api_url=stub_api.url, api_key=API_KEY, max_age=0.2) as client:
        assert client.check("u7", "exports").version == 20
        stub_api.serve(record("u7", "free", version=19))  # an older row

        def refetched() -> bool:
            decision = client.check("u7", "exports")
            assert (decision.allowed, decision.version, decision.plan) == (True, 20, "pro")
            return stub_api.user_hits("u7") >= 3

        wait_for(refetched, 5, "refetches answering the older row")

        stub_api.serve(record("u7", "free", version=21))
        wait_for(lambda: client.check("u7", "exports").reason == "not_in_plan", 5, "v21")


def test_argument_checks(client: EntitlementsClient) -> None:
    with pytest.raises(TypeError):
        client.has(42, "exports")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.check("u1", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.entitlements(b"u1")  # type: ignore[arg-type]
    assert client.check("", "exports").reason == Reason.UNKNOWN_USER
    assert client.check("u1", "").reason == Reason.UNKNOWN_FEATURE
    assert client.entitlements("") is None
    with pytest.raises(ConfigurationError):
        EntitlementsClient()
    with pytest.raises(ConfigurationError):
        EntitlementsClient(api_url="http://x", max_age=0)


def test_closed_client_raises_on_a_miss(stub_api: StubApi) -> None:  # noqa: F811
    client = EntitlementsClient(api_url=stub_api.url, api_key=API_KEY)
    client.close()
    client.close()
    with pytest.raises(ClientClosedError):
        client.check("u8", "exports")
    with pytest.raises(ClientClosedError):
        client.start()
