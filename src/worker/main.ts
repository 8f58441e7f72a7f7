import type { Hono } from 'hono';
import { createApp } from '../app.ts';
import { cacheApiStore } from '../cache/cache-api.ts';
import { ConfigError, type Env, parseConfig } from '../config/config.ts';
import { errorResponse, ProxyError } from '../core/errors.ts';
import type { Upstream } from '../core/upstream.ts';
import { durableLimiter, type RateLimitBudget } from '../limiters/durable.ts';
import { withFailover } from '../limiters/failover.ts';
import { bindingLimiter, bindingProblem, memoryLimiter, type RateLimitBinding } from '../limiters/rate-limit.ts';

/**
 * Workers' global fetch, told not to follow redirects so each hop is checked.
 * Not fetch-upstream.ts: that one drops Content-Encoding for runtimes that
 * would send the decoded body as it is, whereas workerd compresses a body
 * again for a response that keeps the header, so compression survives here.
 */
const upstream: Upstream = async ({ url, method, headers, body, signal }) => {
  const res = await fetch(url, {
    method,
    headers: headers.pairs(),
    body: body?.stream() ?? null,
    signal,
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, body: res.body };
};

type Handler = (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>;

/** One app per `env`: the bindings object is the same for every request of an isolate. */
const apps = new WeakMap<object, Handler | ProxyError>();

function build(env: Env): Handler | ProxyError {
  try {
    const config = parseConfig(env);
    // With a Rate Limiting binding, Cloudflare decides per location; otherwise memory decides, per isolate.
    // Between the two: with the Durable Object binding (wrangler.toml, on by default), one object per client decides, exactly.
    const binding = env.CORSWAY_RATE_LIMITER as RateLimitBinding | undefined;
    const problem = binding ? bindingProblem(config.rateLimit) : null;
    if (problem) throw new ConfigError([problem]);
    const budgets = env.CORSWAY_BUDGETS as DurableObjectNamespace<RateLimitBudget> | undefined;
    const durable =
      !binding && budgets && config.rateLimit
        ? withFailover(durableLimiter(budgets, config.rateLimit), config.rateLimit, {
            mode: config.rateLimitFailure,
            name: 'Durable Object',
          })
        : undefined;
    const app = createApp(config, {
      upstream,
      limiter: binding && config.rateLimit ? bindingLimiter(binding, memoryLimiter(config.rateLimit)) : durable,
      health: durable?.problem,
      clientAddress: (c) => c.req.header('cf-connecting-ip') ?? '',
      // Per data centre; coalescing of concurrent misses is per isolate.
      cacheStore: config.cache ? cacheApiStore(caches.default) : undefined,
    });
    return (request, env, ctx) => respond(app, config.maxResponseBytes > 0, request, env, ctx);
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

/** Up to this much of a request body left unread is drained; a longer one is cancelled. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * A refusal leaves the request body unread. workerd (seen in wrangler dev)
 * then sometimes fails the connection's next request ("restarted
 * mid-request"), so a small unread body is read to its end once the answer
 * is ready; cancelling it instead breaks the keep-alive connection too.
 */
async function respond(
  app: Hono,
  cutsResponses: boolean,
  request: Request,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> {
  const response = await app.fetch(request, env, ctx);
  if (request.body && !request.bodyUsed && !request.body.locked) await drain(request.body);
  // Only with CORSWAY_MAX_RESPONSE_BYTES does the app error a body itself;
  // otherwise the target's body keeps workerd's native pass-through.
  if (!cutsResponses || !response.body) return response;
  return new Response(endOnError(response.body), response);
}

/**
 * workerd ends a response whose body stream errors as if it were complete
 * anyway, but first reports the error as uncaught, and under load wrangler
 * dev then stalled the next requests for over 20 s (the security catalogue
 * hit it about one run in three). Ending the stream here sends the client
 * the same bytes without that.
 */
function endOnError(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  try {
    for (let read = 0; read <= DRAIN_LIMIT; ) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {}
}
