import type { Context } from 'hono';
import type { Config } from '../config/config.ts';
import { Abort } from '../core/abort.ts';
import { addCorsHeaders, preflightFields } from '../core/cors.ts';
import { errorResponse, ProxyError } from '../core/errors.ts';
import { Fields as FieldList, type HeaderMap } from '../core/fields.ts';
import { hasLooped, responseHeaders, VIA_TOKEN } from '../core/headers.ts';
import { parseTarget } from '../core/target.ts';
import { forward, type Upstream } from '../core/upstream.ts';
import {
  type Credentials,
  corsCheck,
  exposureCheck,
  type Finding,
  isForbiddenRequestHeader,
  isSafelistedMethod,
  isToken,
  methodCheck,
  mixedContentCheck,
  preflightCheck,
  preflightReasons,
  REDIRECT_STATUSES,
  SAFELISTED_RESPONSE_HEADERS,
  unsafeHeaderNames,
} from './cors-rules.ts';
import { diagnosePage } from './page.ts';

/*
 * GET /diagnose/<target>?origin=...: why would a browser block this request?
 * corsway sends the preflight a browser would send and, for GET and HEAD, the
 * request itself, then judges the target's answers with the browser's rules
 * (cors-rules.ts). It never sends another method: a POST, PUT, PATCH or DELETE
 * is judged from the target's answer to an OPTIONS request instead, so a
 * diagnosis cannot change anything on the target.
 */

/** Where the diagnosis lives, below the proxy's base. */
const DIAGNOSE_PATH = '/diagnose';

/** What the page asks of the target, in the terms of `fetch()`. */
export interface Question {
  readonly url: URL;
  /** The page's serialized origin, as the browser sends it in `Origin`. */
  readonly origin: string;
  readonly method: string;
  /** Request header names the page sets, lower-case; forbidden ones are dropped. */
  readonly headers: readonly string[];
  /** The `Content-Type` the page sends, if any. */
  readonly contentType: string | null;
  readonly credentials: Credentials;
  /** Response header names the page reads, lower-case. */
  readonly read: readonly string[];
}

/** One exchange with the target, as a browser would make it. */
export interface Step {
  /**
   * `preflight`: the browser's OPTIONS; `probe`: an OPTIONS the browser would
   * not send, asked instead of sending an unsafe method; `request`: the request itself.
   */
  readonly kind: 'preflight' | 'probe' | 'request';
  /** False when corsway judged the step without sending it. */
  readonly sent: boolean;
  readonly method: string;
  readonly url: string;
  /** The `Origin` the browser sends here (`null` once a redirect tainted it). */
  readonly origin: string;
  readonly requestHeaders: Record<string, string>;
  readonly status: number | null;
  /** Everything the target sent, `Set-Cookie` values withheld. */
  readonly responseHeaders: Record<string, string> | null;
  /** Why the browser stops here; empty when it goes on. */
  readonly findings: readonly Finding[];
  readonly note: string | null;
}

/** Headers the target's operator would have to send. */
export interface Fix {
  readonly message: string;
  /** On the answer to the preflight (OPTIONS); null when the browser sends none. */
  readonly preflight: Record<string, string> | null;
  /** On the answer to the request itself. */
  readonly response: Record<string, string>;
}

/** The same request through this proxy, judged by the same rules. */
export interface ProxySuggestion {
  readonly url: string;
  readonly works: boolean;
  readonly message: string;
}

export interface Diagnosis {
  /** The question as asked, its URL as text for JSON. */
  readonly request: Omit<Question, 'url'> & { readonly url: string };
  /** `same-origin` needs no CORS; `simple` is sent without a preflight. */
  readonly kind: 'same-origin' | 'simple' | 'preflighted';
  /** Why the browser sends a preflight first (empty for a simple request). */
  readonly preflightReasons: readonly string[];
  readonly steps: readonly Step[];
  readonly verdict: 'allowed' | 'blocked';
  /** The reason the browser gives up (the first one it meets); null when allowed. */
  readonly reason: Finding | null;
  readonly notes: readonly string[];
  /** What the target should send; null when nothing is wrong. */
  readonly fix: Fix | null;
  readonly proxy: ProxySuggestion;
}

