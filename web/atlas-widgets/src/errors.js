/**
 * Why a call to Atlas failed. `code` is stable, for programs: the API's own `error` field
 * (`unknown_user`, `unauthenticated`, `forbidden`, `no_customer`, `billing_not_configured`,
 * `stripe_error`, `database_unavailable`, …), or one of the package's own:
 *
 * - `network`      the request did not reach an answer (server down, DNS, CORS refused)
 * - `timeout`      no answer within `timeoutMs`
 * - `bad_response` an answer that is not the JSON Atlas sends
 * - `http_<status>` an error status whose body names no code (a proxy's 502 page, say)
 *
 * `status` is the HTTP status when there was one; `message` is safe to show a person and
 * never carries a token.
 */
export class AtlasError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{status?: number | null}} [details]
   */
  constructor(code, message, { status = null } = {}) {
    super(message);
    this.name = "AtlasError";
    this.code = code;
    this.status = status;
  }
}
