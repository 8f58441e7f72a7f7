/** What a request handled by the proxy did, for access logs and metrics. */
export interface RequestRecord {
  readonly method: string;
  /** The client's rate-limit key: its address (an IPv6 client's /64). */
  readonly client: string;
  /** The request's `Origin` header. */
  readonly origin: string | null;
  /**
   * The fingerprint of the access key used (first 8 hex digits of its
   * SHA-256), never the key; absent for an anonymous request.
   */
  readonly key?: string;
  /**
   * The target's origin; its whole URL only with `CORSWAY_LOG_TARGET_URL` on,
   * since paths and queries may carry secrets.
   */
  readonly target: string | null;
  readonly status: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  /** The refusal code (SPEC), when the proxy refused or failed. */
  readonly error: string | null;
  /** From the request's arrival until its response body ended. */
  readonly ms: number;
  /** Until the target's response headers arrived, redirects included; null when none answered. */
  readonly upstreamMs: number | null;
}