export interface DiagnoseDeps {
  readonly config: Config;
  readonly upstream: Upstream;
  /** The proxy's origin policy. @throws ProxyError `origin_not_allowed` */
  readonly checkOrigin: (origin: string | null) => void;
  /** Spends one request of the caller's rate-limit budget, as a proxied request does; returns the RateLimit headers. */
  readonly spendBudget: () => Promise<Record<string, string>>;
  /** The caller's address, for the upstream's per-client bounds (Node's DNS lookups). */
  readonly client?: () => string;
}

/** The form's fields, which are also the query parameters of the JSON API. */
const FIELDS = ['url', 'origin', 'method', 'headers', 'content-type', 'credentials', 'read'] as const;
export type Fields = Partial<Record<(typeof FIELDS)[number], string>>;

/** Values assumed for safelisted headers named without one: ordinary values, within the Fetch limits. */
const ORDINARY_VALUES: Record<string, string> = {
  accept: '*/*',
  'accept-language': 'en',
  'content-language': 'en',
  range: 'bytes=0-',
};
/** The page's CSP: nothing loads, nothing runs; the form may only submit here. */
const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function invalidParameter(message: string): ProxyError {
  // The SPEC's code for a malformed request to the proxy; /diagnose's parameters describe the target request.
  return new ProxyError('invalid_target', message);
}

/** A comma list of header names, lower-case, each a token. */
function headerNames(field: string, text: string | undefined): string[] {
  const names = (text ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = names.find((n) => !isToken(n));
  if (bad !== undefined) throw invalidParameter(`${field}: "${bad}" is not a header name.`);
  return [...new Set(names)];
}

/**
 * Reads the question from the fields.
 * @throws ProxyError `invalid_target` naming the field that is wrong.
 */
export function readQuestion(fields: Fields, requestOrigin: string | null): { question: Question; notes: string[] } {
  const notes: string[] = [];
  const url = parseTarget(fields.url?.trim() ?? '');

  const originText = fields.origin?.trim() || requestOrigin;
  if (!originText) {
    throw invalidParameter(
      "origin: say which page makes the request, e.g. origin=https://app.example.com (the page's scheme, host and port).",
    );
  }
  let origin = 'null';
  if (originText !== 'null') {
    let parsed: URL | null = null;
    try {
      parsed = new URL(originText);
    } catch {}
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw invalidParameter(`origin: "${originText}" is not an http(s) origin such as https://app.example.com.`);
    }
    origin = parsed.origin;
    if (origin !== originText) notes.push(`The origin was read as ${origin}, the way a browser serializes it.`);
  }

  const method = (fields.method?.trim() || 'GET').toUpperCase();
  if (!isToken(method)) throw invalidParameter(`method: "${method}" is not an HTTP method name.`);

  let headers = headerNames('headers', fields.headers);
  const forbidden = headers.filter(isForbiddenRequestHeader);
  if (forbidden.length > 0) {
    notes.push(
      `A page cannot set ${forbidden.join(', ')}: the browser drops ${forbidden.length > 1 ? 'these headers' : 'this header'} from fetch() silently, so ${forbidden.length > 1 ? 'they play' : 'it plays'} no part here.`,
    );
    headers = headers.filter((h) => !isForbiddenRequestHeader(h));
  }
  const contentType = fields['content-type']?.trim() || null;
  if (contentType !== null && !headers.includes('content-type')) headers.push('content-type');
  if (contentType === null && headers.includes('content-type')) {
    throw invalidParameter('headers names content-type: give its value too, e.g. content-type=application/json.');
  }
  const assumed = headers.filter((h) => ORDINARY_VALUES[h] !== undefined);
  if (assumed.length > 0) {
    notes.push(
      `${assumed.join(', ')} ${assumed.length > 1 ? 'are' : 'is'} assumed to carry an ordinary value; a value with characters such as ( ) : < > ? @ [ ] { } or quotes, or longer than 128 bytes, would need a preflight.`,
    );
  }

  const credentialsText = fields.credentials?.trim() || 'same-origin';
  if (credentialsText !== 'omit' && credentialsText !== 'same-origin' && credentialsText !== 'include') {
    throw invalidParameter(`credentials: expected include, omit or same-origin, got "${credentialsText}".`);
  }
  return {
    question: {
      url,
      origin,
      method,
      headers,
      contentType,
      credentials: credentialsText,
      read: headerNames('read', fields.read),
    },
    notes,
  };
}

