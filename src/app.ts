import { type Context, Hono } from 'hono';
import { type Cache, createCache, maxEntryBytes } from './cache/layer.ts';
import { memoryStore } from './cache/store.ts';
import type { Config } from './config/config.ts';
import { Abort } from './core/abort.ts';
import { errorResponse } from './core/errors.ts';
import { KEY_HEADER } from './core/keys.ts';
import { asProxyError, checkOrigin, createProxy, forwardedScheme, type RequestRecord } from './core/proxy.ts';
import type { Upstream } from './core/upstream.ts';
import { handleDiagnose } from './diagnose/diagnose.ts';
import type { ByteLimiter } from './limiters/bandwidth.ts';
import type { RateLimiter } from './limiters/rate-limit.ts';
import { cacheMetrics, METRICS_CONTENT_TYPE, type Metrics, storeHealth } from './observe/metrics.ts';

/** What the runtime lends the app. */
export interface Capabilities {
  /** Sends one request to a target (see upstream.ts). */
  readonly upstream: Upstream;
  /** Where budgets live. @default an in-memory limiter, when CORSWAY_RATE_LIMIT is set */
  readonly limiter?: RateLimiter;
  /** Where bandwidth budgets live. @default an in-memory store, when a bandwidth limit is set */
  readonly bytes?: ByteLimiter;
  /** The client's address, as the runtime knows it. */
  readonly clientAddress: (c: Context) => string;
  /** Called once per proxied request, when its response body has ended. @default none */
  readonly log?: (record: RequestRecord) => void;
  /** Counters for `/metrics` (served when `CORSWAY_METRICS` is on). @default none */
  readonly metrics?: Metrics;
  /**
   * Why this instance is degraded (the shared rate-limit store is away), or
   * null. `/healthz` says it is degraded but stays 200: every instance shares
   * that store, so failing the check would take them all out of rotation. The
   * reason itself is shown only in `/metrics`. @default none
   */
  readonly health?: () => string | null;
  /**
   * The shared cache around `upstream`, when `CORSWAY_CACHE` is on: the
   * runtime's own (the Cache API on Workers, one shared with Node's fast path).
   * @default one in process memory bounded by CORSWAY_CACHE_BYTES
   */
  readonly cache?: Cache;
  /** See ProxyCapabilities.declaredBodies. @default false */
  readonly declaredBodies?: boolean;
}

/** The paths the app answers itself, whatever the method; every other path names a target. */
const OWN_PATHS = new Set(['/healthz', '/robots.txt', '/favicon.ico', '/metrics', '/diagnose']);

/** Whether a request path (no query) is one of the app's own pages rather than a target. */
export function isOwnPath(path: string): boolean {
  return OWN_PATHS.has(path) || path.startsWith('/diagnose/');
}

