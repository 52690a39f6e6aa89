"""``POST`` and ``GET /v1/users/{user_id}/overrides``: services grant, revoke or clear one
user's feature; the request is checked, published to ``atlas.overrides`` and answered ``202``
once the broker has it (the worker applies it within about a second; the sink records it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api import queries
from api.auth import Principal
from api.json_body import BadBody, json_object
from api.representation import iso_time, unknown_user
from atlas.catalog import Catalog
from atlas.http_errors import error_response
from atlas.override_requests import OverrideError, build_override, parse_until
from ingress.publisher import Publisher, PublishError

FIELDS = {"feature", "effect", "limit", "until", "reason"}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json_object(raw, FIELDS)
    except BadBody as exc:
        raise OverrideError(str(exc)) from None
    for name in ("feature", "effect", "reason"):
        if not isinstance(body.get(name), str):
            raise OverrideError(f"{name} must be a string")
    if body.get("until") is not None and not isinstance(body["until"], str):
        raise OverrideError("until must be an ISO 8601 date or time, or null")
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise OverrideError("limit must be a whole number or null")
    return body


async def post_override(
    request: Request,
    principal: Principal,
    engine: AsyncEngine,
    catalog: Catalog,
    publisher: Publisher,
) -> Response:
    user_id = request.path_params["user_id"]
    if principal.kind != "service":
        return error_response(403, "forbidden", "only service credentials may change overrides")
    row = await queries.row_for_user(engine, user_id)
    if row is None:
        return unknown_user(user_id)
    try:
        body = _body(await request.body())
        override = build_override(
            catalog,
            customer_id=row["stripe_customer_id"],
            user_id=user_id,
            feature=body["feature"],
            effect=body["effect"],
            limit=body.get("limit"),
            until=parse_until(body["until"]) if body.get("until") else None,
            applied_by=principal.subject,
            reason=body["reason"],
            now_ms=int(time.time() * 1000),
        )
    except OverrideError as exc:
        return error_response(400, "invalid_override", str(exc))
    try:
        await publisher.publish(override.customer_id, override.to_json(), [])
    except PublishError:
        return error_response(
            503, "broker_unavailable", "override not stored; retry", **{"Retry-After": "5"}
        )
    return JSONResponse({"override": override.to_dict()}, status_code=202)


async def get_overrides(request: Request, principal: Principal, engine: AsyncEngine) -> Response:
    user_id = request.path_params["user_id"]
    if not principal.may_read_user(user_id):
        return error_response(403, "forbidden", "you may read only your own overrides")
    row = await queries.row_for_user(engine, user_id)
    if row is None:
        return unknown_user(user_id)
    now = datetime.now(UTC)
    latest = await queries.latest_overrides(engine, row["stripe_customer_id"])
    return JSONResponse(
        {
            "customer_id": row["stripe_customer_id"],
            "overrides": [
                {
                    "feature": entry["feature"],
                    "effect": entry["effect"],
                    "limit": entry["limit"],
                    "until": iso_time(entry["until"]),
                    "active": entry["effect"] != "clear"
                    and (entry["until"] is None or entry["until"] > now),
                    "applied_at": iso_time(entry["applied_at"]),
                    "applied_by": entry["applied_by"],
                    "reason": entry["reason"],
                    "override_id": entry["override_id"],
                }
                for entry in latest
            ],
        }
    )
