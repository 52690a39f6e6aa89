// @vitest-environment jsdom
import { act, createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEntitlements } from "../src/index.js";
import {
  BillingBanner,
  EntitlementsProvider,
  FeatureGate,
  ManageSubscriptionButton,
  useEntitlements,
} from "../src/react.js";
import { FREE, PAST_DUE, PRO, entitlements, fakeApi, json } from "./fake-api.js";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const REFRESH = 1000;
const MAX_AGE = 5000;
let container;
let root;

beforeEach(() => {
  vi.useFakeTimers();
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(async () => {
  await act(async () => root.unmount());
  container.remove();
  vi.useRealTimers();
});

function clientOf(api) {
  return createEntitlements({
    apiUrl: "/atlas",
    userId: "u 42",
    refreshIntervalMs: REFRESH,
    maxAgeMs: MAX_AGE,
    fetch: api.fetch,
    navigate: vi.fn(),
  });
}

async function render(client, ...children) {
  await act(async () => root.render(h(EntitlementsProvider, { client }, ...children)));
}

async function advance(ms) {
  await act(async () => vi.advanceTimersByTimeAsync(ms));
}

const gate = h(
  FeatureGate,
  { feature: "exports", fallback: h("p", { id: "upgrade" }, "Upgrade to export") },
  h("section", { id: "exports" }, "Export panel"),
);

const text = () => container.textContent;

describe("FeatureGate", () => {
  it("shows the fallback (or `loading`) until the answer grants the feature", async () => {
    let answer;
    const api = fakeApi(() => new Promise((resolve) => (answer = resolve)));
    const client = clientOf(api);
    const loadingGate = h(
      FeatureGate,
      { feature: "exports", fallback: "no", loading: "wait" },
      "yes",
    );
    await render(client, gate, loadingGate);
    expect(text()).toBe("Upgrade to exportwait");
    await act(async () => answer(entitlements(PRO)));
    expect(text()).toBe("Export panelyes");
  });

  it("follows the refreshes: free, then pro after the next read", async () => {
    const api = fakeApi(() => entitlements(FREE));
    await render(clientOf(api), gate);
    expect(container.querySelector("#upgrade")).not.toBeNull();
    api.handler = () => entitlements(PRO);
    await advance(REFRESH);
    expect(container.querySelector("#exports")).not.toBeNull();
    expect(container.querySelector("#upgrade")).toBeNull();
  });

  it("falls back when the first read fails, and when the answer ages past maxAge", async () => {
    const api = fakeApi(() => entitlements(PRO));
    api.down = true;
    await render(clientOf(api), gate);
    expect(text()).toBe("Upgrade to export");
    api.down = false;
    await advance(REFRESH);
    expect(text()).toBe("Export panel");
    api.down = true;
    await advance(MAX_AGE - 1);
    expect(text()).toBe("Export panel"); // the last good answer holds
    await advance(2);
    expect(text()).toBe("Upgrade to export");
  });

  it("stops reading when the provider unmounts", async () => {
    const api = fakeApi();
    await render(clientOf(api), gate);
    await act(async () => root.render(null));
    await advance(REFRESH * 3);
    expect(api.requests).toHaveLength(1);
  });
});

describe("BillingBanner", () => {
  it("appears only while a fresh answer says past_due, with the grace end", async () => {
    const api = fakeApi(() => entitlements(PRO));
    await render(clientOf(api), h(BillingBanner));
    expect(container.querySelector("[role=alert]")).toBeNull();
    api.handler = () => entitlements(PAST_DUE);
    await advance(REFRESH);
    const banner = container.querySelector("[role=alert]");
    expect(banner.dataset.atlasBanner).toBe("past_due");
    expect(banner.textContent).toContain("Your last payment failed");
    expect(banner.textContent).toContain(new Date("2026-12-01T10:00:00Z").toLocaleDateString());
    expect(banner.querySelector("button").textContent).toBe("Update payment method");
    api.down = true;
    await advance(MAX_AGE + 1);
    expect(container.querySelector("[role=alert]")).toBeNull();
  });

  it("takes a message of the app's own", async () => {
    await render(
      clientOf(fakeApi(() => entitlements(PAST_DUE))),
      h(BillingBanner, null, ({ plan }) => `Payment failed on ${plan}`),
    );
    expect(container.querySelector(".atlas-billing-banner-message").textContent).toBe(
      "Payment failed on pro",
    );
  });
});

describe("ManageSubscriptionButton", () => {
  it("posts to the portal and follows the URL", async () => {
    const api = fakeApi((url) =>
      url.endsWith("/portal")
        ? json({ url: "https://billing.stripe.com/p/session/1" })
        : entitlements(PRO),
    );
    const client = clientOf(api);
    await render(client, h(ManageSubscriptionButton));
    const button = container.querySelector("button");
    expect(button.textContent).toBe("Manage subscription");
    await act(async () => button.click());
    expect(api.requests.at(-1)).toMatchObject({ url: "/atlas/v1/billing/portal", method: "POST" });
    expect(client.navigate).toHaveBeenCalledWith("https://billing.stripe.com/p/session/1");
    expect(button.disabled).toBe(true); // the page is leaving
  });

  it("says why when the portal cannot open, or hands the error to onError", async () => {
    const api = fakeApi((url) =>
      url.endsWith("/portal")
        ? json({ error: "no_customer", message: "no customer" }, 409)
        : entitlements(FREE),
    );
    const onError = vi.fn();
    await render(clientOf(api), h(ManageSubscriptionButton), h(ManageSubscriptionButton, { onError }));
    const [own, delegated] = container.querySelectorAll("button");
    await act(async () => own.click());
    expect(container.querySelector("[role=alert]").textContent).toBe(
      "You have no subscription to manage yet.",
    );
    expect(own.disabled).toBe(false);
    await act(async () => delegated.click());
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "no_customer" }));
    expect(container.querySelectorAll("[role=alert]")).toHaveLength(1);
  });
});

describe("useEntitlements", () => {
  it("gives plan, status, banner and checks to the app's own components", async () => {
    function Plan() {
      const { plan, status, hasFeature, limit } = useEntitlements();
      return `${plan}/${status}/${hasFeature("exports")}/${limit("team-seats")}`;
    }
    await render(clientOf(fakeApi(() => entitlements(PRO))), h(Plan));
    expect(text()).toBe("pro/active/true/5");
  });

  it("refuses to work outside a provider", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    function Orphan() {
      useEntitlements();
      return null;
    }
    await expect(act(async () => root.render(h(Orphan)))).rejects.toThrow(/EntitlementsProvider/);
  });
});
