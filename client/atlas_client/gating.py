"""The gate shared by the Starlette and FastAPI integrations: who the user is, whether they
may use the feature, and the 401/403 answers when not."""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from atlas_client.aio import AsyncEntitlementsClient
from atlas_client.client import EntitlementsClient
from atlas_client.errors import AccessRefused, GateNotInstalledError
from atlas_client.models import Decision, Reason

UserIdGetter = Callable[[Request], str | None]

_MESSAGES = {
    Reason.NOT_IN_PLAN: "Your plan does not include the '{feature}' feature.",
    Reason.UNKNOWN_FEATURE: "'{feature}' is not a known feature.",
    Reason.UNKNOWN_USER: "No subscription is known for this account.",
}
_UNVERIFIED = "Access to '{feature}' could not be verified just now; please try again shortly."


class AtlasGate:
    """Decides gated requests for one app.

    ``client`` is an ``AsyncEntitlementsClient`` (preferred in async apps) or an
    ``EntitlementsClient`` (a fresh hit is answered inline, a miss runs in Starlette's thread
    pool so it never blocks the event loop). ``user_id`` returns the authenticated user's id
    for a request, or ``None`` (answered 401). ``upgrade_url`` goes into 403 bodies; it
    defaults to the client's.
    """

    def __init__(
        self,
        client: EntitlementsClient | AsyncEntitlementsClient,
        user_id: UserIdGetter,
        upgrade_url: str | None = None,
    ) -> None:
        self.client = client
        self.user_id = user_id
        self.upgrade_url = upgrade_url if upgrade_url is not None else client.upgrade_url

    async def authorize(self, request: Request, feature: str) -> Decision:
        """The granting decision; raises ``AccessRefused`` (401 or 403) otherwise."""
        user_id = self.user_id(request)
        if user_id is None:
            message = "Sign in to use this feature."
            raise AccessRefused(401, {"error": "unauthenticated", "message": message})
        decision = await self._check(user_id, feature)
        if not decision.allowed:
            raise AccessRefused(403, self._refusal(decision))
        return decision

    async def _check(self, user_id: str, feature: str) -> Decision:
        client = self.client
        if isinstance(client, AsyncEntitlementsClient):
            return await client.check(user_id, feature)
        cached = client.check_cached(user_id, feature)
        if cached is not None:
            return cached
        return await run_in_threadpool(client.check, user_id, feature)

    def _refusal(self, decision: Decision) -> dict[str, object]:
        template = _MESSAGES.get(Reason(decision.reason), _UNVERIFIED)
        return {
            "error": "feature_required",
            "feature": decision.feature,
            "plan": decision.plan,
            "reason": decision.reason,
            "upgrade_url": self.upgrade_url,
            "message": template.format(feature=decision.feature),
        }


def gate_of(request: Request) -> AtlasGate:
    """The ``AtlasGate`` at ``request.app.state.atlas_gate``."""
    gate = getattr(request.app.state, "atlas_gate", None)
    if not isinstance(gate, AtlasGate):
        raise GateNotInstalledError("app.state.atlas_gate must be an atlas_client AtlasGate")
    return gate


def refusal_response(refused: AccessRefused) -> JSONResponse:
    """The JSON answer for a refused request."""
    return JSONResponse(refused.body, status_code=refused.status_code)
