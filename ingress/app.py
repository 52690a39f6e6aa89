"""The ingress HTTP app: ``POST /stripe/webhook``, ``GET /healthz``, ``GET /readyz``, and the
operator's page under ``/admin`` (``ingress/admin_routes.py``).

The webhook route is short: read the raw body → verify → publish → await the broker's ack →
answer. Status codes: 200 once the broker has the event; 400 for a missing, malformed, stale
or wrong signature, for a body that is not a Stripe event and for one ``created`` more than a
day ahead; 408 when the body arrives too slowly; 413 above 1 MiB; 503 with ``Retry-After`` when
the broker does not acknowledge in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import Authenticator
from api.openapi import openapi_document
from atlas import metrics
from atlas.http_errors import ROUTING_ERRORS, error_response
from atlas.settings import Settings
from ingress.admin_routes import admin_routes
from ingress.admission import admission_limit
from ingress.publisher import Publisher, PublishError
from ingress.signature import SignatureError, verify_signature
from schemas.stripe_event import NotAStripeEvent, parse_event
from schemas.topics import EVENT_CREATED_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, Topics
from sinks.database import async_engine

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
BODY_READ_TIMEOUT_S = 10.0
RETRY_AFTER_S = "5"
MAX_CLOCK_SKEW_S = 86_400  # an event "created" further ahead than this is not from Stripe
_CLOSE = {"Connection": "close"}  # the rest of an unread body is not worth reading


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(BODY_READ_TIMEOUT_S):
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def _error_code(response: Response) -> str:
    """The ``error`` code of one of our JSON error responses."""
    try:
        return str(orjson.loads(bytes(response.body))["error"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return str(response.status_code)


def create_app(
    settings: Settings,
    publisher: Publisher | None = None,
    authenticator: Authenticator | None = None,
) -> Starlette:
    """Build the ingress; ``publisher`` defaults to one on ``settings``' broker. The operator's
    page needs ``authenticator`` and ``settings.database_url``; without them it answers 503."""
    secrets = tuple(secret.encode() for secret in settings.webhook_secrets)
    topics = Topics.with_prefix(settings.topic_prefix)
    state: dict[str, Publisher] = {}
    engine = async_engine(settings.database_url) if settings.database_url else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["publisher"] = publisher or Publisher(
            settings.kafka_bootstrap_servers, topics.stripe_events, settings.publish_timeout_s
        )
        yield
        await asyncio.to_thread(state["publisher"].close)
        if engine is not None:
            await engine.dispose()

    async def webhook(request: Request) -> Response:
        response = await handle_webhook(request)
        outcome = "accepted" if response.status_code == 200 else _error_code(response)
        metrics.WEBHOOKS.labels(outcome).inc()
        return response

    async def handle_webhook(request: Request) -> Response:
        try:
            body = await _read_body(request)
        except BodyTooLarge:
            return error_response(
                413, "body_too_large", f"body exceeds {MAX_BODY_BYTES} bytes", **_CLOSE
            )
        except TimeoutError:
            return error_response(408, "body_timeout", "request body arrived too slowly", **_CLOSE)
        try:
            verify_signature(body, request.headers.get("stripe-signature"), secrets)
            event = parse_event(body)
        except SignatureError as exc:
            log.info("webhook rejected: %s", exc.reason)
            return error_response(400, exc.reason, str(exc))
        except NotAStripeEvent as exc:
            log.info("webhook rejected: not a Stripe event (%s)", exc)
            return error_response(400, "not_a_stripe_event", str(exc))
        if event.created > time.time() + MAX_CLOCK_SKEW_S:
            log.info(
                "webhook %s rejected: created %s is in the future",
                event.id,
                event.created,
                extra={"event_id": event.id},
            )
            return error_response(
                400, "implausible_created", "the event's 'created' lies more than a day ahead"
            )
        headers = [
            (EVENT_ID_HEADER, event.id.encode()),
            (EVENT_TYPE_HEADER, event.type.encode()),
            (EVENT_CREATED_HEADER, str(event.created).encode()),
        ]
        started = time.perf_counter()
        try:
            await state["publisher"].publish(event.routing_key, body, headers)
            metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        except PublishError as exc:
            log.warning("event %s not published: %s", event.id, exc, extra={"event_id": event.id})
            return error_response(
                503,
                "broker_unavailable",
                "event not stored; retry",
                **{"Retry-After": RETRY_AFTER_S},
            )
        return JSONResponse({"received": True, "event_id": event.id})

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        if await asyncio.to_thread(state["publisher"].broker_reachable):
            return JSONResponse({"status": "ready"})
        return error_response(
            503, "broker_unreachable", "Kafka did not answer", **{"Retry-After": "5"}
        )

    return Starlette(
        exception_handlers=ROUTING_ERRORS,
        routes=[
            Route("/stripe/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *admin_routes(settings, authenticator, engine),
        ],
        lifespan=lifespan,
        middleware=[admission_limit("/stripe/webhook", settings.max_webhooks_in_flight)],
    )
