import { type Context, Hono } from 'hono';
import { clientKey } from './address.ts';
import { checkDeclaredLength, ReplayableBody } from './body.ts';
import type { Config } from './config.ts';
import { addCorsHeaders, isPreflight, preflightFields } from './cors.ts';
import { handleDiagnose } from './diagnose.ts';
import { errorResponse, ProxyError } from './errors.ts';
import { hasLooped, requestHeaders, responseHeaders } from './headers.ts';
import { helpHtml, helpText } from './help.ts';
import { METRICS_CONTENT_TYPE, type Metrics } from './metrics.ts';
import { memoryLimiter, mergeRateLimitHeaders, type RateLimiter, rateLimitHeaders } from './rate-limit.ts';
import { parseTarget } from './target.ts';
import { forward, type Upstream } from './upstream.ts';

/** What a request handled by the proxy did, for access logs and metrics. */
export interface RequestRecord {
  readonly method: string;
  /** The client's rate-limit key: its address (an IPv6 client's /64). */
  readonly client: string;
  /** The request's `Origin` header. */
  readonly origin: string | null;
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

/** What handling a request learned, for its record. */
interface Trace {
  target: URL | null;
  upstreamMs: number | null;
}

/** What the runtime lends the app. */
export interface Capabilities {
  /** Sends one request to a target (see upstream.ts). */
  readonly upstream: Upstream;
  /** Where budgets live. @default an in-memory limiter, when CORSWAY_RATE_LIMIT is set */
  readonly limiter?: RateLimiter;
  /** The client's address, as the runtime knows it. */
  readonly clientAddress: (c: Context) => string;
  /** Called once per proxied request, when its response body has ended. @default none */
  readonly log?: (record: RequestRecord) => void;
  /** Counters for `/metrics` (served when `CORSWAY_METRICS` is on). @default none */
  readonly metrics?: Metrics;
  /**
   * Why this instance is degraded (the shared rate-limit store is away), or
   * null. `/healthz` shows it but stays 200: every instance shares that store,
   * so failing the check would take them all out of rotation. @default none
   */
  readonly health?: () => string | null;
}

const REFUSED_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);
/** Statuses whose responses have no body (Fetch standard "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Builds the proxy: one Hono app, the same on every runtime. */
export function createApp(config: Config, caps: Capabilities): Hono {
  const limiter = config.rateLimit ? (caps.limiter ?? memoryLimiter(config.rateLimit)) : null;
  const app = new Hono();

  app.onError((error, c) => errorResponse(asProxyError(error), c.req.header('origin') ?? null));

  app.get('/healthz', (c) => {
    const problem = caps.health?.();
    return c.text(problem ? `degraded: ${problem}` : 'ok');
  });
  // The help page is fetched by people: keep crawlers from indexing proxied sites.
  app.get('/robots.txt', (c) => c.text('User-agent: *\nDisallow: /\n'));
  app.get('/favicon.ico', (c) => c.body(null, 404));

  const { metrics, log } = caps;
  if (config.metrics && metrics) {
    const expected = `Bearer ${config.metricsToken}`;
    app.get('/metrics', (c) => {
      if (!sameText(c.req.header('authorization') ?? '', expected)) {
        return c.text('/metrics needs the bearer token of CORSWAY_METRICS_TOKEN.\n', 401, {
          'www-authenticate': 'Bearer realm="corsway metrics"',
        });
      }
      return c.body(metrics.render(), 200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
    });
  }

  // Before the catch-all: /diagnose/<target> explains what a browser would block (diagnose.ts).
  const diagnose = (c: Context) =>
    handleDiagnose(c, {
      config,
      upstream: caps.upstream,
      checkOrigin: (origin) => checkOrigin(config, origin),
      spendBudget: () => spendBudget(c, c.req.header('origin') ?? null),
    });
  app.get('/diagnose', diagnose);
  app.get('/diagnose/*', diagnose);

  app.all('*', async (c) => {
    const started = Date.now();
    metrics?.requestStarted();
    // Read now: once the client has gone, its socket no longer has an address.
    const client = log || metrics ? clientKey(caps.clientAddress(c)) : '';
    const trace: Trace = { target: null, upstreamMs: null };
    let response: Response;
    let code: string | null = null;
    try {
      response = await handle(c, trace);
    } catch (error) {
      const refusal = asProxyError(error);
      code = refusal.code;
      response = errorResponse(refusal, c.req.header('origin') ?? null);
    }
    if (!log && !metrics) return response;
    const finish = (bytes: number) => {
      const record: RequestRecord = {
        method: c.req.method,
        client,
        origin: c.req.header('origin') ?? null,
        target: (config.logTargetUrl ? trace.target?.href : trace.target?.origin) ?? null,
        status: response.status,
        bytes,
        error: code,
        ms: Date.now() - started,
        upstreamMs: trace.upstreamMs,
      };
      log?.(record);
      metrics?.requestFinished(record);
    };
    if (!response.body) {
      finish(0);
      return response;
    }
    return new Response(counted(response.body, finish), { status: response.status, headers: response.headers });
  });

  async function handle(c: Context, trace: Trace): Promise<Response> {
    const req = c.req.raw;
    const origin = req.headers.get('origin');
    // Everything after the mount point and its slash, query included, as sent.
    // The mount point is '' at the root, '/proxy' under app.route('/proxy', ...),
    // where '/proxy?url=...' has no slash before its query.
    const base = c.req.routePath.replace(/\/?\*$/, '');
    const rawUrl = req.url;
    const pathStart = rawUrl.indexOf('/', rawUrl.indexOf('//') + 2);
    const rest = rawUrl.slice(pathStart + base.length);
    const raw = rest.startsWith('/') ? rest.slice(1) : rest;
    // Behind a TLS-terminating reverse proxy the socket is plain HTTP: the
    // scheme the browser used is the one the operator's proxy says it saw.
    const forwardedProto = config.trustProxy ? c.req.header('x-forwarded-proto')?.split(',').at(-1)?.trim() : undefined;
    const scheme = forwardedProto === 'https' || forwardedProto === 'http' ? `${forwardedProto}:` : '';
    const authority = rawUrl.slice(rawUrl.indexOf(':') + 1, pathStart);
    const proxyBase = (scheme || rawUrl.slice(0, rawUrl.indexOf(':') + 1)) + authority + base;

    const urlParam = raw.startsWith('?') ? new URLSearchParams(raw).get('url') : null;
    // The help page shows the active policy, so it is served to everyone, refused origins included.
    if ((raw === '' || (raw.startsWith('?') && urlParam === null)) && req.method === 'GET') {
      const html = (req.headers.get('accept') ?? '').includes('text/html');
      return html ? c.html(helpHtml(config, proxyBase)) : c.text(helpText(config, proxyBase));
    }

    checkOrigin(config, origin);
    if (isPreflight(req.method, req.headers)) {
      return new Response(null, { status: 204, headers: preflightFields(req.headers, config.maxAge) });
    }

    if (REFUSED_METHODS.has(req.method)) {
      throw new ProxyError('method_not_allowed', `${req.method} requests are not proxied.`);
    }
    if (config.requireHeaders.length > 0 && !config.requireHeaders.some((h) => req.headers.has(h))) {
      throw new ProxyError(
        'missing_header',
        `This proxy requires one of these request headers: ${config.requireHeaders.join(', ')}. Browsers send Origin on cross-origin requests; from other clients, add one of them.`,
      );
    }
    if (hasLooped(req.headers)) {
      throw new ProxyError(
        'loop_detected',
        'This request already passed through this proxy; the target points back at the proxy itself.',
      );
    }

    const limitHeaders = await spendBudget(c, origin);
    const url = parseTarget(urlParam ?? raw);
    trace.target = url;

    let body: ReplayableBody | null = null;
    // Fetch forbids a GET or HEAD request body (workerd's fetch throws, undici drops it).
    // The method is tested first: on Node, reading `body` builds a whole WHATWG Request.
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.body) {
      checkDeclaredLength(req.headers, config.maxBodyBytes);
      body = new ReplayableBody(req.body, config.maxBodyBytes);
    }
    const asked = Date.now();
    const { response: res, url: finalUrl } = await forward(
      caps.upstream,
      { url, method: req.method, headers: requestHeaders(req.headers), body, signal: req.signal },
      { policy: config, maxRedirects: config.maxRedirects, timeoutMs: config.timeoutMs },
    );
    trace.upstreamMs = Date.now() - asked;

    if (res.status < 200 || res.status > 599) {
      await res.body?.cancel();
      throw new ProxyError(
        'upstream_failed',
        `The target answered with status ${res.status}, which cannot be relayed.`,
      );
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (config.maxResponseBytes && declared > config.maxResponseBytes) {
      await res.body?.cancel();
      throw new ProxyError(
        'upstream_failed',
        `The target's response is ${declared} bytes, more than this proxy relays (${config.maxResponseBytes} bytes, CORSWAY_MAX_RESPONSE_BYTES).`,
      );
    }

    const headers = responseHeaders(res.headers);
    const location = headers.get('location');
    // A redirect relayed to the browser must lead back through the proxy.
    if (location && res.status >= 300 && res.status < 400) {
      try {
        headers.set('location', `${proxyBase}/${new URL(location, finalUrl).href}`);
      } catch {}
    }
    headers.set('x-request-url', url.href);
    headers.set('x-final-url', finalUrl.href);
    mergeRateLimitHeaders(headers, limitHeaders);
    addCorsHeaders(headers, origin);

    let resBody = res.body;
    if (NULL_BODY.has(res.status)) {
      await resBody?.cancel();
      resBody = null;
    } else if (resBody && config.maxResponseBytes) {
      resBody = resBody.pipeThrough(byteLimit(config.maxResponseBytes));
    }
    return new Response(resBody, { status: res.status, headers });
  }

  async function spendBudget(c: Context, origin: string | null): Promise<Record<string, string>> {
    if (!limiter || !config.rateLimit) return {};
    const key =
      config.rateLimitBy === 'origin' && origin ? `origin:${origin}` : `ip:${clientKey(caps.clientAddress(c))}`;
    const decision = await limiter.consume(key);
    const headers = rateLimitHeaders(decision, config.rateLimit.windowSeconds);
    if (!decision.allowed) {
      throw new ProxyError(
        'rate_limited',
        `Too many requests: this proxy allows ${decision.limit} per ${config.rateLimit.windowSeconds} s per ${config.rateLimitBy === 'ip' ? 'client address' : 'origin'}. Try again in ${decision.retryAfter} s.`,
        { ...headers, 'retry-after': String(decision.retryAfter) },
      );
    }
    return headers;
  }

  return app;
}

/** Unexpected errors are logged for the operator and shown to the user without details. */
function asProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  console.error(error);
  return new ProxyError('upstream_failed', 'The proxy failed unexpectedly while handling this request.');
}

