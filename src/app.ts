import { type Context, Hono } from 'hono';
import { type Cache, createCache, maxEntryBytes } from './cache/layer.ts';
import { memoryStore } from './cache/store.ts';
import type { Config } from './config/config.ts';
import { Abort } from './core/abort.ts';
import { errorResponse, ProxyError } from './core/errors.ts';
import { answerOf, asProxyError, type CorsProxy, checkPreflight, createProxy } from './core/proxy.ts';
import type { RequestRecord } from './core/record.ts';
import { answerResponse, type Relayable } from './core/respond.ts';
import type { Upstream } from './core/upstream.ts';
import { handleDiagnose } from './diagnose/diagnose.ts';
import type { ByteLimiter } from './limiters/bandwidth.ts';
import type { RateLimiter } from './limiters/rate-limit.ts';
import { cacheMetrics, METRICS_CONTENT_TYPE, type Metrics, storeHealth } from './observe/metrics.ts';
import { helpHtml, helpText } from './pages/help.ts';
import { fetchIncoming, fetchLine, type Page, type RequestFacts, requestFacts, servedPages } from './routes.ts';

/** What the runtime lends the app. */
export interface Capabilities {
  /** Sends one request to a target (see core/upstream.ts); the diagnosis uses it too. */
  readonly upstream: Upstream;
  /**
   * The process's one proxy, when the runtime builds it itself (Node: its
   * listener shares it with the app, and so one limiter, one set of metrics
   * and one cache, which it then passes as `cache` too, for /healthz and /metrics).
   * @default one built here from `upstream` (behind `cache` when `CORSWAY_CACHE` is on), `limiter`, `bytes`, `log` and `metrics`
   */
  readonly proxy?: CorsProxy<Relayable>;
  /** Where budgets live. @default an in-memory limiter, when CORSWAY_RATE_LIMIT is set */
  readonly limiter?: RateLimiter;
  /** Where bandwidth budgets live. @default an in-memory store, when a bandwidth limit is set */
  readonly bytes?: ByteLimiter;
  /** The address of the connection's peer, as the runtime knows it. */
  readonly clientAddress: (c: Context) => string;
  /**
   * Whether `X-Forwarded-For`/`-Proto` may name the client and its scheme.
   * @default config.trustProxy (Workers pass false: Cloudflare already set the URL and CF-Connecting-IP)
   */
  readonly trustProxy?: boolean;
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
  /** See ProxyCapabilities.drainUploads: whether the runtime needs refused uploads read before the answer. @default false */
  readonly drainUploads?: boolean;
}

const HTML = 'text/html; charset=UTF-8';

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
  const proxy: CorsProxy<Relayable> =
    caps.proxy ??
    createProxy(config, {
      upstream: cache?.upstream ?? caps.upstream,
      limiter: caps.limiter,
      bytes: caps.bytes,
      log,
      metrics,
      drainUploads: caps.drainUploads,
    });
  const trustProxy = caps.trustProxy ?? config.trustProxy;
  const expected = `Bearer ${config.metricsToken}`;
  const serves = servedPages(config.metrics && metrics !== undefined);

  /** The app's own pages (routes.ts names them), each answering GET and HEAD. */
  const pages: Record<Page, (c: Context, facts: RequestFacts) => Response | Promise<Response>> = {
    healthz: (c) => {
      // The detail (an internal address, an error) goes to the log and /metrics only.
      const status = caps.health?.() ? 'degraded: rate-limit store unreachable' : 'ok';
      if (!cache) return c.text(status);
      const { entries, bytes, hits, misses, coalesced } = cache.stats();
      const held = entries === null ? '' : `entries=${entries} bytes=${bytes} `;
      return c.text(`${status}\ncache: ${held}hits=${hits} misses=${misses} coalesced=${coalesced}\n`);
    },
    // The help page is fetched by people: keep crawlers from indexing proxied sites.
    robots: (c) => c.text('User-agent: *\nDisallow: /\n'),
    favicon: (c) => c.body(null, 404),
    metrics: (c) => {
      if (!sameText(c.req.header('authorization') ?? '', expected)) {
        return c.text('/metrics needs the bearer token of CORSWAY_METRICS_TOKEN.\n', 401, {
          'www-authenticate': 'Bearer realm="corsway metrics"',
        });
      }
      // Served only with counters (servedPages).
      let body = metrics?.render() ?? '';
      if (caps.health) body += storeHealth(caps.health());
      if (cache) body += cacheMetrics(cache.stats());
      return c.body(body, 200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
    },
    diagnose: (c, facts) =>
      handleDiagnose(c.req.raw, facts, { config, upstream: caps.upstream, spendBudget: proxy.spendBudget }),
  };

  const app = new Hono();
  app.onError((error, c) => errorResponse(asProxyError(error), c.req.header('origin') ?? null));

  app.all('*', async (c) => {
    const req = c.req.raw;
    const facts = requestFacts(
      fetchLine(req, {
        // '' at the root, '/proxy' under app.route('/proxy', ...).
        mount: c.req.routePath.replace(/\/?\*$/, ''),
        trustProxy,
        peer: () => caps.clientAddress(c),
        serves,
      }),
    );
    if (facts.kind === 'help') {
      // The help page shows the active policy, so it is served to everyone, refused origins included.
      return (req.headers.get('accept') ?? '').includes('text/html')
        ? c.body(helpHtml(config, facts.base), 200, { 'content-type': HTML })
        : c.text(helpText(config, facts.base));
    }
    if (facts.kind === 'page' && facts.page) {
      if (req.method === 'GET' || req.method === 'HEAD') return pages[facts.page](c, facts);
      const origin = req.headers.get('origin');
      const preflight = checkPreflight(config, req.method, req.headers, origin);
      if (preflight) return new Response(null, { status: 204, headers: preflight.pairs() });
      throw new ProxyError('method_not_allowed', `${facts.path} answers GET and HEAD only, not ${req.method}.`);
    }

    const answer = await answerOf(
      proxy,
      fetchIncoming(req, facts, Abort.following(req.signal), (work) => waitUntil(c, work)),
    );
    return answerResponse(answer, log !== undefined || metrics !== undefined);
  });

  return app;
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
