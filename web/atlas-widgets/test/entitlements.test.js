import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AtlasError, createEntitlements } from "../src/index.js";
import { FREE, PAST_DUE, PRO, entitlements, fakeApi, json, settle } from "./fake-api.js";

const REFRESH = 1000;
const MAX_AGE = 5000;

function make(api, options = {}) {
  return createEntitlements({
    apiUrl: "https://atlas.test/",
    userId: "u 42",
    refreshIntervalMs: REFRESH,
    maxAgeMs: MAX_AGE,
    fetch: api.fetch,
    navigate: vi.fn(),
    ...options,
  });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("reading", () => {
  it("reads on start with the host app's credentials and answers from it", async () => {
    const api = fakeApi();
    const client = make(api, { token: "jwt-1", headers: { "x-app": "reports" } });
    await client.start();
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request.url).toBe("https://atlas.test/v1/users/u%2042/entitlements");
    expect(request.headers.authorization).toBe("Bearer jwt-1");
    expect(request.headers["x-app"]).toBe("reports");
    expect(request.credentials).toBe("same-origin");
    expect(request.cache).toBe("no-store");
    expect(client.hasFeature("data-exploration")).toBe(true);
    expect(client.hasFeature("exports")).toBe(false);
    expect(client.check("exports").reason).toBe("not_in_plan");
    expect(client.limit("data-exploration")).toBe(3);
    expect([client.plan, client.status, client.banner]).toEqual(["free", "active", null]);
    client.stop();
  });

  it("asks a token function before every request, so a renewed token is used", async () => {
    const api = fakeApi();
    let issued = 0;
    const client = make(api, { token: async () => `jwt-${++issued}`, credentials: "include" });
    await client.start();
    await vi.advanceTimersByTimeAsync(REFRESH);
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(["Bearer jwt-1", "Bearer jwt-2"]);
    expect(api.requests[0].credentials).toBe("include");
    client.stop();
  });

  it("sends no authorization header without a token (cookies only)", async () => {
    const api = fakeApi();
    const client = make(api, { apiUrl: "/atlas" });
    await client.refresh();
    expect(api.requests[0].url).toBe("/atlas/v1/users/u%2042/entitlements");
    expect(api.requests[0].headers).not.toHaveProperty("authorization");
  });

  it("denies everything while the first read is in flight", async () => {
    let answer;
    const api = fakeApi(() => new Promise((resolve) => (answer = resolve)));
    const client = make(api);
    const started = client.start();
    await settle();
    expect(client.check("data-exploration")).toEqual({ allowed: false, reason: "loading", limit: 0 });
    expect(client.getSnapshot().refreshing).toBe(true);
    expect(client.plan).toBeNull();
    answer(entitlements(FREE));
    await started;
    expect(client.hasFeature("data-exploration")).toBe(true);
    client.stop();
  });

  it("refreshes every interval, revalidating with the ETag; 304 keeps the answer fresh", async () => {
    const api = fakeApi();
    const client = make(api);
    await client.start();
    api.handler = () => new Response(null, { status: 304 });
    await vi.advanceTimersByTimeAsync(REFRESH);
    expect(api.requests[1].headers["if-none-match"]).toBe('"100-cus_1"');
    await vi.advanceTimersByTimeAsync(MAX_AGE);
    expect(client.getSnapshot().fresh).toBe(true);
    expect(client.hasFeature("data-exploration")).toBe(true);

    api.handler = () => entitlements(PRO);
    await vi.advanceTimersByTimeAsync(REFRESH);
    expect(client.hasFeature("exports")).toBe(true);
    expect(client.limit("team-seats")).toBe(5);
    expect(client.plan).toBe("pro");
    client.stop();
  });

  it("exposes the past-due banner and grace end", async () => {
    const client = make(fakeApi(() => entitlements(PAST_DUE)));
    await client.refresh();
    expect([client.status, client.banner, client.graceUntil]).toEqual([
      "past_due",
      "past_due",
      "2026-12-01T10:00:00Z",
    ]);
  });

  it("gives null for a granted feature without a limit and 0 for a denied one", async () => {
    const client = make(fakeApi(() => entitlements(PRO)));
    await client.refresh();
    expect(client.limit("exports")).toBeNull();
    expect(client.limit("advisory-sessions")).toBe(0);
  });

  it("keeps a newer answer over an older version of the same customer's row", async () => {
    const api = fakeApi(() => entitlements(PRO));
    const client = make(api);
    await client.refresh();
    api.handler = () => entitlements(FREE);
    await client.refresh();
    expect(client.plan).toBe("pro");
    expect(client.getSnapshot().error).toBeNull();
  });

  it("stops reading on stop()", async () => {
    const api = fakeApi();
    const client = make(api);
    await client.start();
    client.stop();
    await vi.advanceTimersByTimeAsync(REFRESH * 3);
    expect(api.requests).toHaveLength(1);
  });

  it("shares a read already in flight", async () => {
    const api = fakeApi();
    const client = make(api);
    await Promise.all([client.refresh(), client.refresh()]);
    expect(api.requests).toHaveLength(1);
  });
});

