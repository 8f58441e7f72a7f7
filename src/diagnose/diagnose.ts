import type { Config } from '../config/config.ts';
import { addCorsHeaders } from '../core/cors.ts';
import { errorResponse, ProxyError } from '../core/errors.ts';
import { KEY_HEADER } from '../core/headers.ts';
import { checkOrigin, checkRequest } from '../core/policy.ts';
import type { Upstream } from '../core/upstream.ts';
import { DIAGNOSE_PREFIX, type RequestFacts } from '../routes.ts';
import { diagnosePage } from './page.ts';
import { readQuestion } from './params.ts';
import { diagnoseQuestion } from './probe.ts';
import { FIELDS, type Fields } from './types.ts';

/*
 * GET /diagnose/<target>?origin=...: why would a browser block this request?
 * The request passes the proxy's own rules first (policy.ts, the access key
 * and budget, the target rules), exactly as a proxied request would; then probe.ts asks the
 * target what a browser would and judges the answers (rules/).
 */

export interface DiagnoseDeps {
  readonly config: Config;
  readonly upstream: Upstream;
  /**
   * Checks the request's access key and spends one request of its budget, as
   * a proxied request does: the RateLimit headers to send (CorsProxy.spendBudget).
   */
  readonly spendBudget: (
    client: () => string,
    origin: string | null,
    presentedKey: string | null,
  ) => Promise<Record<string, string>>;
}

/** The page's CSP: nothing loads, nothing runs; the form may only submit here. */
const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** `GET /diagnose[/<target>]`: the form, the page or the JSON. */
export async function handleDiagnose(req: Request, facts: RequestFacts, deps: DiagnoseDeps): Promise<Response> {
  const { config } = deps;
  const requestOrigin = req.headers.get('origin');
  const html = (req.headers.get('accept') ?? '').includes('text/html');
  // The path after /diagnose/ is the target; the query holds the fields.
  const params = new URLSearchParams(facts.query);
  const fields: Fields = {};
  for (const name of FIELDS) {
    const value = params.get(name);
    if (value !== null) fields[name] = value;
  }
  if (facts.target) fields.url = facts.target;
  const action = `${facts.mount}${DIAGNOSE_PREFIX.slice(0, -1)}`;

  let limitHeaders: Record<string, string> = {};
  try {
    checkOrigin(config, requestOrigin);
    if (!fields.url) {
      if (html) return page(diagnosePage({ action, fields, diagnosis: null, error: null }), 200, requestOrigin, {});
      throw new ProxyError(
        'invalid_target',
        `No target URL given. Ask like this: ${facts.base}${DIAGNOSE_PREFIX}https://api.example.com/path?origin=https://app.example.com&method=GET&headers=authorization&credentials=omit`,
      );
    }
    checkRequest(config, req.method, req.headers);
    limitHeaders = await deps.spendBudget(facts.client, requestOrigin, req.headers.get(KEY_HEADER));
    const { question, notes } = readQuestion(fields, requestOrigin);
    const diagnosis = await diagnoseQuestion(question, notes, {
      config,
      upstream: deps.upstream,
      signal: req.signal,
      client: facts.client,
      userAgent: req.headers.get('user-agent'),
      proxyBase: facts.base,
    });
    if (html) return page(diagnosePage({ action, fields, diagnosis, error: null }), 200, requestOrigin, limitHeaders);
    const headers = new Headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    for (const [name, value] of Object.entries(limitHeaders)) headers.set(name, value);
    addCorsHeaders(headers, requestOrigin);
    return new Response(`${JSON.stringify(diagnosis, null, 2)}\n`, { status: 200, headers });
  } catch (error) {
    if (!(error instanceof ProxyError)) throw error;
    if (!html) return errorResponse(error, requestOrigin, limitHeaders);
    const failure = { code: error.code, message: error.message };
    return page(diagnosePage({ action, fields, diagnosis: null, error: failure }), error.status, requestOrigin, {
      ...limitHeaders,
      ...error.headers,
    });
  }
}

/** The proxy's own HTML page: a strict CSP, and nothing of the target's rendered as HTML. */
function page(body: string, status: number, origin: string | null, extra: Record<string, string>): Response {
  const headers = new Headers({
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': PAGE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  addCorsHeaders(headers, origin);
  return new Response(body, { status, headers });
}
