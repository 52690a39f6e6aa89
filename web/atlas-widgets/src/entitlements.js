import { AtlasError } from "./errors.js";
import { errorOf, jsonOrNull, send } from "./http.js";

const DEFAULTS = {
  refreshIntervalMs: 5 * 60_000,
  maxAgeMs: 10 * 60_000,
  timeoutMs: 10_000,
  credentials: "same-origin",
};

/**
 * Why a feature check came out as it did; only `granted` allows.
 * @typedef {"granted" | "not_in_plan" | "unknown_user" | "loading" | "unavailable" | "stale"} Reason
 */

/**
 * What the package holds, replaced (never mutated) on every change: React re-renders on it.
 * @typedef {object} Snapshot
 * @property {string} userId
 * @property {Record<string, any> | null} entitlements  the last good answer, even when stale
 * @property {boolean} unknownUser  Atlas answered 404: it has no customer for this user
 * @property {boolean} fresh  a good answer (or the 404) is at most `maxAgeMs` old
 * @property {boolean} refreshing  a request is in flight
 * @property {AtlasError | null} error  the last refresh's failure; null once one succeeds
 * @property {number | null} confirmedAt  when Atlas last confirmed the answer (ms since epoch)
 */

/**
 * Reads `GET {apiUrl}/v1/users/{userId}/entitlements` on `start()` and every
 * `refreshIntervalMs`, keeps the last good answer for `maxAgeMs`, and answers feature checks
 * from it. Everything denies while loading, on error with no good answer, and once the
 * answer is older than `maxAgeMs`.
 */
export class Entitlements {
  /** @type {Snapshot} */
  #snapshot;
  /** @type {Set<() => void>} */
  #listeners = new Set();
  #etag = null;
  #running = false;
  /** @type {Promise<void> | null} */
  #inFlight = null;
  /** @type {AbortController | null} */
  #abort = null;
  #refreshTimer = null;
  #expiryTimer = null;

