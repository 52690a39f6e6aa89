"""The operator's page (`/admin` on the ingress) over real HTTP against the real pipeline: who
may open it, a customer's state with each feature's source, the events received with what
became of each (applied, duplicate, superseded, not handled, invalid, dead-lettered, pending),
the doctor's verdict, bad ids, escaping, and what it answers with Postgres or the broker
gone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import jwt
import orjson
import pytest
from starlette.requests import Request

from api.auth import Authenticator, Principal, verifiers_from_env
from atlas.embedded import free_port
from atlas.kafka_produce import CommandProducer
from atlas.settings import load_settings
from ingress.app import create_app
from schemas.topics import EVENT_ID_HEADER, EVENT_TYPE_HEADER
from tests import stripe_builders as build
from tests.support.html_page import Page
from tests.support.pipeline import API_KEY, JWT_SECRET, PRICES, WEBHOOK_SECRET, Pipeline
from tests.support.polling import wait_for
from tests.test_api_auth import Served

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PRO = ["api-access", "data-exploration", "exports", "team-seats"]
SERVICE = {"x-api-key": API_KEY}
XSS = "<script>alert('x')</script>"


def token(roles: object = None, user: str = "ops-ana") -> str:
    now = int(time.time())
    claims = {"sub": user, "aud": "atlas-tests", "iat": now, "exp": now + 300}
    if roles is not None:
        claims["roles"] = roles
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def admin_get(pipeline: Pipeline, path: str, **params: str) -> httpx.Response:
    return pipeline.http.get(path, params=params, headers=SERVICE)


def customer_page(pipeline: Pipeline, customer: str) -> Page:
    response = admin_get(pipeline, f"/admin/customers/{quote(customer, safe='')}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def settled_page(pipeline: Pipeline, customer: str, events: int) -> Page:
    """The customer's page once it lists ``events`` records and none is pending."""

    def settled() -> Page | None:
        page = customer_page(pipeline, customer)
        outcomes = [row[-1] for row in page.rows("events-table")]
        if len(outcomes) == events and not any(o.startswith("pending") for o in outcomes):
            return page
        return None

    return wait_for(settled, 45, f"{events} processed events on the page of {customer}")


def pro_customer(pipeline: Pipeline, created: int) -> tuple[str, str, list[dict[str, object]]]:
    customer, user = build.new_id("cus"), build.new_id("user")
    events = build.subscribed(customer, user, PRICES["pro"], created=created)
    for event in events:
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro")
    return customer, user, events


def produce_raw(pipeline: Pipeline, customer: str, value: bytes, event_id: str = "-") -> None:
    """A record on stripe.events the ingress would have refused."""
    producer = CommandProducer(pipeline.bootstrap, 10)
    headers: list[tuple[str, str | bytes | None]] = [
        (EVENT_ID_HEADER, event_id.encode()),
        (EVENT_TYPE_HEADER, b"customer.subscription.updated"),
    ]
    producer.send(pipeline.topics.stripe_events, value, customer.encode(), None, headers)
    producer.flush()


# --- who may open it ---------------------------------------------------------------------


def test_without_credentials_the_page_asks_to_sign_in(pipeline: Pipeline) -> None:
    for path in ("/admin", "/admin/customers/cus_x", "/admin/users/u_1"):
        response = pipeline.http.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["www-authenticate"] == "Bearer"
        assert 'action="/admin/login"' in response.text and "missing credentials" in response.text
    wrong = "not-the-key-0123456789abcdef"
    refused = pipeline.http.get("/admin", headers={"x-api-key": wrong})
    assert refused.status_code == 401 and "invalid credentials" in refused.text
    assert wrong not in refused.text


def test_a_service_key_or_the_admin_role_opens_it_and_a_plain_user_is_refused(
    pipeline: Pipeline,
) -> None:
    assert admin_get(pipeline, "/admin").status_code == 200
    operators: list[object] = [["atlas-admin"], "openid atlas-admin"]
    for roles in operators:
        bearer = {"authorization": f"Bearer {token(roles)}"}
        assert pipeline.http.get("/admin", headers=bearer).status_code == 200, roles
    others: list[object] = [None, ["admin"], "atlas-admins", {"atlas-admin": True}]
    for roles in others:
        bearer = {"authorization": f"Bearer {token(roles)}"}
        response = pipeline.http.get("/admin", headers=bearer)
        assert response.status_code == 403, roles
        assert "atlas-admin role" in response.text