describe("deny on trouble", () => {
  it("keeps the last good answer through failures, then denies once it is older than maxAge", async () => {
    const api = fakeApi(() => entitlements(PRO));
    const client = make(api);
    const changes = vi.fn();
    client.subscribe(changes);
    await client.start();
    api.down = true;
    await vi.advanceTimersByTimeAsync(REFRESH);
    expect(client.getSnapshot().error).toBeInstanceOf(AtlasError);
    expect(client.getSnapshot().error.code).toBe("network");
    expect(client.hasFeature("exports")).toBe(true);

    await vi.advanceTimersByTimeAsync(MAX_AGE - REFRESH);
    expect(client.hasFeature("exports")).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.check("exports")).toEqual({ allowed: false, reason: "stale", limit: 0 });
    expect([client.plan, client.banner]).toEqual([null, null]);
    expect(client.getSnapshot().fresh).toBe(false);
    expect(client.getSnapshot().entitlements.plan).toBe("pro"); // kept, but not used

    api.down = false;
    await vi.advanceTimersByTimeAsync(REFRESH);
    expect(client.hasFeature("exports")).toBe(true);
    client.stop();
  });

  it("announces the moment an answer ages out, with no read to trigger it", async () => {
    const client = make(fakeApi());
    await client.refresh();
    const changes = vi.fn(() => client.getSnapshot().fresh);
    client.subscribe(changes);
    await vi.advanceTimersByTimeAsync(MAX_AGE + 1);
    expect(changes).toHaveBeenCalledTimes(1);
    expect(changes).toHaveLastReturnedWith(false);
  });

  it("denies as unavailable when the first read fails", async () => {
    const api = fakeApi();
    api.down = true;
    const client = make(api);
    await client.start();
    expect(client.check("data-exploration").reason).toBe("unavailable");
    expect(client.getSnapshot().error.message).toMatch(/cannot be reached/);
    client.stop();
  });

  it("names the API's error code, or the status when the body has none", async () => {
    const api = fakeApi(() =>
      json({ error: "unauthenticated", message: "token expired" }, 401, {
        "www-authenticate": "Bearer",
      }),
    );
    const client = make(api);
    await client.refresh();
    expect(client.getSnapshot().error).toMatchObject({
      code: "unauthenticated",
      status: 401,
      message: "token expired",
    });
    api.handler = () => new Response("<html>Bad gateway</html>", { status: 502 });
    await client.refresh();
    expect(client.getSnapshot().error).toMatchObject({ code: "http_502", status: 502 });
    expect(client.hasFeature("data-exploration")).toBe(false);
  });

  it("refuses an answer that is not Atlas's JSON", async () => {
    const client = make(fakeApi(() => json({ plan: "pro", features: "exports" })));
    await client.refresh();
    expect(client.getSnapshot().error.code).toBe("bad_response");
    expect(client.hasFeature("exports")).toBe(false);
  });

  it("says unknown_user when Atlas has no customer for the user", async () => {
    const client = make(
      fakeApi(() => json({ error: "unknown_user", message: "Atlas knows no customer" }, 404)),
    );
    await client.refresh();
    expect(client.check("data-exploration").reason).toBe("unknown_user");
    expect(client.getSnapshot()).toMatchObject({ unknownUser: true, error: null, fresh: true });
    expect(client.plan).toBeNull();
  });

  it("gives up on a request after timeoutMs", async () => {
    const api = fakeApi(
      (_url, init) =>
        new Promise((_resolve, reject) =>
          init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
        ),
    );
    const client = make(api, { timeoutMs: 300 });
    const read = client.refresh();
    await vi.advanceTimersByTimeAsync(300);
    await read;
    expect(client.getSnapshot().error).toMatchObject({ code: "timeout" });
  });
});

describe("options", () => {
  it.each([
    [{ userId: "" }, /userId/],
    [{ userId: undefined }, /userId/],
    [{ apiUrl: undefined }, /apiUrl/],
    [{ refreshIntervalMs: 0 }, /refreshIntervalMs/],
    [{ maxAgeMs: Number.NaN }, /maxAgeMs/],
    [{ timeoutMs: -1 }, /timeoutMs/],
    [{ refreshIntervalMs: 5000, maxAgeMs: 5000 }, /longer than refreshIntervalMs/],
  ])("refuses %o", (bad, message) => {
    expect(() => make(fakeApi(), bad)).toThrow(message);
  });

  it("defaults to a read every 5 minutes and a maximum age of 10", () => {
    const client = createEntitlements({ apiUrl: "", userId: "u" });
    expect([client.refreshIntervalMs, client.maxAgeMs]).toEqual([300_000, 600_000]);
  });
});

describe("portal", () => {
  it("posts to the portal endpoint and follows the URL it answers", async () => {
    const api = fakeApi(() => json({ url: "https://billing.stripe.com/p/session/x" }));
    const client = make(api, { token: "jwt-1" });
    await expect(client.openPortal()).resolves.toBe("https://billing.stripe.com/p/session/x");
    const [request] = api.requests;
    expect(request.url).toBe("https://atlas.test/v1/billing/portal");
    expect([request.method, request.body, request.headers.authorization]).toEqual([
      "POST",
      "{}",
      "Bearer jwt-1",
    ]);
    expect(client.navigate).toHaveBeenCalledWith("https://billing.stripe.com/p/session/x");
  });

  it("rejects with the API's code and goes nowhere", async () => {
    const client = make(fakeApi(() => json({ error: "no_customer", message: "no" }, 409)));
    await expect(client.openPortal()).rejects.toMatchObject({ code: "no_customer", status: 409 });
    expect(client.navigate).not.toHaveBeenCalled();
  });

  it("rejects an answer without a url", async () => {
    const client = make(fakeApi(() => json({})));
    await expect(client.openPortal()).rejects.toMatchObject({ code: "bad_response" });
  });
});
