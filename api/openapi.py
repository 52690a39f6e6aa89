"""The OpenAPI 3.1 document of every Atlas HTTP endpoint (ingress and entitlements API).

Served at ``/openapi.json`` by both services and rendered into the README by
``scripts/render-openapi``; a test checks that every route of both apps is described here.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: tuple[str, str]) -> dict[str, Any]:
    return {status: _json(_ERROR, text) for status, text in codes}


_UNAUTHENTICATED = ("401", "missing, malformed, expired or unknown credentials")
_FORBIDDEN = ("403", "a user asking for another user's entitlements")
_DB_DOWN = ("503", "Postgres unreachable; retry after `Retry-After` seconds")

_ENTITLEMENTS = {
    "type": "object",
    "required": ["customer_id", "plan", "status", "features", "limits", "version"],
    "properties": {
        "user_id": {"type": ["string", "null"]},
        "customer_id": {"type": "string", "description": "Stripe customer id"},
        "plan": {"type": "string", "description": "tier whose features apply now"},
        "status": {
            "type": "string",
            "description": "none, active, trialing, past_due, canceled, unpaid, incomplete…",
        },
        "features": {"type": "array", "items": {"type": "string"}},
        "limits": {"type": "object", "additionalProperties": {"type": "integer"}},
        "feature_bits": {"type": "integer", "description": "bit i set: catalog bit i granted"},
        "current_period_end": {"type": ["string", "null"], "format": "date-time"},
        "cancel_at_period_end": {"type": "boolean"},
        "grace_until": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "past_due: when the plan's features end unless a payment succeeds",
        },
        "banner": {"type": ["string", "null"], "enum": ["past_due", None]},
        "version": {"type": "integer", "description": "only grows; newer wins"},
    },
}

_CATALOG = {
    "type": "object",
    "properties": {
        "version": {"type": "integer", "description": "0: the file catalog; >= 1: published"},
        "features": {"type": "object"},
        "plans": {"type": "object"},
    },
}


# What the ingress accepts as a Stripe event (schemas/stripe_event.py); anything else is 400.
_STRIPE_EVENT = {
    "type": "object",
    "required": ["id", "type", "created", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 255},
        "object": {"const": "event"},
        "type": {"type": "string", "pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"},
        "created": {"type": "integer", "minimum": 0},
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"type": "object"}},
        },
    },
}

_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}

_OVERRIDE_REQUEST = {
    "type": "object",
    "required": ["feature", "effect", "reason"],
    "additionalProperties": False,
    "properties": {
        "feature": {"type": "string", "description": "a feature key of the catalog"},
        "effect": {"type": "string", "enum": ["grant", "revoke", "clear"]},
        "limit": {"type": ["integer", "null"], "minimum": 0, "description": "grant only"},
        "until": {
            "type": ["string", "null"],
            "description": "lapses then: 2026-12-31 (midnight UTC) or a time with a zone",
        },
        "reason": {"type": "string", "maxLength": 500, "description": "audited"},
    },
}

_OVERRIDE_LIST = {
    "type": "object",
    "properties": {
        "customer_id": {"type": "string"},
        "overrides": {"type": "array", "items": {"type": "object"}},
    },
}


_INVOICES = {
    "type": "object",
    "properties": {
        "customer_id": {"type": "string"},
        "invoices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "invoice_id": {"type": "string"},
                    "subscription_id": {"type": ["string", "null"]},
                    "status": {"type": ["string", "null"]},
                    "amount_due": {"type": ["integer", "null"]},
                    "amount_paid": {"type": ["integer", "null"]},
                    "currency": {"type": ["string", "null"]},
                    "hosted_invoice_url": {"type": ["string", "null"]},
                    "created": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
}

_CHECKOUT_REQUEST = {
    "type": "object",
    "required": ["plan"],
    "additionalProperties": False,
    "properties": {
        "plan": {"type": "string", "description": "a paid tier of the catalog"},
        "price_id": {"type": "string", "description": "which of the tier's prices, if several"},
        "user_id": {"type": "string", "description": "services only: the user it is for"},
    },
}

_PORTAL_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"user_id": {"type": "string", "description": "services only"}},
}


def _billing_post(
    summary: str, request: dict[str, Any], conflict: tuple[str, str]
) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}, {"apiKey": []}],
            "parameters": [
                {"name": "redirect", "in": "query", "schema": {"type": "string", "enum": ["true"]}}
            ],
            "requestBody": {"content": {"application/json": {"schema": request}}},
            "responses": {
                "200": _json({"type": "object", "properties": {"url": {"type": "string"}}}, "url"),
                "303": {
                    "description": "redirect to the URL (`?redirect=true` or Accept text/html)"
                },
                **_errors(
                    ("400", "invalid_request: unknown plan, ambiguous price, bad body"),
                    _UNAUTHENTICATED,
                    ("403", "a user acting for another user"),
                    conflict,
                    ("502", "stripe_error: Stripe refused or did not answer"),
                    ("503", "billing_not_configured, or Postgres unreachable"),
                ),
            },
        }
    }


def _entitlements_get(parameter: str, description: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": description,
            "security": [{"bearer": []}, {"apiKey": []}],
            "parameters": [
                {"name": parameter, "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(_ENTITLEMENTS, "current entitlements; `ETag` header set"),
                "304": {"description": "unchanged since the `If-None-Match` ETag"},
                **_errors(
                    ("400", "malformed id"),
                    _UNAUTHENTICATED,
                    _FORBIDDEN,
                    ("404", "Atlas has no subscription row for this id"),
                    _DB_DOWN,
                ),
            },
        }
    }


def _health(service: str, ready: str) -> dict[str, dict[str, Any]]:
    return {
        "/healthz": {"get": {"summary": f"{service} process is up", "responses": {"200": {}}}},
        "/readyz": {
            "get": {
                "summary": f"{service} can reach {ready}",
                "responses": {"200": {"description": "ready"}, **_errors(("503", "not ready"))},
            }
        },
    }


_ADMIN_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"adminCookie": []}]


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


def _admin_get(
    summary: str, parameter: dict[str, Any], ok: dict[str, Any], not_found: str
) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"{summary} (served by `atlas ingress`)",
            "security": _ADMIN_SECURITY,
            "parameters": [parameter],
            "responses": {
                **ok,
                "400": _html("malformed id"),
                "401": _html("the sign-in page: missing, wrong or expired credentials"),
                "403": _html("a user without the `atlas-admin` role"),
                "404": _html(not_found),
                "503": _html("Postgres unreachable, or the page is not configured"),
            },
        }
    }


def _admin_page(summary: str, parameter: str, not_found: str) -> dict[str, Any]:
    path = {"name": parameter, "in": "path", "required": True, "schema": {"type": "string"}}
    ok = {"200": _html("state, features and their sources, events and outcomes, verdict")}
    return _admin_get(summary, path, ok, not_found)


def _admin_paths() -> dict[str, Any]:
    return {
        "/admin": _admin_get(
            "the operator's page: look up a user or customer id (`?q=`)",
            {"name": "q", "in": "query", "schema": {"type": "string"}},
            {
                "200": _html("the look-up form"),
                "303": {"description": "to the customer's or user's page"},
            },
            "no user or customer with this id",
        ),
        "/admin/login": {
            "post": {
                "summary": "sign in to the operator's page with an API key or token (form "
                "field `key`) (served by `atlas ingress`)",
                "requestBody": {
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
                },
                "responses": {
                    "303": {
                        "description": "to `/admin`, the credential kept in an HttpOnly cookie"
                    },
                    "401": _html("the sign-in page: wrong or expired credentials"),
                    "403": _html("no `atlas-admin` role, or posted from another site"),
                    "413": _html("form above 16 KiB"),
                    "503": _html("the page is not configured"),
                },
            }
        },
        "/admin/logout": {
            "post": {
                "summary": "sign out of the operator's page (served by `atlas ingress`)",
                "responses": {
                    "303": {"description": "to `/admin`, the cookie cleared"},
                    "403": _html("posted from another site"),
                },
            }
        },
        "/admin/users/{user_id}": _admin_page(
            "the operator's page of the user's customer",
            "user_id",
            "no customer linked to this user",
        ),
        "/admin/customers/{customer_id}": _admin_page(
            "the operator's page of a Stripe customer",
            "customer_id",
            "no row, override or event for this customer",
        ),
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Atlas", "version": "1", "description": "Stripe billing → entitlements"},
        "paths": {
            "/stripe/webhook": {
                "post": {
                    "summary": "Stripe webhook endpoint (served by `atlas ingress`)",
                    "parameters": [
                        {
                            "name": "Stripe-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _STRIPE_EVENT}},
                    },
                    "responses": {
                        "200": {"description": "the broker acknowledged the event"},
                        **_errors(
                            ("400", "bad or stale signature, or not a Stripe event"),
                            ("408", "body arrived too slowly"),
                            ("413", "body above 1 MiB"),
                            (
                                "503",
                                "broker did not acknowledge, or too many webhooks in flight; "
                                "Stripe retries",
                            ),
                        ),
                    },
                }
            },
            "/v1/users/{user_id}/entitlements": _entitlements_get(
                "user_id", "a user's entitlements (served by `atlas api`)"
            ),
            "/v1/customers/{customer_id}/entitlements": _entitlements_get(
                "customer_id", "a Stripe customer's entitlements (served by `atlas api`)"
            ),
            "/v1/users/{user_id}/overrides": {
                "get": {
                    "summary": "the latest override of each of a user's features "
                    "(served by `atlas api`)",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "parameters": [_USER_ID],
                    "responses": {
                        "200": _json(_OVERRIDE_LIST, "overrides, with `active`"),
                        **_errors(
                            ("400", "malformed id"),
                            _UNAUTHENTICATED,
                            _FORBIDDEN,
                            ("404", "Atlas has no customer for this user"),
                            _DB_DOWN,
                        ),
                    },
                },
                "post": {
                    "summary": "grant, revoke or clear one feature for a user; services only "
                    "(served by `atlas api`)",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "parameters": [_USER_ID],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _OVERRIDE_REQUEST}},
                    },
                    "responses": {
                        "202": _json({"type": "object"}, "published; applied within a second"),
                        **_errors(
                            ("400", "invalid_override: unknown feature, bad limit or until…"),
                            _UNAUTHENTICATED,
                            ("403", "a user credential (only services change overrides)"),
                            ("404", "Atlas has no customer for this user"),
                            ("503", "broker or Postgres unreachable; retry after `Retry-After`"),
                        ),
                    },
                },
            },
            "/v1/users/{user_id}/invoices": {
                "get": {
                    "summary": "a user's invoices, newest first (served by `atlas api`)",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "parameters": [_USER_ID],
                    "responses": {
                        "200": _json(_INVOICES, "the invoices (at most 100)"),
                        **_errors(
                            ("400", "malformed id"),
                            _UNAUTHENTICATED,
                            _FORBIDDEN,
                            ("404", "Atlas has no customer for this user"),
                            _DB_DOWN,
                        ),
                    },
                }
            },
            "/v1/billing/checkout": _billing_post(
                "a Stripe Checkout Session (subscription mode) for a plan: its URL "
                "(served by `atlas api`)",
                _CHECKOUT_REQUEST,
                ("409", "already_subscribed: the user has a live paid subscription"),
            ),
            "/v1/billing/portal": _billing_post(
                "a Stripe customer-portal session for the user's customer: its URL "
                "(served by `atlas api`)",
                _PORTAL_REQUEST,
                ("409", "no_customer: the user has no Stripe customer yet"),
            ),
            "/v1/catalog": {
                "get": {
                    "summary": "the catalog in force (served by `atlas api`)",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {
                        "200": _json(_CATALOG, "features and plans"),
                        **_errors(_UNAUTHENTICATED, _DB_DOWN),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (ingress; the worker and sink serve theirs "
                    "on `ATLAS_METRICS_PORT`)",
                    "responses": {"200": {"description": "Prometheus text format"}},
                }
            },
            "/openapi.json": {
                "get": {"summary": "this document", "responses": {"200": {"description": "ok"}}}
            },
            **_health("the service", "its broker (ingress) or Postgres (api)"),
            **_admin_paths(),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "Entitlements": _ENTITLEMENTS,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "JWT or API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "adminCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "atlas_admin",
                    "description": "set by `POST /admin/login`",
                },
            },
        },
    }