  /**
   * @param {object} options
   * @param {string} options.apiUrl  where the API is: `https://atlas.example.com`, or a path
   *   of your own origin (`/atlas`) that your backend forwards; `""` for the page's origin
   * @param {string} options.userId  the signed-in user, as Atlas knows them
   * @param {string | (() => string | null | undefined | Promise<string | null | undefined>)} [options.token]
   *   sent as `Authorization: Bearer`; a function is asked before every request
   * @param {RequestCredentials} [options.credentials]  fetch's mode for cookies ("same-origin")
   * @param {Record<string, string>} [options.headers]  more headers on every request
   * @param {number} [options.refreshIntervalMs]  between reads (300000)
   * @param {number} [options.maxAgeMs]  an answer older than this denies (600000)
   * @param {number} [options.timeoutMs]  per request (10000)
   * @param {typeof fetch} [options.fetch]
   * @param {() => number} [options.now]
   * @param {(url: string) => void} [options.navigate]  how `openPortal` follows the redirect
   */
  constructor(options) {
    const settings = { ...DEFAULTS, ...options };
    requireText(settings.userId, "userId");
    if (typeof settings.apiUrl !== "string") throw new TypeError("apiUrl must be a string");
    for (const name of ["refreshIntervalMs", "maxAgeMs", "timeoutMs"]) {
      requirePositive(settings[name], name);
    }
    if (settings.maxAgeMs <= settings.refreshIntervalMs) {
      throw new RangeError("maxAgeMs must be longer than refreshIntervalMs");
    }
    this.userId = settings.userId;
    this.refreshIntervalMs = settings.refreshIntervalMs;
    this.maxAgeMs = settings.maxAgeMs;
    this.transport = {
      apiUrl: settings.apiUrl.replace(/\/+$/, ""),
      token: settings.token ?? null,
      credentials: settings.credentials,
      headers: { ...settings.headers },
      timeoutMs: settings.timeoutMs,
      fetch: settings.fetch ?? ((...args) => globalThis.fetch(...args)),
    };
    this.now = settings.now ?? Date.now;
    this.navigate = settings.navigate ?? ((url) => globalThis.location.assign(url));
    this.#snapshot = Object.freeze({
      userId: this.userId,
      entitlements: null,
      unknownUser: false,
      fresh: false,
      refreshing: false,
      error: null,
      confirmedAt: null,
    });
  }

  /** Read now (the login read), then every `refreshIntervalMs`; resolves after the first
   * read, whatever its outcome (see `getSnapshot().error`). Calling it again does nothing. */
  start() {
    if (this.#running) return this.#inFlight ?? Promise.resolve();
    this.#running = true;
    return this.#cycle();
  }

  /** Stop reading and cancel a read in flight; what is held still ages out. */
  stop() {
    this.#running = false;
    clearTimeout(this.#refreshTimer);
    this.#abort?.abort();
  }

  /** Read now; a read already in flight is shared. Never rejects. */
  refresh() {
    this.#inFlight ??= this.#read().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  /** Called after every change; returns the function that unsubscribes. */
  subscribe = (listener) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** @returns {Snapshot} */
  getSnapshot = () => this.#snapshot;

  /**
   * @param {string} feature
   * @returns {{allowed: boolean, reason: Reason, limit: number | null}}
   *   `limit` is the feature's limit, null for none, 0 when not allowed
   */
  check(feature) {
    const reason = this.#reason(feature);
    if (reason !== "granted") return { allowed: false, reason, limit: 0 };
    const limit = this.#snapshot.entitlements.limits?.[feature];
    return { allowed: true, reason, limit: typeof limit === "number" ? limit : null };
  }

  /** @param {string} feature */
  hasFeature(feature) {
    return this.check(feature).allowed;
  }

  /** The feature's limit: a number, null when the feature has none, 0 when not allowed.
   * @param {string} feature */
  limit(feature) {
    return this.check(feature).limit;
  }

  /** The tier (`free`, `pro`, …); null unless a fresh answer says. */
  get plan() {
    return this.#fresh()?.plan ?? null;
  }

  /** Atlas's status (`active`, `past_due`, `none`, …); null unless a fresh answer says. */
  get status() {
    return this.#fresh()?.status ?? null;
  }

  /** `past_due` while a payment is failing, else null (also when nothing fresh is held). */
  get banner() {
    return this.#fresh()?.banner ?? null;
  }

  /** When a past-due plan's features end (ISO 8601), or null. */
  get graceUntil() {
    return this.#fresh()?.grace_until ?? null;
  }

  /**
   * Ask Atlas for a Stripe customer-portal session and go there (`POST
   * {apiUrl}/v1/billing/portal`, then `navigate(url)`). Rejects with an {@link AtlasError}:
   * `no_customer` for a user who never subscribed, `billing_not_configured`, `stripe_error`…
   * @returns {Promise<string>} the portal URL
   */
  async openPortal() {
    const response = await send(this.transport, "/v1/billing/portal", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (!response.ok) throw await errorOf(response);
    const body = await jsonOrNull(response);
    if (typeof body?.url !== "string") {
      throw new AtlasError("bad_response", "the portal answer has no url", {
        status: response.status,
      });
    }
    this.navigate(body.url);
    return body.url;
  }

  async #cycle() {
    await this.refresh();
    if (!this.#running) return;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => this.#cycle(), this.refreshIntervalMs);
  }

  async #read() {
    this.#abort = new AbortController();
    this.#update({ refreshing: true });
    try {
      const response = await send(this.transport, this.#path(), {
        headers: this.#etag ? { "if-none-match": this.#etag } : {},
        signal: this.#abort.signal,
      });
      await this.#take(response);
    } catch (error) {
      if (this.#abort.signal.aborted) {
        this.#update({ refreshing: false });
        return;
      }
      this.#update({ refreshing: false, error: asAtlasError(error) });
    }
  }

  /** @param {Response} response */
  async #take(response) {
    if (response.status === 304 && this.#snapshot.entitlements) {
      this.#confirm({});
      return;
    }
    if (response.status === 404) {
      const error = await errorOf(response);
      if (error.code === "unknown_user") {
        this.#etag = null;
        this.#confirm({ entitlements: null, unknownUser: true });
        return;
      }
      throw error;
    }
    if (!response.ok) throw await errorOf(response);
    const body = await jsonOrNull(response);
    if (!isEntitlements(body)) {
      throw new AtlasError("bad_response", "the entitlements answer is not Atlas's JSON", {
        status: response.status,
      });
    }
    const held = this.#snapshot.entitlements;
    if (held && held.customer_id === body.customer_id && body.version < held.version) {
      this.#update({ refreshing: false, error: null }); // an older row: keep the newer one
      return;
    }
    this.#etag = response.headers.get("etag");
    this.#confirm({ entitlements: Object.freeze(body), unknownUser: false });
  }

  #confirm(changes) {
    this.#update({ ...changes, refreshing: false, error: null, confirmedAt: this.now() });
    clearTimeout(this.#expiryTimer);
    // Re-render exactly when the answer ages out, even if no read succeeds or fails then.
    this.#expiryTimer = setTimeout(() => this.#update({}), this.maxAgeMs + 1);
    this.#expiryTimer?.unref?.(); // in Node, an ageing answer keeps no process alive
  }

  #update(changes) {
    const next = { ...this.#snapshot, ...changes };
    next.fresh = next.confirmedAt !== null && this.now() - next.confirmedAt <= this.maxAgeMs;
    this.#snapshot = Object.freeze(next);
    for (const listener of [...this.#listeners]) listener();
  }

  #fresh() {
    const { entitlements, confirmedAt } = this.#snapshot;
    if (confirmedAt === null || this.now() - confirmedAt > this.maxAgeMs) return null;
    return entitlements;
  }

  /** @returns {Reason} */
  #reason(feature) {
    const { confirmedAt, error, unknownUser, entitlements } = this.#snapshot;
    if (confirmedAt === null) return error ? "unavailable" : "loading";
    if (this.now() - confirmedAt > this.maxAgeMs) return "stale";
    if (unknownUser) return "unknown_user";
    return entitlements.features.includes(feature) ? "granted" : "not_in_plan";
  }

  #path() {
    return `/v1/users/${encodeURIComponent(this.userId)}/entitlements`;
  }
}

/**
 * @param {ConstructorParameters<typeof Entitlements>[0]} options
 * @returns {Entitlements}
 */
export function createEntitlements(options) {
  return new Entitlements(options);
}

function isEntitlements(body) {
  return (
    body !== null &&
    typeof body === "object" &&
    typeof body.plan === "string" &&
    Array.isArray(body.features) &&
    body.features.every((feature) => typeof feature === "string") &&
    typeof body.version === "number"
  );
}

function asAtlasError(error) {
  return error instanceof AtlasError
    ? error
    : new AtlasError("network", `reading entitlements failed: ${error?.message ?? error}`);
}

function requireText(value, name) {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string`);
  }
}

function requirePositive(value, name) {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number of milliseconds`);
  }
}
