"""Gating FastAPI endpoints on a feature, with a dependency.

    install(app, AtlasGate(client, user_id=current_user_id))

    @app.get("/exports")
    async def export(decision: Decision = Depends(require_feature("exports"))): ...

A request without a user is answered 401 and a denied one 403, with the same JSON bodies as
the Starlette integration at the top level of the response (not under ``detail``):
``install`` stores the gate and registers the handler that renders them.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from atlas_client.errors import AccessRefused
from atlas_client.gating import AtlasGate, gate_of, refusal_response
from atlas_client.models import Decision
from atlas_client.registry import register

__all__ = ["AtlasGate", "install", "require_feature"]


def require_feature(feature: str) -> Callable[[Request], Awaitable[Decision]]:
    """A dependency granting only users entitled to ``feature``; it returns the ``Decision``
    (also at ``request.state.atlas_decision``). Registers the feature under the calling
    module and line (``module:line``): the endpoint does not exist yet when this runs."""
    caller = sys._getframe(1)
    register(feature, f"{caller.f_globals.get('__name__', '?')}:{caller.f_lineno}")

    async def dependency(request: Request) -> Decision:
        decision = await gate_of(request).authorize(request, feature)
        request.state.atlas_decision = decision
        return decision

    return dependency


def install(app: FastAPI, gate: AtlasGate) -> None:
    """Store ``gate`` on ``app.state.atlas_gate`` and answer refusals with their JSON body."""
    app.state.atlas_gate = gate
    app.add_exception_handler(AccessRefused, _refused)


async def _refused(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AccessRefused):
        raise exc
    return refusal_response(exc)