/** The headers as the page would set them, with values where the question gives none. */
function headerList(names: readonly string[], contentType: string | null): [string, string][] {
  return names.map((n) => [n, n === 'content-type' ? (contentType ?? '') : (ORDINARY_VALUES[n] ?? '')]);
}

/** A response's headers for display; cookies the target set for corsway are nobody's business. */
function shown(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    out[name] = name === 'set-cookie' ? '(withheld)' : value;
  }
  return out;
}

export interface Run {
  readonly deps: DiagnoseDeps;
  readonly signal: AbortSignal;
  readonly userAgent: string | null;
  /** The proxy's own address, for the suggestion (`https://proxy.example`). */
  readonly proxyBase: string;
}

/**
 * Sends one request and returns the target's answer without following a
 * redirect: a browser judges each answer itself. forward() supplies the target
 * checks, the timeout and the error messages; hiding the Location from it
 * keeps it from following.
 */
async function exchange(run: Run, method: string, url: URL, headers: Headers): Promise<Answered> {
  const { config, upstream } = run.deps;
  let answer: Answered | undefined;
  const oneHop: Upstream = async (request) => {
    const response = await upstream(request);
    // The body is never shown: a diagnosis reports headers only.
    await response.body?.cancel().catch(() => {});
    answer = { status: response.status, headers: toHeaders(response.headers) };
    const visible = new FieldList(response.headers);
    visible.delete('location');
    return { status: response.status, headers: visible, body: null };
  };
  await forward(
    oneHop,
    {
      url,
      method,
      headers: new FieldList(headers),
      body: null,
      abort: Abort.following(run.signal),
      client: run.deps.client,
    },
    { policy: config, maxRedirects: 0, timeoutMs: config.timeoutMs },
  );
  if (!answer) throw new ProxyError('upstream_failed', 'The target sent no answer.');
  return answer;
}

/** A target's answer, as the browser rules (cors-rules.ts) read it. */
interface Answered {
  readonly status: number;
  readonly headers: Headers;
}

function toHeaders(fields: HeaderMap): Headers {
  const headers = new Headers();
  fields.forEach((value, name) => {
    headers.append(name, value);
  });
  return headers;
}

/** Headers every request of a diagnosis carries, besides the CORS ones. */
function baseHeaders(run: Run, origin: string): Headers {
  const headers = new Headers({ origin, accept: '*/*', via: `1.1 ${VIA_TOKEN}` });
  if (run.userAgent) headers.set('user-agent', run.userAgent);
  return headers;
}

const PROBE_NOTE =
  "The browser sends no preflight for this request. corsway never sends a POST, PUT, PATCH or DELETE on anyone's behalf, so it asked the target's CORS answer with this OPTIONS request instead.";

