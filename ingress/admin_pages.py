"""Rendering the operator's pages: Jinja2 templates in ``ingress/templates/admin`` with
autoescaping on, so every id and payload field is escaped, and headers that forbid scripts,
framing and caching (the pages hold customer data)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _utc(value: datetime | int | None) -> str:
    if value is None:
        return "—"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):  # an event's `created` is what the sender said
        return f"{value} (not a date)"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ingress", "templates/admin"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = _utc
    return environment


def page(
    template: str, status: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """``template`` rendered with ``context``, as an HTML response with ``status``."""
    context.setdefault("principal", None)
    html = _environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def message(status: int, title: str, text: str, **context: Any) -> HTMLResponse:
    """A page that says one thing (an error, a customer not found), with the search form."""
    extra = {"Retry-After": "5"} if status == 503 else {}
    return page("message.html", status, extra, title=title, text=text, **context)
