"""AsyncEntitlementsClient: the same answers as the blocking client, awaited."""

from __future__ import annotations

import asyncio

import pytest

from atlas.embedded import free_port
from atlas_client import AsyncEntitlementsClient
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


def test_async_miss_hit_and_denials(stub_api: StubApi) -> None:  # noqa: F811
    stub_api.serve(record("a1", "pro", version=2))
    stub_api.serve(record("a2", "free", version=2))

    async def scenario() -> None:
        async with AsyncEntitlementsClient(api_url=stub_api.url, api_key=API_KEY) as client:
            assert await client.has("a1", "exports")
            assert await client.limit("a1", "api-access") == 10000
            assert await client.limit("a1", "exports") is None
            assert (await client.check("a1", "exports")).version == 2
            entitlements = await client.entitlements("a1")
            assert entitlements is not None and entitlements.plan == "pro"
            assert stub_api.user_hits("a1") == 1

            assert (await client.check("a2", "exports")).reason == "not_in_plan"
            assert await client.limit("a2", "exports") == 0
            assert (await client.check("ghost", "exports")).reason == "unknown_user"
            assert await client.entitlements("ghost") is None
            assert (await client.check("a1", "")).reason == "unknown_feature"
            with pytest.raises(TypeError):
                await client.has("a1", 7)  # type: ignore[arg-type]

    asyncio.run(scenario())


def test_async_api_down_is_unavailable() -> None:
    async def scenario() -> None:
        url = f"http://127.0.0.1:{free_port()}"
        async with AsyncEntitlementsClient(api_url=url, api_key="k") as client:
            assert (await client.check("a3", "exports")).reason == "unavailable"
            assert not await client.has("a3", "exports")

    asyncio.run(scenario())


@pytest.mark.kafka
def test_async_client_follows_the_change_stream(
    stub_api: StubApi,  # noqa: F811
    topics: AtlasTopics,  # noqa: F811
) -> None:
    stub_api.serve(record("a4", "free", version=1))

    async def scenario() -> None:
        async with AsyncEntitlementsClient(
            api_url=stub_api.url,
            api_key=API_KEY,
            kafka_bootstrap_servers=topics.bootstrap,
            topic_prefix=topics.prefix,
            kafka_config=FAST_FETCH,
        ) as client:
            await asyncio.to_thread(
                wait_for, lambda: client.status().stream_ready, 20, "the stream"
            )
            assert not await client.has("a4", "exports")
            topics.produce_change(record("a4", "pro", version=2))
            for _ in range(100):
                if await client.has("a4", "exports"):
                    break
                await asyncio.sleep(0.1)
            assert await client.has("a4", "exports")
            assert stub_api.user_hits("a4") == 1

    asyncio.run(scenario())