def test_sign_in_keeps_the_key_in_a_strict_http_only_cookie(pipeline: Pipeline) -> None:
    with httpx.Client(base_url=pipeline.url, timeout=15) as browser:
        form = {"key": API_KEY}
        same_site = {"sec-fetch-site": "same-origin"}
        signed_in = browser.post("/admin/login", data=form, headers=same_site)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
        cookie = signed_in.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "path=/admin", "max-age=28800"):
            assert attribute in cookie, cookie
        page = browser.get("/admin")
        assert page.status_code == 200 and "service tests" in page.text
        assert API_KEY not in page.text and WEBHOOK_SECRET not in page.text

        signed_out = browser.post("/admin/logout", headers={"origin": pipeline.url})
        assert signed_out.status_code == 303
        assert browser.get("/admin").status_code == 401

        wrong = browser.post("/admin/login", data={"key": "x" * 20})
        assert wrong.status_code == 401 and "invalid credentials" in wrong.text
        assert "set-cookie" not in wrong.headers
        plain_user = browser.post("/admin/login", data={"key": token()})
        assert plain_user.status_code == 403 and "set-cookie" not in plain_user.headers


def test_a_sign_in_posted_from_another_site_is_refused(pipeline: Pipeline) -> None:
    for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}):
        response = pipeline.http.post("/admin/login", data={"key": API_KEY}, headers=headers)
        assert response.status_code == 403, headers
        assert "set-cookie" not in response.headers


# --- what it shows ------------------------------------------------------------------------


