"""The example page (examples/reports_web, built on web/atlas-widgets) in headless Chromium,
against the real pipeline: a user on ``free`` does not see the Exports panel; a signed
``customer.subscription.updated`` to ``pro`` makes it appear at the page's next refresh, with
no reload; a failed payment shows the past-due banner; "Manage subscription" opens the
customer portal Atlas asked Stripe for; with the API down the panel falls back once the last
answer is older than the page's maximum age. Each state is saved as a screenshot in
test-artifacts/web-widgets/ (the path is printed)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests import stripe_builders as build
from tests.support.browser import ROOT, build_page, chromium, chromium_or_skip
from tests.support.example_app import running_example
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.stripe_api import FakeStripeApi

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

USES_STRIPE_API = True
PIPELINE_ENV = {
    "ATLAS_CHECKOUT_SUCCESS_URL": "https://reports.example.com/billing/done",
    "ATLAS_CHECKOUT_CANCEL_URL": "https://reports.example.com/pricing",
    "ATLAS_PORTAL_RETURN_URL": "https://reports.example.com/app/",
}
REFRESH_MS = 1000  # the page's refresh, shortened from 5 minutes
MAX_AGE_MS = 10_000  # and its maximum age, from 10 minutes (room for the "kept" check)
PAGE_TIMEOUT_MS = 20_000  # a webhook takes about a second to reach its row, then one refresh
EXPECT_DEFAULT_MS = 5000  # Playwright's
SCREENSHOTS = ROOT / "test-artifacts" / "web-widgets"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium_or_skip()
    build_page()
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # process-wide: restored below
    try:
        yield from chromium()
    finally:
        expect.set_options(timeout=EXPECT_DEFAULT_MS)


@pytest.fixture(scope="module")
def example(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("example") / "example.log"
    with running_example(pipeline, log) as url:
        yield url


@pytest.fixture
def screenshots(capsys: pytest.CaptureFixture[str]) -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with capsys.disabled():
        print(f"\nscreenshots of the page's states: {SCREENSHOTS}")
    return SCREENSHOTS


def on_plan(pipeline: Pipeline, price: str, created: int) -> tuple[str, str, str]:
    """A customer, their user and subscription, on ``price`` since ``created``."""
    customer, user = build.new_id("cus"), build.new_id("user")
    events = build.subscribed(customer, user, price, created=created)
    for event in events:
        pipeline.post_ok(event)
    pipeline.wait_row(customer, user_id=user, price_id=price)
    return customer, user, events[1]["data"]["object"]["id"]


def api_ready(pipeline: Pipeline) -> bool:
    try:
        return pipeline.api.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def sign_in(page: Page, example: str, user: str) -> None:
    page.goto(f"{example}/app/?refreshMs={REFRESH_MS}&maxAgeMs={MAX_AGE_MS}")
    page.fill("input[name=user_id]", user)
    page.click("text=Sign in")
    expect(page.get_by_test_id("user")).to_have_text(user)


def test_the_backend_answers_only_for_the_signed_in_user(pipeline: Pipeline, example: str) -> None:
    _, user, _ = on_plan(pipeline, PRICES["pro"], int(time.time()) - 60)
    with httpx.Client(base_url=example) as http:
        assert http.get(f"/atlas/v1/users/{user}/entitlements").status_code == 401
        assert http.post("/session", json={"user_id": user}).status_code == 200
        own = http.get(f"/atlas/v1/users/{user}/entitlements")
        assert own.status_code == 200 and own.json()["plan"] == "pro"
        unchanged = http.get(
            f"/atlas/v1/users/{user}/entitlements", headers={"if-none-match": own.headers["etag"]}
        )
        assert unchanged.status_code == 304
        other = http.get("/atlas/v1/users/someone-else/entitlements")
        assert other.status_code == 403 and other.json()["error"] == "forbidden"
        assert http.post("/session", json={"user_id": ""}).status_code == 400


def test_the_page_follows_billing_through_the_pipeline(
    pipeline: Pipeline,
    stripe_api: FakeStripeApi,
    example: str,
    browser: Browser,
    screenshots: Path,
) -> None:
    start = int(time.time()) - 300
    customer, user, subscription = on_plan(pipeline, PRICES["free"], start)
    page = browser.new_page(viewport={"width": 1100, "height": 560})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    exports = page.get_by_test_id("exports-panel")
    upgrade = page.get_by_test_id("exports-fallback")
    banner = page.locator(".atlas-billing-banner")

    sign_in(page, example, user)
    expect(page.get_by_test_id("plan")).to_have_text("free")
    expect(upgrade).to_be_visible()
    expect(exports).to_have_count(0)
    expect(banner).to_have_count(0)
    page.screenshot(path=screenshots / "1-free.png")

    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    pipeline.post_ok(
        build.subscription_event(
            "updated", customer, subscription, PRICES["pro"], created=start + 60
        )
    )
    expect(exports).to_be_visible()
    expect(upgrade).to_have_count(0)
    expect(page.get_by_test_id("plan")).to_have_text("pro")
    assert page.evaluate("window.loadedOnce") is True, "the panel came from a refresh"
    exports.get_by_role("button", name="Open").click()
    expect(exports.locator("pre")).to_contain_text('200 {"report":"q3.csv","plan":"pro"}')
    page.screenshot(path=screenshots / "2-pro.png")

    pipeline.post_ok(
        build.invoice_event(
            "invoice.payment_failed", customer, subscription, PRICES["pro"], created=start + 120
        )
    )
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Your last payment failed")
    expect(exports).to_be_visible()  # pro keeps its features for its grace days
    page.screenshot(path=screenshots / "3-past-due.png")

    page.route(
        re.compile(r"^https://billing\.stripe\.com/"),
        lambda route: route.fulfill(
            content_type="text/html", body="<h1>Stripe customer portal (stand-in)</h1>"
        ),
    )
    page.get_by_role("button", name="Manage subscription").click()
    page.wait_for_url(re.compile(r"^https://billing\.stripe\.com/p/session/bps_test_"))
    portal = [form for path, form in stripe_api.forms if path == "/v1/billing_portal/sessions"]
    assert portal[-1]["customer"] == customer
    page.screenshot(path=screenshots / "4-portal.png")
    page.go_back()
    expect(banner).to_be_visible()

    pipeline.stop_service("api")
    try:
        status = page.get_by_test_id("atlas-status")
        expect(status).to_have_attribute("data-fresh", "true")  # failing, last answer kept
        expect(exports).to_be_visible()
        expect(status).to_have_attribute("data-fresh", "false")  # older than the max age
        expect(upgrade).to_be_visible()
        expect(exports).to_have_count(0)
        expect(banner).to_have_count(0)
        page.screenshot(path=screenshots / "5-api-down.png")
    finally:
        pipeline.start_service("api", "--port", str(pipeline.api_port))
        wait_for(lambda: api_ready(pipeline), 30, "api /readyz after restart")
    expect(exports).to_be_visible()
    expect(page.get_by_test_id("atlas-status")).to_have_count(0)
    page.screenshot(path=screenshots / "6-api-back.png")
    page.close()
