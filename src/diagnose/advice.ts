import type { Config } from '../config/config.ts';
import { addCorsHeaders, preflightFields } from '../core/cors.ts';
import { ProxyError } from '../core/errors.ts';
import type { HeaderMap } from '../core/fields.ts';
import { responseHeaders } from '../core/headers.ts';
import { checkOrigin } from '../core/policy.ts';
import { headerList } from './params.ts';
import { exposureCheck, SAFELISTED_RESPONSE_HEADERS } from './rules/exposure.ts';
import type { Finding } from './rules/finding.ts';
import { mixedContentCheck } from './rules/mixed-content.ts';
import { isSafelistedMethod, preflightReasons, unsafeHeaderNames } from './rules/request.ts';
import { corsCheck, preflightCheck } from './rules/response.ts';
import type { Fix, ProxySuggestion, Question, Step } from './types.ts';

/* What to change: the headers the target should send, and whether this proxy would do instead. */

export function toHeaders(fields: HeaderMap): Headers {
  const headers = new Headers();
  fields.forEach((value, name) => {
    headers.append(name, value);
  });
  return headers;
}

/** The headers the target would have to send, and what else to change. */
export function fixFor(q: Question, reason: Finding, steps: readonly Step[]): Fix | null {
  if (reason.code === 'forbidden_method') {
    return { message: `No header changes this: use another method than ${q.method}.`, preflight: null, response: {} };
  }
  if (reason.code === 'mixed_content') {
    return {
      message: `Serve the target over https and request https://${q.url.host}${q.url.pathname}${q.url.search}; no CORS header helps while the page is https and the target plain http.`,
      preflight: null,
      response: {},
    };
  }
  const last = steps.at(-1);
  const origin = last?.origin ?? q.origin;
  const credentials = q.credentials === 'include';
  const list = headerList(q.headers, q.contentType);
  const unsafe = unsafeHeaderNames(list);
  const response: Record<string, string> = { 'Access-Control-Allow-Origin': origin };
  if (credentials) response['Access-Control-Allow-Credentials'] = 'true';
  const expose = q.read.filter((n) => !(SAFELISTED_RESPONSE_HEADERS as readonly string[]).includes(n));
  if (expose.length > 0) response['Access-Control-Expose-Headers'] = expose.join(', ');
  response.Vary = 'Origin';

  let preflight: Record<string, string> | null = null;
  if (preflightReasons(q.method, list).length > 0) {
    preflight = { 'Access-Control-Allow-Origin': origin };
    if (!isSafelistedMethod(q.method)) preflight['Access-Control-Allow-Methods'] = q.method;
    if (unsafe.length > 0) preflight['Access-Control-Allow-Headers'] = unsafe.join(', ');
    if (credentials) preflight['Access-Control-Allow-Credentials'] = 'true';
    // Spares the page a preflight per request for ten minutes.
    preflight['Access-Control-Max-Age'] = '600';
    preflight.Vary = 'Origin';
  }

  const where = last?.url ?? q.url.href;
  const parts: string[] = [];
  if (reason.code === 'preflight_redirect') {
    const to = last?.responseHeaders?.location;
    parts.push(
      `Answer the preflight (OPTIONS ${where}) itself, with status 204 and the headers below, instead of redirecting it.${to ? ` If the redirect is intended (to https, or to add a trailing slash), let the page request ${new URL(to, where).href} directly.` : ''}`,
    );
  } else if (reason.code === 'preflight_status') {
    parts.push(
      `Answer the preflight (OPTIONS ${where}) with status 204 (any 2xx) and the headers below, before any authentication or routing rejects it: browsers never send credentials or custom headers with a preflight.`,
    );
  } else {
    parts.push(
      `Have the target send the headers below${preflight ? ' on its answer to the preflight (OPTIONS) and' : ''} on its answer to the ${q.method} request, on error responses too.`,
    );
  }
  if (origin === 'null' && q.origin !== 'null') {
    parts.push(
      `After the cross-origin redirect the browser sends Origin: null, so ${where} must allow ${credentials ? 'null' : '* or null'}; simpler: let the page request ${where} directly.`,
    );
  } else {
    parts.push(
      `Reflect the request's Origin only after checking it against a list of your own sites${credentials ? '' : ', or send * for public data'}; Vary: Origin keeps caches from mixing answers for different origins.`,
    );
  }
  return { message: parts.join(' '), preflight, response };
}

/** The proxy URL, judged by the browser's rules against the headers this proxy sends (cors.ts). */
export function suggestion(
  q: Question,
  run: { readonly config: Config; readonly proxyBase: string },
  last: Headers | null,
): ProxySuggestion {
  const { config } = run;
  const url = `${run.proxyBase}/${q.url.href}`;
  try {
    checkOrigin(config, q.origin);
  } catch (error) {
    if (!(error instanceof ProxyError)) throw error;
    return { url, works: false, message: error.message };
  }
  const findings: Finding[] = [];
  const mixed = mixedContentCheck(q.origin, new URL(run.proxyBase));
  if (mixed) findings.push(mixed);
  const list = headerList(q.headers, q.contentType);
  const unsafe = unsafeHeaderNames(list);
  const preflighted = preflightReasons(q.method, list).length > 0;
  if (preflighted) {
    const asked = new Headers({ origin: q.origin, 'access-control-request-method': q.method });
    if (unsafe.length > 0) asked.set('access-control-request-headers', unsafe.join(','));
    findings.push(
      ...preflightCheck(204, new Headers(preflightFields(asked, config.maxAge).pairs()), {
        origin: q.origin,
        credentials: q.credentials,
        method: q.method,
        unsafeHeaders: unsafe,
      }),
    );
  }
  const relayed = toHeaders(responseHeaders(last ?? new Headers()));
  addCorsHeaders(relayed, q.origin);
  const cors = corsCheck(relayed, q, 'proxy response');
  if (cors) findings.push(cors);
  const hidden = cors ? null : exposureCheck(relayed, q.read, q.credentials);
  if (hidden) findings.push(hidden);
  if (findings[0]) {
    const cookies =
      q.credentials === 'include'
        ? " The proxy carries no cookies: call it with credentials: 'omit' and send a token in a header instead."
        : '';
    return { url, works: false, message: `This proxy would not help either. ${findings[0].message}${cookies}` };
  }
  const required = config.requireHeader;
  const carries = required.includes('origin') || q.headers.some((h) => required.includes(h));
  return {
    url,
    works: true,
    message: `${preflighted ? 'This proxy answers the preflight itself, allows' : 'This proxy allows'} ${q.origin} and exposes every header of the target's response.${required.length > 0 && !carries ? ` It requires one of these request headers: ${required.join(', ')}.` : ''}${operatorNote(config, q.url)}`,
  };
}

/** What the operator's policy means for this target; never a key or a header value. */
function operatorNote(config: Config, url: URL): string {
  const notes: string[] = [];
  if (!config.anonymous) notes.push('It serves only requests with an access key in X-Corsway-Key.');
  const { allowContentTypes: allow, blockContentTypes: block } = config;
  if (allow.length > 0) notes.push(`It relays only responses of these types: ${allow.join(', ')}.`);
  if (block.length > 0) notes.push(`It never relays responses of these types: ${block.join(', ')}.`);
  if (config.targetHeaders.some((entry) => entry.matches(url.hostname.toLowerCase()))) {
    notes.push(`It adds its operator's own headers to requests to ${url.hostname} (CORSWAY_TARGET_HEADERS).`);
  }
  return notes.length > 0 ? ` ${notes.join(' ')}` : '';
}