function checkOrigin(config: Config, origin: string | null): void {
  const blocked = origin !== null && config.blockOrigins?.(origin);
  const allowed = !config.allowOrigins || (origin !== null && config.allowOrigins(origin));
  if (blocked || !allowed) {
    throw new ProxyError(
      'origin_not_allowed',
      origin === null
        ? 'This proxy only serves the web pages its operator allowed, and this request has no Origin header.'
        : `This proxy does not serve pages from ${origin}; its operator allows only certain origins (CORSWAY_ALLOW_ORIGINS, CORSWAY_BLOCK_ORIGINS).`,
    );
  }
}

/** Counted bodies, by the stream handed out: the body inside and the idempotent end. */
const countedBodies = new WeakMap<
  ReadableStream<Uint8Array>,
  { body: ReadableStream<Uint8Array>; end: (bytes: number) => void }
>();

/**
 * For a runtime that sends a counted body by other means (the Node entry
 * pipes a target's socket straight to the client's): the body inside, and
 * what to call once with the bytes sent. The counted stream, still unread,
 * must then be left alone.
 */
export function uncount(
  stream: ReadableStream<Uint8Array>,
): { body: ReadableStream<Uint8Array>; end: (bytes: number) => void } | undefined {
  const entry = countedBodies.get(stream);
  if (!entry || stream.locked) return undefined;
  countedBodies.delete(stream);
  return entry;
}

/**
 * The body as it is read by the client, counted; `done` is called once, when
 * it ended, failed or was cancelled (the client went away). Nothing is read
 * until the client reads, so `uncount` can still hand the body elsewhere.
 */
function counted(body: ReadableStream<Uint8Array>, done: (bytes: number) => void): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let bytes = 0;
  let ended = false;
  const end = (sent: number) => {
    if (ended) return;
    ended = true;
    done(sent);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= body.getReader();
        try {
          const { done: last, value } = await reader.read();
          if (last) {
            end(bytes);
            controller.close();
            return;
          }
          bytes += value.byteLength;
          controller.enqueue(value);
        } catch (error) {
          end(bytes);
          controller.error(error);
        }
      },
      cancel(reason) {
        end(bytes);
        return reader ? reader.cancel(reason) : body.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  countedBodies.set(stream, { body, end });
  return stream;
}

/** Compares secrets in time independent of where they differ. */
function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i) | 0) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Errors the body once more than `max` bytes passed, so the client sees the cut. */
function byteLimit(max: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > max) controller.error(new Error('response larger than CORSWAY_MAX_RESPONSE_BYTES'));
      else controller.enqueue(chunk);
    },
  });
}
