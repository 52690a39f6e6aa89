"""Real stand-ins for the client tests: the Atlas API's wire format served by uvicorn on a
free port, and uniquely prefixed Atlas topics on a real broker to produce records to."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import uvicorn
from confluent_kafka import Producer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas.embedded import free_port
from atlas.kafka_topics import ensure_topics
from schemas.topics import Topics
from tests.support.polling import wait_for

API_KEY = "test-key-7f3a"
BITS = {"data-exploration": 0, "exports": 1, "api-access": 2, "team-seats": 3}
CATALOG = {
    "version": 3,
    "features": {key: {"bit": bit, "description": key} for key, bit in BITS.items()},
    "plans": {"free": {"rank": 0, "features": ["data-exploration"], "limits": {}}},
}
PLANS = {
    "free": ["data-exploration"],
    "pro": ["api-access", "data-exploration", "exports", "team-seats"],
}


def record(
    user_id: str | None, plan: str = "pro", version: int = 1, customer_id: str | None = None
) -> dict[str, Any]:
    """An ``atlas.entitlements`` value (epoch-second times), as the worker writes it."""
    features = PLANS[plan]
    return {
        "schema": 1,
        "customer_id": customer_id or f"cus_{user_id}",
        "user_id": user_id,
        "subscription_id": "sub_1",
        "plan": plan,
        "status": "active",
        "stripe_status": "active",
        "price_id": f"price_{plan}",
        "current_period_end": 1764547200,
        "cancel_at_period_end": False,
        "features": features,
        "feature_bits": sum(1 << BITS[feature] for feature in features),
        "limits": {"api-access": 10000} if plan == "pro" else {},
        "banner": None,
        "unknown_price": False,
        "version": version,
        "source_event_id": f"evt_{uuid.uuid4().hex[:8]}",
        "grace_until": None,
        "a_field_from_the_future": {"ignored": True},
    }


def change(entitlements: dict[str, Any]) -> dict[str, Any]:
    """An ``atlas.entitlements.changes`` value carrying ``entitlements``."""
    keys = ("customer_id", "user_id", "plan", "status", "features", "version")
    return {
        "schema": 1,
        **{key: entitlements[key] for key in keys},
        "granted": entitlements["features"],
        "revoked": [],
        "event_id": entitlements["source_event_id"],
        "entitlements": entitlements,
    }


def api_body(entitlements: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON for ``entitlements`` (ISO-8601 times)."""
    end = datetime.fromtimestamp(entitlements["current_period_end"], UTC)
    keys = ("user_id", "customer_id", "plan", "status", "features", "limits", "feature_bits")
    return {
        **{key: entitlements[key] for key in keys},
        "current_period_end": end.isoformat().replace("+00:00", "Z"),
        "cancel_at_period_end": False,
        "grace_until": None,
        "banner": None,
        "version": entitlements["version"],
    }


class StubApi:
    """The Atlas API's wire format on 127.0.0.1, counting requests per path."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified = 0
        self.fail_status: int | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, entitlements: dict[str, Any]) -> None:
        self.users[entitlements["user_id"]] = api_body(entitlements)

    def user_hits(self, user_id: str) -> int:
        return self.hits[f"/v1/users/{user_id}/entitlements"]

    def start(self) -> StubApi:
        app = Starlette(
            routes=[
                Route("/v1/users/{user_id}/entitlements", self._entitlements),
                Route("/v1/catalog", self._catalog),
            ]
        )
        config = uvicorn.Config(
            app, port=self.port, log_level="warning", lifespan="off", ws="none", http="h11"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server is not None and self._server.started, 10, "stub API")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    def _refusal(self, request: Request) -> Response | None:
        self.hits[request.url.path] += 1
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": "unauthorized", "message": "bad key"}, 401)
        if self.fail_status is not None:
            return JSONResponse({"error": "boom", "message": "failing"}, self.fail_status)
        return None

    async def _entitlements(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        body = self.users.get(request.path_params["user_id"])
        if body is None:
            return JSONResponse({"error": "unknown_user", "message": "no such user"}, 404)
        etag = f'"v{body["version"]}"'
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1
            return Response(status_code=304, headers={"ETag": etag})
        return Response(orjson.dumps(body), headers={"ETag": etag}, media_type="application/json")

    async def _catalog(self, request: Request) -> Response:
        return self._refusal(request) or JSONResponse(CATALOG)


class AtlasTopics:
    """Atlas's topics under a fresh prefix on a real broker, and a producer for them."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"t{uuid.uuid4().hex[:10]}."
        self.names = Topics.with_prefix(self.prefix)
        ensure_topics(bootstrap, self.names, 4)
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 0}
        )

    def produce(self, topic: str, value: dict[str, Any] | bytes | None, key: str) -> None:
        raw = orjson.dumps(value) if isinstance(value, dict) else value
        self._producer.produce(topic, key=key.encode(), value=raw)
        assert self._producer.flush(10) == 0, "the broker did not take the record"

    def produce_change(self, entitlements: dict[str, Any]) -> None:
        self.produce(
            self.names.entitlement_changes, change(entitlements), entitlements["customer_id"]
        )

    def produce_entitlements(self, entitlements: dict[str, Any]) -> None:
        self.produce(self.names.entitlements, entitlements, entitlements["customer_id"])


@pytest.fixture
def stub_api() -> Iterator[StubApi]:
    api = StubApi().start()
    yield api
    api.stop()


@pytest.fixture
def topics(kafka_bootstrap: str) -> AtlasTopics:
    return AtlasTopics(kafka_bootstrap)


# librdkafka's default fetch wait is 500 ms and tansu answers a waiting fetch at its deadline.
FAST_FETCH = {"fetch.wait.max.ms": 100}
