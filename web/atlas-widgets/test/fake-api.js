// A stand-in for the Atlas API at the fetch boundary: answers from a handler the test sets,
// records every request, and can hold answers back or fail like a dead server.

export const FREE = {
  user_id: "u 42",
  customer_id: "cus_1",
  plan: "free",
  status: "active",
  features: ["data-exploration"],
  limits: { "data-exploration": 3 },
  feature_bits: 1,
  current_period_end: null,
  cancel_at_period_end: false,
  grace_until: null,
  banner: null,
  version: 100,
};

export const PRO = {
  ...FREE,
  plan: "pro",
  features: ["api-access", "data-exploration", "exports", "team-seats"],
  limits: { "api-access": 10000, "data-exploration": 100, "team-seats": 5 },
  version: 200,
};

export const PAST_DUE = {
  ...PRO,
  status: "past_due",
  banner: "past_due",
  grace_until: "2026-12-01T10:00:00Z",
  version: 300,
};

export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function entitlements(body) {
  return json(body, 200, { etag: `"${body.version}-${body.customer_id}"` });
}

export function fakeApi(handler = () => entitlements(FREE)) {
  const api = {
    requests: [],
    handler,
    down: false,
    fetch: async (url, init) => {
      api.requests.push({ url, ...init, headers: { ...init.headers } });
      if (api.down) throw new TypeError("fetch failed");
      return api.handler(url, init);
    },
  };
  return api;
}

/** Let pending promise callbacks run (fake timers do not advance them). */
export async function settle() {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