/** Asks the target what the page would, and judges each answer as the browser does. */
export async function diagnoseQuestion(q: Question, notes: string[], run: Run): Promise<Diagnosis> {
  const request = {
    url: q.url.href,
    origin: q.origin,
    method: q.method,
    headers: q.headers,
    contentType: q.contentType,
    credentials: q.credentials,
    read: q.read,
  };
  const reasons = preflightReasons(q.method, headerList(q.headers, q.contentType));
  const kind = q.origin === q.url.origin ? 'same-origin' : reasons.length > 0 ? 'preflighted' : 'simple';
  const steps: Step[] = [];
  const done = (reason: Finding | null, last: Headers | null): Diagnosis => ({
    request,
    kind,
    preflightReasons: reasons,
    steps,
    verdict: reason ? 'blocked' : 'allowed',
    reason,
    notes,
    fix: reason ? fixFor(q, reason, steps) : null,
    proxy: suggestion(q, run, last),
  });

  const refused = methodCheck(q.method) ?? (kind === 'same-origin' ? null : mixedContentCheck(q.origin, q.url));
  if (refused) return done(refused, null);
  if (kind === 'same-origin') {
    notes.push('The page and the target share one origin: the browser applies no CORS rules to this request.');
    return done(null, null);
  }

  const sendsRequest = q.method === 'GET' || q.method === 'HEAD';
  let url = q.url;
  let origin = q.origin;
  let names = q.headers;
  for (let hop = 0; ; hop++) {
    const list = headerList(names, q.contentType);
    const unsafe = unsafeHeaderNames(list);
    const preflighted = preflightReasons(q.method, list).length > 0;
    let optionsAnswer: Answered | null = null;
    if (preflighted || !sendsRequest) {
      const headers = baseHeaders(run, origin);
      headers.set('access-control-request-method', q.method);
      if (unsafe.length > 0) headers.set('access-control-request-headers', unsafe.join(','));
      optionsAnswer = await exchange(run, 'OPTIONS', url, headers);
      const findings = preflighted
        ? preflightCheck(optionsAnswer.status, optionsAnswer.headers, {
            origin,
            credentials: q.credentials,
            method: q.method,
            unsafeHeaders: unsafe,
          })
        : [];
      steps.push({
        kind: preflighted ? 'preflight' : 'probe',
        sent: true,
        method: 'OPTIONS',
        url: url.href,
        origin,
        requestHeaders: shown(headers),
        status: optionsAnswer.status,
        responseHeaders: shown(optionsAnswer.headers),
        findings,
        note: preflighted ? null : PROBE_NOTE,
      });
      if (findings[0]) return done(findings[0], null);
    }

    if (!sendsRequest && optionsAnswer) {
      // Servers answer a preflight and the request itself with the same CORS
      // headers as a rule (every CORS middleware does); that is the assumption here.
      const cors = corsCheck(optionsAnswer.headers, { origin, credentials: q.credentials }, 'response');
      // What the browser would send: the page's own headers, with values only corsway cannot know.
      const browserHeaders: Record<string, string> = { accept: '*/*', origin };
      for (const name of names)
        browserHeaders[name] = name === 'content-type' ? (q.contentType ?? '') : "(the page's value)";
      steps.push({
        kind: 'request',
        sent: false,
        method: q.method,
        url: url.href,
        origin,
        requestHeaders: browserHeaders,
        status: null,
        responseHeaders: null,
        findings: cors ? [cors] : [],
        note: `Not sent: corsway does not send ${q.method} requests. Judged from the Access-Control-Allow-Origin${q.credentials === 'include' ? ' and Access-Control-Allow-Credentials' : ''} of the target's answer to OPTIONS, assuming it sends the same on its answer to ${q.method}.`,
      });
      if (q.read.length > 0) {
        notes.push(
          `Whether the page can read ${q.read.join(', ')} depends on the answer to the ${q.method} request itself, which corsway does not send: it must list them in Access-Control-Expose-Headers.`,
        );
      }
      return done(cors, null);
    }

    const headers = baseHeaders(run, origin);
    if (q.contentType) headers.set('content-type', q.contentType);
    const withheld = names.filter((n) => n !== 'content-type');
    const answer = await exchange(run, q.method, url, headers);
    const location = answer.headers.get('location');
    const redirect = REDIRECT_STATUSES.has(answer.status) && location !== null;
    const findings: Finding[] = [];
    const cors = corsCheck(
      answer.headers,
      { origin, credentials: q.credentials },
      redirect ? 'redirect response' : 'response',
    );
    if (cors) findings.push(cors);
    const hidden = cors || redirect ? null : exposureCheck(answer.headers, q.read, q.credentials);
    if (hidden) findings.push(hidden);
    steps.push({
      kind: 'request',
      sent: true,
      method: q.method,
      url: url.href,
      origin,
      requestHeaders: shown(headers),
      status: answer.status,
      responseHeaders: shown(answer.headers),
      findings,
      note:
        withheld.length > 0
          ? `Sent without ${withheld.join(', ')}: corsway does not know the values the page sends. The CORS answer should not depend on them.`
          : null,
    });
    if (findings[0]) return done(findings[0], answer.headers);
    if (!redirect || location === null) {
      const missing = q.read.filter((n) => !answer.headers.has(n));
      if (missing.length > 0) {
        notes.push(
          `The target's response has no ${missing.join(', ')} header at all, so the page reads null whatever CORS allows.`,
        );
      }
      return done(null, answer.headers);
    }

    if (hop >= run.deps.config.maxRedirects) {
      throw new ProxyError(
        'upstream_failed',
        `The target redirected more than ${run.deps.config.maxRedirects} times (CORSWAY_MAX_REDIRECTS); it may be a redirect loop.`,
      );
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new ProxyError('upstream_failed', 'The target redirected to a Location that is not a valid URL.');
    }
    if (next.origin !== url.origin) {
      // Fetch, "HTTP-redirect fetch": a redirect from a cross-origin URL to yet
      // another origin taints the request's origin (sent as `null`), and
      // Authorization is removed on any cross-origin redirect.
      if (q.origin !== url.origin) origin = 'null';
      names = names.filter((n) => n !== 'authorization');
    }
    notes.push(`${url.href} redirected (${answer.status}) to ${next.href}; the browser follows it and checks again.`);
    url = next;
  }
}

