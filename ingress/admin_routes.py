"""The operator's page, served by the ingress under ``/admin``: look up a user or a Stripe
customer and see their state, their features and where each comes from, the events received
and what became of each, and the doctor's verdict (see README, "Operator's page").

Every page needs a service API key or the ``atlas-admin`` role (``ingress/admin_auth.py``).
Answers: 200 a page; 303 after a look-up, sign-in or sign-out; 400 a malformed id; 401 the
sign-in page; 403 a caller without the role, or a cross-site form; 404 nothing known of the
id; 413 a sign-in form above 16 KiB; 503 Postgres unreachable, or the page not configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, quote

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api import queries
from api.auth import Authenticator, Forbidden, Principal, Unauthenticated
from atlas.customer_report import build_report
from atlas.settings import Settings
from ingress.admin_auth import (
    COOKIE,
    NotConfigured,
    admin_principal,
    check_credential,
    forget_credential,
    keep_credential,
    same_origin,
)
from ingress.admin_pages import message, page

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 256
MAX_FORM_BYTES = 16 * 1024
CONCURRENT_REPORTS = 2  # each scans partitions; the webhook path shares this process
READS_PER_REPORT = 8  # a report's broker and Stripe reads run at once, on threads of their own

Handler = Callable[[Request, Principal], Awaitable[Response]]


class _FormTooLarge(Exception):
    pass


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID_LENGTH and value.isprintable() and value.strip() == value


def _bad_id(what: str) -> Response:
    return message(400, f"Malformed {what}", "ids are 1-256 printable characters, no padding")


def _sign_in(status: int, reason: str) -> Response:
    return page("login.html", status, {"WWW-Authenticate": "Bearer"}, reason=reason)


def _not_configured() -> Response:
    return message(
        503,
        "The operator's page is off",
        "The ingress needs ATLAS_API_KEYS (or ATLAS_AUTH_*) and DATABASE_URL for /admin.",
    )


async def _form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _FormTooLarge
    fields = parse_qs(body.decode(errors="replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


def admin_routes(
    settings: Settings, authenticator: Authenticator | None, engine: AsyncEngine | None
) -> list[Route]:
    reports = asyncio.Semaphore(CONCURRENT_REPORTS)
    threads = ThreadPoolExecutor(CONCURRENT_REPORTS * READS_PER_REPORT, "operator-page")

    def operator_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                principal = await admin_principal(authenticator, request)
            except NotConfigured:
                return _not_configured()
            except Unauthenticated as exc:
                response = _sign_in(401, exc.message)
                if COOKIE in request.cookies:
                    forget_credential(response)
                return response
            except Forbidden as exc:
                return message(403, "Not allowed", exc.message)
            if engine is None:
                return _not_configured()
            try:
                return await handler(request, principal)
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("operator page: Postgres read failed: %s", exc.__class__.__name__)
                return message(503, "Postgres did not answer", "Retry in a few seconds.")

        return endpoint

    async def home(request: Request, principal: Principal) -> Response:
        assert engine is not None
        wanted = request.query_params.get("q", "")
        if not wanted:
            return message(200, "Look up a customer", "", principal=principal)
        if not _valid_id(wanted):
            return _bad_id("id")
        quoted = quote(wanted, safe="")
        if await queries.row_for_customer(engine, wanted) or wanted.startswith("cus_"):
            return RedirectResponse(f"/admin/customers/{quoted}", 303)
        if await queries.row_for_user(engine, wanted):
            return RedirectResponse(f"/admin/users/{quoted}", 303)
        return message(404, "Not found", f"Atlas knows no user or customer {wanted!r}.")

    async def user_page(request: Request, principal: Principal) -> Response:
        assert engine is not None
        user = request.path_params["user_id"]
        if not _valid_id(user):
            return _bad_id("user id")
        row = await queries.row_for_user(engine, user)
        if row is None:
            text = f"Atlas has no Stripe customer linked to user {user!r}."
            return message(404, "Unknown user", text, principal=principal)
        return await _customer(str(row["stripe_customer_id"]), principal, user)

    async def customer_page(request: Request, principal: Principal) -> Response:
        customer = request.path_params["customer_id"]
        if not _valid_id(customer):
            return _bad_id("customer id")
        return await _customer(customer, principal, None)

    async def _customer(customer: str, principal: Principal, user: str | None) -> Response:
        assert engine is not None
        log.info("operator page: %s %s viewed %s", principal.kind, principal.subject, customer)
        async with reports:
            report = await build_report(settings, engine, customer, threads)
        if not report.found:
            text = f"Atlas has no row, no override and no event for customer {customer!r}."
            return message(404, "Unknown customer", text, principal=principal, notes=report.notes)
        return page("customer.html", principal=principal, report=report, user=user)

    async def login(request: Request) -> Response:
        if authenticator is None:
            return _not_configured()
        if not same_origin(request):
            return message(403, "Not allowed", "A sign-in posted from another site is refused.")
        try:
            credential = (await _form(request)).get("key", "").strip()
        except _FormTooLarge:
            return message(413, "Too large", f"The form exceeds {MAX_FORM_BYTES} bytes.")
        if not credential:
            return _sign_in(401, "missing credentials")
        try:
            principal = await check_credential(authenticator, request, credential)
        except Unauthenticated as exc:
            return _sign_in(401, exc.message)
        except Forbidden as exc:
            return message(403, "Not allowed", exc.message)
        log.info("operator page: %s %s signed in", principal.kind, principal.subject)
        response = RedirectResponse("/admin", 303)
        keep_credential(response, request, credential)
        return response

    async def logout(request: Request) -> Response:
        if not same_origin(request):
            return message(403, "Not allowed", "A sign-out posted from another site is refused.")
        response = RedirectResponse("/admin", 303)
        forget_credential(response)
        return response

    return [
        Route("/admin", operator_page(home), methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin/users/{user_id:path}", operator_page(user_page), methods=["GET"]),
        Route("/admin/customers/{customer_id:path}", operator_page(customer_page), methods=["GET"]),
    ]
