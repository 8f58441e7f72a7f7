import type { Hono } from 'hono';
import { Abort } from '../core/abort.ts';
import { errorResponse, ProxyError } from '../core/errors.ts';
import { answerOf, asProxyError, type CorsProxy } from '../core/proxy.ts';
import { answerResponse, type Relayable } from '../core/respond.ts';
import { fetchIncoming, fetchLine, type RequestFacts, requestFacts, servedPages } from '../routes.ts';

/** A Worker's fetch handler. */
export type Handler = (request: Request, env: unknown, ctx: ExecutionContext) => Promise<Response>;

/**
 * The Worker's front door, as node/listener.ts is Node's: a proxied request
 * goes from the front door straight to the proxy, without Hono's routing and
 * context (about a tenth of a small request's CPU, docs/decisions/worker-cpu.md);
 * the app's own pages and the help page go to `app`, which shares `proxy`.
 */
export function workerFront(proxy: CorsProxy<Relayable>, app: Hono, peer: (request: Request) => string): Handler {
  // The Worker keeps no counters: /metrics is never served (as createApp decides without metrics).
  const serves = servedPages(false);
  return async (request, env, ctx) => {
    const origin = request.headers.get('origin');
    let facts: RequestFacts;
    try {
      facts = requestFacts(
        fetchLine(request, {
          trustProxy: false,
          peer: () => peer(request),
          serves,
        }),
      );
    } catch (error) {
      if (!(error instanceof ProxyError)) throw error;
      return errorResponse(error, origin);
    }
    if (facts.kind !== 'target') return app.fetch(request, env, ctx);
    try {
      // Not request.signal: without the enable_request_signal flag it never fires, and following
      // it cost about a tenth of a small request's CPU; workerd cancels a request's subrequests
      // itself when its client goes away.
      const answer = await answerOf(
        proxy,
        fetchIncoming(request, facts, new Abort(), (work) => ctx.waitUntil(work)),
      );
      return answerResponse(answer, false);
    } catch (error) {
      return errorResponse(asProxyError(error), origin);
    }
  };
}