/** The headers the target would have to send, and what else to change. */
function fixFor(q: Question, reason: Finding, steps: readonly Step[]): Fix | null {
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
function suggestion(q: Question, run: Run, last: Headers | null): ProxySuggestion {
  const { config, checkOrigin } = run.deps;
  const url = `${run.proxyBase}/${q.url.href}`;
  try {
    checkOrigin(q.origin);
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
      ...preflightCheck(204, new Headers(preflightFields(asked, config.maxAge)), {
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

/** `GET /diagnose[/<target>]`: the form, the page or the JSON. */
export async function handleDiagnose(c: Context, deps: DiagnoseDeps): Promise<Response> {
  const req = c.req.raw;
  const requestOrigin = req.headers.get('origin');
  const html = (req.headers.get('accept') ?? '').includes('text/html');
  // Everything after /diagnose/ up to the query is the target; the query holds the fields.
  const mount = c.req.routePath.replace(/\/diagnose(\/\*)?$/, '');
  const rawUrl = req.url;
  const pathStart = rawUrl.indexOf('/', rawUrl.indexOf('//') + 2);
  const proxyBase = rawUrl.slice(0, pathStart) + mount;
  const rest = rawUrl.slice(pathStart + mount.length + DIAGNOSE_PATH.length);
  const queryStart = rest.indexOf('?');
  const rawTarget = (queryStart < 0 ? rest : rest.slice(0, queryStart)).replace(/^\//, '');
  const params = new URLSearchParams(queryStart < 0 ? '' : rest.slice(queryStart + 1));
  const fields: Fields = {};
  for (const name of FIELDS) {
    const value = params.get(name);
    if (value !== null) fields[name] = value;
  }
  if (rawTarget) fields.url = rawTarget;
  const action = `${mount}${DIAGNOSE_PATH}`;

  let limitHeaders: Record<string, string> = {};
  try {
    deps.checkOrigin(requestOrigin);
    if (!fields.url) {
      if (html) return page(diagnosePage({ action, fields, diagnosis: null, error: null }), 200, requestOrigin, {});
      throw new ProxyError(
        'invalid_target',
        `No target URL given. Ask like this: ${proxyBase}${DIAGNOSE_PATH}/https://api.example.com/path?origin=https://app.example.com&method=GET&headers=authorization&credentials=omit`,
      );
    }
    if (hasLooped(req.headers)) {
      throw new ProxyError(
        'loop_detected',
        'This request already passed through this proxy; the target points back at the proxy itself.',
      );
    }
    limitHeaders = await deps.spendBudget();
    const { question, notes } = readQuestion(fields, requestOrigin);
    const diagnosis = await diagnoseQuestion(question, notes, {
      deps,
      signal: req.signal,
      userAgent: req.headers.get('user-agent'),
      proxyBase,
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
