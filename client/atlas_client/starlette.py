"""Gating Starlette endpoints on a feature.

    app = Starlette(routes=[gated_route("/exports", export, feature="exports")])
    app.state.atlas_gate = AtlasGate(client, user_id=lambda request: request.user.identity)

or decorate the endpoint with ``@requires_feature("exports")``. A request without a user is
answered 401, a denied one 403 (see ``AtlasGate``); a granted one runs the endpoint with the
``Decision`` at ``request.state.atlas_decision``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, ParamSpec, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atlas_client.errors import AccessRefused
from atlas_client.gating import AtlasGate, gate_of, refusal_response
from atlas_client.registry import register

__all__ = ["AtlasGate", "gated_route", "requires_feature"]

P = ParamSpec("P")
Endpoint = Callable[P, Response | Awaitable[Response]]
Gated = Callable[P, Coroutine[Any, Any, Response]]


def requires_feature(feature: str) -> Callable[[Endpoint[P]], Gated[P]]:
    """Decorate a Starlette endpoint (``async`` or not, a function or an ``HTTPEndpoint``
    method; the request is its last argument) so it runs only for users entitled to
    ``feature``. Registers the feature under the endpoint's ``module.qualname``."""

    def decorate(endpoint: Endpoint[P]) -> Gated[P]:
        register(feature, f"{endpoint.__module__}.{endpoint.__qualname__}")
        is_async = inspect.iscoroutinefunction(endpoint)

        @functools.wraps(endpoint)
        async def gated(*args: P.args, **kwargs: P.kwargs) -> Response:
            request = args[-1]
            assert isinstance(request, Request)
            try:
                decision = await gate_of(request).authorize(request, feature)
            except AccessRefused as refused:
                return refusal_response(refused)
            request.state.atlas_decision = decision
            if is_async:
                return await cast(Awaitable[Response], endpoint(*args, **kwargs))
            return cast(Response, await run_in_threadpool(endpoint, *args, **kwargs))

        return gated

    return decorate


def gated_route(
    path: str,
    endpoint: Endpoint[...],
    *,
    feature: str,
    methods: Collection[str] | None = None,
    name: str | None = None,
) -> Route:
    """A Starlette ``Route`` whose endpoint is gated on ``feature``."""
    return Route(path, requires_feature(feature)(endpoint), methods=methods, name=name)
