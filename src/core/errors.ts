import { addCorsHeaders } from './cors.ts';
import { Fields } from './fields.ts';

/** The refusal codes of the SPEC, with the status each one is answered with. */
export const ERROR_STATUS = {
  invalid_target: 400,
  missing_header: 400,
  origin_not_allowed: 403,
  target_not_allowed: 403,
  key_required: 401,
  key_invalid: 401,
  content_not_allowed: 403,
  method_not_allowed: 405,
  request_timeout: 408,
  body_too_large: 413,
  rate_limited: 429,
  headers_too_large: 431,
  invalid_config: 500,
  upstream_failed: 502,
  upstream_timeout: 504,
  loop_detected: 508,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Every refusal the proxy makes is one of these. `message` is shown to the
 * person debugging their app, so it says what happened and what to do.
 */
export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Headers the refusal carries besides the CORS ones (`Retry-After` ...). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = headers;
  }
}

/** Finds a ProxyError thrown deep inside a fetch stack (undici wraps errors in `cause`). */
export function findProxyError(error: unknown): ProxyError | undefined {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    if (e instanceof ProxyError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The one place a refusal becomes an answer: the SPEC's JSON body, its status,
 * its own headers, and CORS headers so the page can read all of it.
 */
export function refusal(
  error: ProxyError,
  origin: string | null,
  extra?: Readonly<Record<string, string>>,
): { status: number; headers: Fields; body: string } {
  const headers = new Fields(extra);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
  addCorsHeaders(headers, origin);
  return { status: error.status, headers, body: JSON.stringify({ error: error.code, message: error.message }) };
}

/** The refusal as a WHATWG Response. */
export function errorResponse(
  error: ProxyError,
  origin: string | null,
  extra?: Readonly<Record<string, string>>,
): Response {
  const { status, headers, body } = refusal(error, origin, extra);
  return new Response(body, { status, headers: headers.pairs() });
}
