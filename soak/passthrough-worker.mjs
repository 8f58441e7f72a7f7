import { DurableObject } from 'cloudflare:workers';

/*
 * The soak's control (`--passthrough`): the target from the path, fetched with
 * the client's request, nothing else of corsway's (no CORS, policy, streams of
 * its own). Unlike bench/passthrough-worker.mjs it gives up on headers after
 * the soak's CORSWAY_TIMEOUT_MS, as the proxy does, and answers 502 for a
 * failed fetch: else stalled and broken targets would pile up connections of
 * the control's own making. With CORSWAY_BUDGETS bound (`--passthrough
 * budgets`), each request first writes one value in a Durable Object named
 * after its origin, as corsway's budgets do, and no more. What its workerd
 * grows by is workerd's.
 */
const HEADER_TIMEOUT_MS = 1_000;

export class RateLimitBudget extends DurableObject {
  touch() {
    this.ctx.storage.kv.put('tat', Date.now());
  }
}

export default {
  async fetch(request, env) {
    const budgets = env.CORSWAY_BUDGETS;
    if (budgets) await budgets.get(budgets.idFromName(request.headers.get('origin') ?? '')).touch();
    const url = new URL(request.url);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), HEADER_TIMEOUT_MS);
    try {
      const { method, headers, body } = request;
      return await fetch(url.pathname.slice(1) + url.search, { method, headers, body, signal: abort.signal });
    } catch {
      return new Response(null, { status: 502 });
    } finally {
      clearTimeout(timer);
    }
  },
};
