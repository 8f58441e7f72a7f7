/**
 * A test-only Worker that exposes the Durable Object store to the limiter
 * contract: POST /consume {key, spec} answers the decision as JSON. Run by
 * `wrangler dev --config test/limiters/durable/wrangler.toml`.
 */
import type { RateLimitSpec } from '../../../src/config/config.ts';
import { durableLimiter, type RateLimitBudget } from '../../../src/limiters/durable.ts';

export { RateLimitBudget } from '../../../src/limiters/durable.ts';

interface Env {
  readonly CORSWAY_BUDGETS: DurableObjectNamespace<RateLimitBudget>;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/healthz') return new Response('ok');
    if (pathname !== '/consume' || request.method !== 'POST') return new Response('not found', { status: 404 });
    const { key, spec } = (await request.json()) as { key: string; spec: RateLimitSpec };
    return Response.json(await durableLimiter(env.CORSWAY_BUDGETS, spec).consume(key));
  },
};
