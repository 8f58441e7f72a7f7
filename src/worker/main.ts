import type { Hono } from 'hono';
import { createApp } from '../app.ts';
import { cacheApiStore } from '../cache/cache-api.ts';
import { createCache, maxEntryBytes } from '../cache/layer.ts';
import { ConfigError, type Env, parseConfig } from '../config/config.ts';
import { errorResponse, ProxyError } from '../core/errors.ts';
import { createProxy } from '../core/proxy.ts';
import { withCleanEnd } from './clean-end.ts';
import { devRequest } from './dev.ts';
import { type Handler, workerFront } from './front.ts';
import { workerLimiter } from './limiters.ts';
import { upstream } from './upstream.ts';

/** The client's address, as Cloudflare tells it. */
const clientAddress = (request: Request) => request.headers.get('cf-connecting-ip') ?? '';

/** One app per `env`: the bindings object is the same for every request of an isolate. */
const apps = new WeakMap<object, Handler | ProxyError>();

function build(env: Env): Handler | ProxyError {
  try {
    const config = parseConfig(env);
    const { limiter, bytes, health } = workerLimiter(config, env);
    // Per data centre; coalescing of concurrent misses is per isolate.
    const cache = config.cache
      ? createCache(upstream, { store: cacheApiStore(caches.default), maxEntryBytes: maxEntryBytes(config.cacheBytes) })
      : undefined;
    const proxy = createProxy(config, { upstream: cache?.upstream ?? upstream, limiter, bytes, declaredBodies: true });
    const app: Hono = createApp(config, {
      upstream,
      proxy,
      limiter,
      bytes,
      health,
      clientAddress: (c) => clientAddress(c.req.raw),
      // Cloudflare sets the URL's scheme and CF-Connecting-IP; forwarding headers are the client's own.
      trustProxy: false,
      cache,
    });
    const front = workerFront(proxy, app, clientAddress);
    const cuts = config.maxResponseBytes > 0;
    const serve: Handler = async (request, env, ctx) => {
      const response = await front(request, env, ctx);
      return cuts ? withCleanEnd(response) : response;
    };
    // WRANGLER_DEV comes from .dev.vars, which only wrangler dev reads (see dev.ts).
    if (env.WRANGLER_DEV !== '1') return serve;
    return async (request, env, ctx) => {
      const dev = devRequest(request);
      const response = await serve(dev.request, env, ctx);
      await dev.settled();
      return response;
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return new ProxyError('invalid_config', `The proxy is misconfigured: ${error.problems.join('; ')}`);
  }
}

/** The Durable Object class behind the CORSWAY_BUDGETS binding; Workers finds it among the entry's exports. */
export { RateLimitBudget } from '../limiters/durable.ts';

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    let app = apps.get(env);
    if (!app) {
      app = build(env);
      apps.set(env, app);
    }
    if (app instanceof ProxyError) return errorResponse(app, request.headers.get('origin'));
    return app(request, env, ctx);
  },
};
