"""Who is calling (a :class:`Principal`) and how a way of telling is plugged in (a
:class:`Verifier`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from starlette.requests import Request

ADMIN_ROLE = "atlas-admin"  # opens the operator's page (``/admin``) to a user


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``subject`` is the user id for ``kind="user"`` and the API key's name for
    ``kind="service"``. ``roles`` come from the JWT's roles claim or from your callable; the
    only one Atlas knows is :data:`ADMIN_ROLE`.
    """

    kind: Literal["user", "service"]
    subject: str
    roles: frozenset[str] = frozenset()

    def may_read_user(self, user_id: str) -> bool:
        """Services may read any user; a user only themself."""
        return self.kind == "service" or self.subject == user_id

    @property
    def is_admin(self) -> bool:
        """Services, and users with :data:`ADMIN_ROLE`, may open the operator's page."""
        return self.kind == "service" or ADMIN_ROLE in self.roles


class Verifier(Protocol):
    """One way of authenticating a request.

    ``verify`` returns a :class:`Principal` when it accepts the credentials, ``None`` when they
    are not its kind (the next verifier gets a turn), and raises
    :class:`~api.auth_errors.Unauthenticated` when they are its kind but invalid.
    """

    async def verify(self, request: Request) -> Principal | None: ...


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
