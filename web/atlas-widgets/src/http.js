import { AtlasError } from "./errors.js";

/**
 * One request to Atlas with the host app's credentials: a bearer token (a string, or a
 * function giving one, possibly async, asked before every request so it can be renewed),
 * the fetch `credentials` mode for cookies, and any extra headers.
 *
 * @typedef {object} Transport
 * @property {string} apiUrl
 * @property {string | (() => string | null | undefined | Promise<string | null | undefined>) | null} token
 * @property {RequestCredentials} credentials
 * @property {Record<string, string>} headers
 * @property {number} timeoutMs
 * @property {typeof fetch} fetch
 */

/**
 * @param {Transport} transport
 * @param {string} path  starts with `/`
 * @param {{method?: string, headers?: Record<string, string>, body?: string, signal?: AbortSignal}} [init]
 * @returns {Promise<Response>}  any status; throws {@link AtlasError} only when no answer came
 */
export async function send(transport, path, init = {}) {
  const headers = { accept: "application/json", ...transport.headers, ...init.headers };
  const token = typeof transport.token === "function" ? await transport.token() : transport.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const abort = () => controller.abort(init.signal?.reason);
  init.signal?.addEventListener("abort", abort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, transport.timeoutMs);
  try {
    return await transport.fetch(transport.apiUrl + path, {
      method: init.method ?? "GET",
      headers,
      body: init.body,
      credentials: transport.credentials,
      cache: "no-store", // the package revalidates with If-None-Match itself
      signal: controller.signal,
    });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    if (timedOut) {
      throw new AtlasError("timeout", `Atlas did not answer within ${transport.timeoutMs} ms`);
    }
    throw new AtlasError("network", `Atlas cannot be reached: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
    init.signal?.removeEventListener("abort", abort);
  }
}

/**
 * The {@link AtlasError} an error answer stands for: the API's `{"error", "message"}` when
 * the body has them, else `http_<status>`.
 *
 * @param {Response} response
 * @returns {Promise<AtlasError>}
 */
export async function errorOf(response) {
  const body = await jsonOrNull(response);
  if (body && typeof body.error === "string") {
    const message = typeof body.message === "string" ? body.message : body.error;
    return new AtlasError(body.error, message, { status: response.status });
  }
  return new AtlasError(`http_${response.status}`, `Atlas answered HTTP ${response.status}`, {
    status: response.status,
  });
}

/**
 * @param {Response} response
 * @returns {Promise<any>}
 */
export async function jsonOrNull(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}
