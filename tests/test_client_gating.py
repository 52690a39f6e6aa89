"""Gating endpoints: Starlette (decorator and route helper) and FastAPI (dependency) answer
401 without a user, 403 with the documented body when denied, and run the endpoint when
granted; every gated feature is in the registry."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from atlas_client import (
    AsyncEntitlementsClient,
    Decision,
    EntitlementsClient,
    GateNotInstalledError,
    registry,
)
from atlas_client import fastapi as atlas_fastapi
from atlas_client.starlette import AtlasGate, gated_route, requires_feature
from tests.support.client_fixtures import API_KEY, StubApi, record, stub_api  # noqa: F401

UPGRADE = "https://example.com/upgrade"


def _user(request: Request) -> str | None:
    return request.headers.get("x-user")


@requires_feature("data-exploration")
async def explore(request: Request) -> JSONResponse:
    decision: Decision = request.state.atlas_decision
    return JSONResponse({"plan": decision.plan, "reason": decision.reason})


@requires_feature("team-seats")
def seats(request: Request) -> JSONResponse:  # a sync endpoint runs in the thread pool
    return JSONResponse({"limit": request.state.atlas_decision.limit})


async def export(request: Request) -> PlainTextResponse:
    return PlainTextResponse("csv")


class Reports(HTTPEndpoint):
    @requires_feature("api-access")
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("report")


def _starlette_app(gate: AtlasGate) -> Starlette:
    app = Starlette(
        routes=[
            Route("/explore", explore),
            Route("/seats", seats),
            gated_route("/exports", export, feature="exports", methods=["GET", "POST"]),
            Route("/reports", Reports),
        ]
    )
    app.state.atlas_gate = gate
    return app


def _fastapi_app(gate: AtlasGate) -> FastAPI:
    app = FastAPI()
    atlas_fastapi.install(app, gate)

    @app.get("/exports")
    async def fastapi_export(
        decision: Decision = Depends(atlas_fastapi.require_feature("exports")),  # noqa: B008
    ) -> dict[str, Any]:
        return {"plan": decision.plan}

    @app.get("/seats", dependencies=[Depends(atlas_fastapi.require_feature("team-seats"))])
    def fastapi_seats() -> dict[str, str]:
        return {"ok": "yes"}

    return app


async def _get(app: Any, path: str, user: str | None, method: str = "GET") -> httpx.Response:
    headers = {"x-user": user} if user else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        return await http.request(method, path, headers=headers)


def _serve_users(api: StubApi) -> None:
    api.serve(record("pro-user", "pro", version=3))
    api.serve(record("free-user", "free", version=3))


async def _assert_gates(app: Any) -> None:
    """The answers every gated app must give, whatever the framework."""
    unauthenticated = await _get(app, "/exports", None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"] == "unauthenticated"
    assert unauthenticated.json()["message"]

    refused = await _get(app, "/exports", "free-user")
    assert refused.status_code == 403
    body = refused.json()
    assert set(body) == {"error", "feature", "plan", "reason", "upgrade_url", "message"}
    assert body["error"] == "feature_required"
    assert (body["feature"], body["plan"], body["reason"]) == ("exports", "free", "not_in_plan")
    assert body["upgrade_url"] == UPGRADE

    unknown = (await _get(app, "/exports", "nobody")).json()
    assert (unknown["plan"], unknown["reason"]) == (None, "unknown_user")

    assert (await _get(app, "/exports", "pro-user")).status_code == 200
    assert (await _get(app, "/seats", "free-user")).status_code == 403
    assert (await _get(app, "/seats", "pro-user")).status_code == 200


def test_starlette_gating_with_the_async_client(stub_api: StubApi) -> None:  # noqa: F811
    _serve_users(stub_api)

    async def scenario() -> None:
        async with AsyncEntitlementsClient(
            api_url=stub_api.url, api_key=API_KEY, upgrade_url=UPGRADE
        ) as client:
            app = _starlette_app(AtlasGate(client, user_id=_user))
            await _assert_gates(app)
            explored = await _get(app, "/explore", "free-user")
            assert explored.json() == {"plan": "free", "reason": "granted"}
            assert (await _get(app, "/seats", "pro-user")).json() == {"limit": None}
            assert (await _get(app, "/exports", "pro-user", "POST")).text == "csv"
            assert (await _get(app, "/reports", "free-user")).status_code == 403
            assert (await _get(app, "/reports", "pro-user")).text == "report"

    asyncio.run(scenario())


def test_starlette_gating_with_the_sync_client(stub_api: StubApi) -> None:  # noqa: F811
    _serve_users(stub_api)
    with EntitlementsClient(api_url=stub_api.url, api_key=API_KEY) as client:
        gate = AtlasGate(client, user_id=_user, upgrade_url=UPGRADE)
        asyncio.run(_assert_gates(_starlette_app(gate)))
    assert stub_api.user_hits("pro-user") == 1


def test_fastapi_dependency(stub_api: StubApi) -> None:  # noqa: F811
    _serve_users(stub_api)
    with EntitlementsClient(api_url=stub_api.url, api_key=API_KEY, upgrade_url=UPGRADE) as client:
        app = _fastapi_app(AtlasGate(client, user_id=_user))
        asyncio.run(_assert_gates(app))
        granted = asyncio.run(_get(app, "/exports", "pro-user"))
        assert granted.json() == {"plan": "pro"}


def test_missing_gate_is_a_clear_error() -> None:
    app = Starlette(routes=[Route("/explore", explore)])
    with pytest.raises(GateNotInstalledError, match="atlas_gate"):
        asyncio.run(_get(app, "/explore", "pro-user"))


def test_registry_records_every_gated_feature() -> None:
    client = EntitlementsClient(api_url="http://127.0.0.1:9")
    _fastapi_app(AtlasGate(client, user_id=_user))
    client.close()
    gated = registry.registered_features()
    module = __name__
    assert f"{module}.explore" in gated["data-exploration"]
    assert f"{module}.seats" in gated["team-seats"]
    assert f"{module}.export" in gated["exports"]
    assert f"{module}.Reports.get" in gated["api-access"]
    assert any(place.startswith(f"{module}:") for place in gated["exports"])
    with pytest.raises(TypeError):
        gated["exports"] = ()  # type: ignore[index]
