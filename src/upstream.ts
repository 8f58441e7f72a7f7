import type { ReplayableBody } from './body.ts';
import { findProxyError, ProxyError } from './errors.ts';
import { checkTarget, type TargetPolicy } from './target.ts';

/** One request to a target, exactly as to be sent: redirects are not followed. */
export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
  readonly signal: AbortSignal;
}

/** The target's answer. The body streams; compressed bytes may pass untouched. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
}

/**
 * How the runtime talks to targets. Node's refuses non-public addresses at
 * connect time; Workers' is the global fetch. Tests pass their own.
 */
export type Upstream = (request: UpstreamRequest) => Promise<UpstreamResponse>;

export interface ForwardOptions {
  readonly policy: TargetPolicy;
  readonly maxRedirects: number;
  readonly timeoutMs: number;
}

export interface Forwarded {
  readonly response: UpstreamResponse;
  /** The URL that answered, after redirects. */
  readonly url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers describing a body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/**
 * Sends the request and follows redirects itself, so every hop passes the same
 * target checks. 301/302/303 turn POST into GET as browsers do; other hops
 * replay the body when it could be kept, and are relayed to the client otherwise.
 */
export async function forward(
  upstream: Upstream,
  first: { url: URL; method: string; headers: Headers; body: ReplayableBody | null; signal: AbortSignal },
  options: ForwardOptions,
): Promise<Forwarded> {
  // One controller, aborted by the timer or by the client going away: cheaper
  // per request than AbortSignal.any, which Node 20 tracks with weak references.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const clientGone = () => controller.abort(first.signal.reason);
  if (first.signal.aborted) clientGone();
  else first.signal.addEventListener('abort', clientGone, { once: true });
  // An upload past CORSWAY_MAX_BODY_BYTES aborts the hop (see ReplayableBody.overflow).
  first.body?.overflow.addEventListener('abort', () => controller.abort(first.body?.error), { once: true });
  const signal = controller.signal;
  let { url, method, headers, body } = first;
  try {
    for (let hop = 0; ; hop++) {
      checkTarget(url, options.policy);
      const response = await upstream({ url, method, headers, body: body?.stream() ?? null, signal });
      // A runtime may end the upload cleanly when the body stream errors
      // (workerd does), so a target can answer a body the proxy cut off.
      if (body?.error) {
        await response.body?.cancel();
        throw body.error;
      }
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || location === null) return { response, url };

      // Fetch standard, HTTP-redirect fetch step 12: 301/302 turn POST, and 303
      // turns anything but GET/HEAD, into a GET without body; the rest keep both.
      const toGet =
        ((response.status === 301 || response.status === 302) && method === 'POST') ||
        (response.status === 303 && method !== 'GET' && method !== 'HEAD');
      if (!toGet && body && !body.replayable) return { response, url };
      if (hop >= options.maxRedirects) {
        await response.body?.cancel();
        throw new ProxyError(
          'upstream_failed',
          `The target redirected more than ${options.maxRedirects} times (CORSWAY_MAX_REDIRECTS); it may be a redirect loop.`,
        );
      }
      await response.body?.cancel();
      const next = resolveLocation(location, url);
      headers = new Headers(headers);
      if (next.origin !== url.origin) headers.delete('authorization');
      if (toGet) {
        method = 'GET';
        body?.discard();
        body = null;
        for (const name of BODY_HEADERS) headers.delete(name);
      }
      url = next;
    }
  } catch (error) {
    // The 413 waits until the rest of the upload arrived (bounded): answering
    // while the client still sends lets the connection be reset under it
    // (workerd does), and the client never reads its 413.
    await first.body?.settle(5_000);
    throw upstreamError(error, { timedOut, body: first.body, timeoutMs: options.timeoutMs });
  } finally {
    clearTimeout(timer);
  }
}

function resolveLocation(location: string, base: URL): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new ProxyError('upstream_failed', 'The target redirected to a Location that is not a valid URL.');
  }
}

/** Network error codes, in words that put the blame where it belongs. */
const FAILURES: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'closed the connection unexpectedly',
  EPIPE: 'closed the connection unexpectedly',
  UND_ERR_SOCKET: 'closed the connection unexpectedly',
  ENOTFOUND: 'has a host name that does not resolve (DNS lookup failed)',
  EAI_AGAIN: 'could not be looked up in DNS right now',
  ETIMEDOUT: 'did not accept the connection in time',
  EHOSTUNREACH: 'is unreachable from the proxy',
  ENETUNREACH: 'is unreachable from the proxy',
  HPE_INVALID_CONSTANT: 'sent a malformed HTTP response',
  HPE_INVALID_HEADER_TOKEN: 'sent a malformed HTTP response header',
  HPE_INVALID_STATUS: 'sent an invalid HTTP status line',
  UND_ERR_INVALID_ARG: 'sent a response the proxy cannot relay',
};

function describe(error: unknown): string {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (FAILURES[code]) return FAILURES[code];
      if (/CERT|TLS|SSL/.test(code)) return 'failed the TLS handshake (its certificate could not be verified)';
    }
    e = (e as { cause?: unknown }).cause;
  }
  return 'could not be reached';
}

function upstreamError(
  error: unknown,
  context: { timedOut: boolean; body: ReplayableBody | null; timeoutMs: number },
): unknown {
  if (context.body?.error) return context.body.error;
  const known = findProxyError(error);
  if (known) return known;
  if (context.timedOut) {
    return new ProxyError(
      'upstream_timeout',
      `The target sent no response within ${context.timeoutMs} ms (CORSWAY_TIMEOUT_MS). It may be down or slow; try again later.`,
    );
  }
  return new ProxyError(
    'upstream_failed',
    `The target ${describe(error)}. The problem is on the target's side, not in your request to the proxy.`,
  );
}