def test_features_show_the_plan_and_the_override_they_come_from(pipeline: Pipeline) -> None:
    customer, user, _ = pro_customer(pipeline, int(time.time()) - 60)
    granted = pipeline.cli(
        "grant", "--user", user, "--feature", "advisory-sessions", "--limit", "2",
        "--reason", "beta tester", "--by", "ops-ana",
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    pipeline.wait_row(customer, features=sorted([*PRO, "advisory-sessions"]))

    def with_override() -> Page | None:
        response = admin_get(pipeline, f"/admin/users/{user}")
        assert response.status_code == 200, response.text
        page = Page(response.text)
        return page if page.tables.get("overrides-table") else None

    page = wait_for(with_override, 30, "the override on the page")
    exports = page.row("features-table", "exports")
    assert exports[1] == "yes" and exports[3] == "plan pro" and exports[4] == "—"
    seats = page.row("features-table", "team-seats")
    assert seats[2] == "5 (plan)"
    advisory = page.row("features-table", "advisory-sessions")
    assert advisory[1] == "yes" and advisory[2] == "2 (override)"
    assert advisory[3] == "not in plan pro"
    assert advisory[4].startswith("grant limit 2 by ops-ana at ")
    assert "why: beta tester" in advisory[4]
    support = page.row("features-table", "priority-support")
    assert support[1] == "no" and support[3] == "not in plan pro"
    assert page.row("overrides-table", "advisory-sessions")[6] == "beta tester"
    assert "in sync" in page.text("verdict")
    assert page.text("heading") == f"Customer {customer} (looked up as user {user})"


def test_events_are_listed_with_what_became_of_each(pipeline: Pipeline) -> None:
    now = int(time.time())
    customer, _, (checkout, created) = pro_customer(pipeline, now - 60)
    sub = str(created["data"]["object"]["id"])  # type: ignore[index]
    older = build.subscription_event(
        "updated", customer, sub, PRICES["advisory"], created=now - 600
    )
    unhandled = build.envelope(
        "charge.succeeded", {"id": build.new_id("ch"), "object": "charge", "customer": customer}
    )
    for event in (created, older, unhandled):  # created again: a duplicate delivery
        pipeline.post_ok(event)

    page = settled_page(pipeline, customer, 5)
    outcomes = [(row[3], row[5].split()[0]) for row in page.rows("events-table")]
    assert outcomes == [  # newest first
        (unhandled["id"], "not_handled"),
        (older["id"], "superseded"),
        (created["id"], "duplicate"),
        (created["id"], "applied"),
        (checkout["id"], "applied"),
    ]
    assert pipeline.row(customer)["plan"] == "pro"  # type: ignore[index]
    assert "in sync" in page.text("verdict")


def test_invalid_and_dead_lettered_records_are_named(pipeline: Pipeline) -> None:
    customer, _, _ = pro_customer(pipeline, int(time.time()) - 60)
    produce_raw(pipeline, customer, b"not json at all")
    poison = build.subscription_event(
        "updated", customer, build.new_id("sub"), PRICES["pro"], created=2**44
    )  # its version overflows 64 bits: the worker parks it
    produce_raw(pipeline, customer, orjson.dumps(poison), str(poison["id"]))

    def dead_lettered() -> Page | None:
        page = customer_page(pipeline, customer)
        last = page.rows("events-table")[0]
        return page if last[5].startswith("dead_lettered") else None

    page = wait_for(dead_lettered, 45, "the poison record dead-lettered")
    poison_row, garbage_row = page.rows("events-table")[:2]
    assert poison_row[3] == poison["id"]
    assert "Integer exceeds 64-bit range" in poison_row[5]
    assert garbage_row[5].startswith("invalid not a Stripe event")


def test_events_the_worker_has_not_processed_are_pending(pipeline: Pipeline) -> None:
    customer, _, (_, created) = pro_customer(pipeline, int(time.time()) - 60)
    sub = str(created["data"]["object"]["id"])  # type: ignore[index]
    settled_page(pipeline, customer, 2)
    pipeline.stop_service("worker")
    try:
        upgrade = build.subscription_event("updated", customer, sub, PRICES["advisory"])
        pipeline.post_ok(upgrade)
        page = customer_page(pipeline, customer)
        newest = page.rows("events-table")[0]
        assert newest[3] == upgrade["id"]
        assert newest[5].startswith("pending (will be applied)")
        assert "the worker is behind" in page.text("verdict")
    finally:
        pipeline.start_service("worker")
    pipeline.wait_row(customer, plan="advisory", timeout_s=60)
    page = settled_page(pipeline, customer, 3)
    assert page.rows("events-table")[0][5].startswith("applied")


# --- bad input ----------------------------------------------------------------------------


def test_unknown_ids_are_not_found(pipeline: Pipeline) -> None:
    for path, params in (
        ("/admin/customers/cus_nobody_known", {}),
        ("/admin/users/nobody-known", {}),
        ("/admin", {"q": "nobody-known"}),
        ("/admin", {"q": "cus_nobody_known"}),  # a customer id: the page checks the log too
    ):
        response = pipeline.http.get(path, params=params, headers=SERVICE, follow_redirects=True)
        assert response.status_code == 404, (path, params)
        assert "text/html" in response.headers["content-type"]
        assert "nobody" in response.text and "known" in response.text


def test_a_look_up_leads_to_the_customer_page(pipeline: Pipeline) -> None:
    customer, user, _ = pro_customer(pipeline, int(time.time()) - 60)
    for wanted, location in ((customer, f"/admin/customers/{customer}"),
                             (user, f"/admin/users/{user}")):  # fmt: skip
        response = admin_get(pipeline, "/admin", q=wanted)
        assert response.status_code == 303 and response.headers["location"] == location


def test_malformed_ids_are_bad_requests(pipeline: Pipeline) -> None:
    for path in ("/admin/customers/%20cus_padded", "/admin/users/" + "u" * 300,
                 "/admin/customers/cus_%01ctrl"):  # fmt: skip
        response = pipeline.http.get(path, headers=SERVICE)
        assert response.status_code == 400, path
        assert "Malformed" in response.text
    assert admin_get(pipeline, "/admin", q=" padded").status_code == 400


def test_attacker_controlled_fields_are_escaped(pipeline: Pipeline) -> None:
    customer = f"cus_{XSS}"
    sub = f"sub_{XSS}"
    event = build.subscription_event("created", customer, sub, PRICES["pro"], metadata={
        "user_id": f"u_{XSS}"})  # fmt: skip
    event["id"] = f"evt_{XSS}"
    pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro")
    granted = pipeline.cli(
        "grant", "--customer", customer, "--feature", "exports", "--reason", XSS, "--by", "ops"
    )
    assert granted.returncode == 0, granted.stderr

    def with_override() -> str | None:
        html = admin_get(pipeline, f"/admin/customers/{quote(customer, safe='')}").text
        return html if "overrides-table" in html else None

    html = wait_for(with_override, 30, "the override on the page")
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert "<script" not in html
    assert html.count(escaped) >= 5  # customer, user, subscription, event id, reason
    found = admin_get(pipeline, "/admin", q=f"nobody{XSS}")
    assert found.status_code == 404 and "<script" not in found.text and escaped in found.text


# --- outages ------------------------------------------------------------------------------


# api/queries.latest_overrides uses select().distinct(column), deprecated in SQLAlchemy 2.1;
# in this process (unlike the services') warnings are errors.
in_process = pytest.mark.filterwarnings("ignore:Passing expression to ``distinct``")


def _own_ingress(pipeline: Pipeline, **env: str) -> Served:
    """The ingress app in this process, on real HTTP, with some settings changed."""
    changed = {**pipeline.env, **env}
    settings = load_settings(changed, need_webhook_secret=True)
    authenticator = Authenticator(verifiers_from_env(changed))
    return Served(create_app(settings, authenticator=authenticator))


def operator_session(request: Request) -> Principal | None:
    """An application's own sign-in (``ATLAS_AUTH_CALLABLE``) that knows its operators."""
    session = request.headers.get("x-session")
    if session is None:
        return None
    return Principal("user", session, frozenset({"atlas-admin"} if session == "ana" else ()))


@in_process
def test_the_roles_claim_and_a_callable_can_name_operators(pipeline: Pipeline) -> None:
    env = {
        "ATLAS_AUTH_JWT_ROLES_CLAIM": "app_metadata.roles",
        "ATLAS_AUTH_CALLABLE": f"{__name__}:operator_session",
    }
    with _own_ingress(pipeline, **env) as ingress:

        def status(**headers: str) -> int:
            return httpx.get(f"{ingress.url}/admin", headers=headers, timeout=15).status_code

        now = int(time.time())
        claims = {"sub": "ana", "aud": "atlas-tests", "exp": now + 300,
                  "app_metadata": {"roles": ["atlas-admin"]}}  # fmt: skip
        assert status(authorization=f"Bearer {jwt.encode(claims, JWT_SECRET)}") == 200
        assert status(authorization=f"Bearer {token(['atlas-admin'])}") == 403  # not that claim
        assert status(**{"x-session": "ana"}) == 200
        assert status(**{"x-session": "bob"}) == 403


@pytest.fixture
def customer_on_record(pipeline: Pipeline) -> Iterator[str]:
    customer, _, _ = pro_customer(pipeline, int(time.time()) - 60)
    yield customer


@in_process
def test_postgres_down_is_a_503_page(pipeline: Pipeline, customer_on_record: str) -> None:
    dead = f"postgresql://atlas@127.0.0.1:{free_port()}/atlas"
    with _own_ingress(pipeline, DATABASE_URL=dead) as ingress:
        response = httpx.get(
            f"{ingress.url}/admin/customers/{customer_on_record}", headers=SERVICE, timeout=30
        )
    assert response.status_code == 503 and "Postgres did not answer" in response.text
    assert response.headers["retry-after"] == "5"


@in_process
def test_with_the_broker_down_the_page_shows_what_it_has(
    pipeline: Pipeline, customer_on_record: str
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with _own_ingress(pipeline, KAFKA_BOOTSTRAP_SERVERS=dead) as ingress:
        response = httpx.get(  # each broker read gives up after 5 s of silence
            f"{ingress.url}/admin/customers/{customer_on_record}", headers=SERVICE, timeout=30
        )
    assert response.status_code == 200, response.text
    page = Page(response.text)
    assert page.row("features-table", "exports")[1] == "yes"  # from Postgres
    assert "events on stripe.events not read" in response.text
    assert "no verdict" in response.text