/** Builds the proxy: one Hono app, the same on every runtime. */
export function createApp(config: Config, caps: Capabilities): Hono {
  const { metrics, log } = caps;
  const cache = config.cache
    ? (caps.cache ??
      createCache(caps.upstream, {
        store: memoryStore(config.cacheBytes),
        maxEntryBytes: maxEntryBytes(config.cacheBytes),
      }))
    : null;
  const upstream = cache?.upstream ?? caps.upstream;
  const proxy = createProxy(config, {
    upstream,
    limiter: caps.limiter,
    bytes: caps.bytes,
    log,
    metrics,
    declaredBodies: caps.declaredBodies,
  });
  const app = new Hono();

  app.onError((error, c) => errorResponse(asProxyError(error), c.req.header('origin') ?? null));

  app.get('/healthz', (c) => {
    // The detail (an internal address, an error) goes to the log and /metrics only.
    const status = caps.health?.() ? 'degraded: rate-limit store unreachable' : 'ok';
    if (!cache) return c.text(status);
    const { entries, bytes, hits, misses, coalesced } = cache.stats();
    const held = entries === null ? '' : `entries=${entries} bytes=${bytes} `;
    return c.text(`${status}\ncache: ${held}hits=${hits} misses=${misses} coalesced=${coalesced}\n`);
  });
  // The help page is fetched by people: keep crawlers from indexing proxied sites.
  app.get('/robots.txt', (c) => c.text('User-agent: *\nDisallow: /\n'));
  app.get('/favicon.ico', (c) => c.body(null, 404));

  if (config.metrics && metrics) {
    const expected = `Bearer ${config.metricsToken}`;
    app.get('/metrics', (c) => {
      if (!sameText(c.req.header('authorization') ?? '', expected)) {
        return c.text('/metrics needs the bearer token of CORSWAY_METRICS_TOKEN.\n', 401, {
          'www-authenticate': 'Bearer realm="corsway metrics"',
        });
      }
      let body = caps.health ? metrics.render() + storeHealth(caps.health()) : metrics.render();
      if (cache) body += cacheMetrics(cache.stats());
      return c.body(body, 200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
    });
  }

  // Before the catch-all: /diagnose/<target> explains what a browser would block (diagnose.ts).
  const diagnose = (c: Context) =>
    handleDiagnose(c, {
      config,
      upstream: caps.upstream,
      checkOrigin: (origin) => checkOrigin(config, origin),
      spendBudget: () =>
        proxy.spendBudget(
          () => caps.clientAddress(c),
          c.req.header('origin') ?? null,
          c.req.header(KEY_HEADER) ?? null,
        ),
      client: () => caps.clientAddress(c),
    });
  app.get('/diagnose', diagnose);
  app.get('/diagnose/*', diagnose);

  app.all('*', async (c) => {
    const req = c.req.raw;
    // Everything after the mount point and its slash, query included, as sent.
    // The mount point is '' at the root, '/proxy' under app.route('/proxy', ...),
    // where '/proxy?url=...' has no slash before its query.
    const base = c.req.routePath.replace(/\/?\*$/, '');
    const rawUrl = req.url;
    const pathStart = rawUrl.indexOf('/', rawUrl.indexOf('//') + 2);
    const rest = rawUrl.slice(pathStart + base.length);
    // Behind a TLS-terminating reverse proxy the socket is plain HTTP: the
    // scheme the browser used is the one the operator's proxy says it saw.
    const scheme =
      forwardedScheme(config, c.req.header('x-forwarded-proto')) ?? rawUrl.slice(0, rawUrl.indexOf(':') + 1);
    const answer = await proxy({
      method: req.method,
      target: rest.startsWith('/') ? rest.slice(1) : rest,
      base: scheme + rawUrl.slice(rawUrl.indexOf(':') + 1, pathStart) + base,
      headers: req.headers,
      // On Node, reading `body` builds a whole WHATWG Request: the method is tested first.
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req.body,
      abort: Abort.following(req.signal),
      client: () => caps.clientAddress(c),
      background: (work) => waitUntil(c, work),
    });
    let body = answer.body;
    if (body === null || typeof body === 'string') {
      answer.sent(body === null ? 0 : new TextEncoder().encode(body).byteLength);
      return new Response(body, { status: answer.status, headers: answer.headers.pairs() });
    }
    // A declared length over the limit was refused before sending: only bodies of unknown length are counted.
    if (answer.limit && !answer.headers.has('content-length')) body = body.pipeThrough(byteLimit(answer.limit));
    if (log || metrics || answer.progress) body = counted(body, answer.sent, answer.progress);
    return new Response(body, { status: answer.status, headers: answer.headers.pairs() });
  });

  return app;
}

/**
 * The body as it is read by the client, counted; `done` is called once, when
 * it ended, failed or was cancelled (the client went away).
 */
function counted(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number) => void,
  progress: ((bytes: number) => void) | null,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let bytes = 0;
  let ended = false;
  const end = (sent: number) => {
    if (ended) return;
    ended = true;
    done(sent);
  };
  return new ReadableStream<Uint8Array>(
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
          progress?.(bytes);
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
}

/** Hands work that outlives the response to the Worker's waitUntil; elsewhere (Node) it runs on its own. */
function waitUntil(c: Context, work: Promise<unknown>): void {
  let ctx: { waitUntil(work: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    // Hono throws when the runtime passed no execution context.
  }
  ctx?.waitUntil(work);
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
