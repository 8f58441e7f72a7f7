import type { Config } from '../config/config.ts';
import { Abort } from '../core/abort.ts';
import { ProxyError } from '../core/errors.ts';
import { Fields as FieldList } from '../core/fields.ts';
import { VIA_TOKEN } from '../core/headers.ts';
import { checkTarget } from '../core/target.ts';
import { forward, nextHop, REDIRECT_STATUSES, type Upstream } from '../core/upstream.ts';
import { fixFor, suggestion, toHeaders } from './advice.ts';
import { headerList } from './params.ts';
import { exposureCheck } from './rules/exposure.ts';
import type { Finding } from './rules/finding.ts';
import { mixedContentCheck } from './rules/mixed-content.ts';
import { methodCheck, preflightReasons, unsafeHeaderNames } from './rules/request.ts';
import { corsCheck, preflightCheck } from './rules/response.ts';
import type { Diagnosis, Question, Step } from './types.ts';

/*
 * The exchanges of a diagnosis: corsway sends the preflight a browser would
 * send and, for GET and HEAD, the request itself, then judges the target's
 * answers with the browser's rules (rules/). It never sends another method:
 * a POST, PUT, PATCH or DELETE is judged from the target's answer to an
 * OPTIONS request instead, so a diagnosis cannot change anything on the target.
 */

/** A response's headers for display; cookies the target set for corsway are nobody's business. */
function shown(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    out[name] = name === 'set-cookie' ? '(withheld)' : value;
  }
  return out;
}

export interface Run {
  readonly config: Config;
  readonly upstream: Upstream;
  readonly signal: AbortSignal;
  /** The caller's address, for the upstream's per-client bounds (Node's DNS lookups). */
  readonly client?: () => string;
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
  const { config, upstream } = run;
  // Every URL the diagnosis asks, a redirect's too, passes the whole of the target rules first.
  checkTarget(url, config);
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
      client: run.client,
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

  // The target rules of a proxied request come first: a diagnosis never answers for a target the proxy refuses.
  checkTarget(q.url, run.config);
  const refused = methodCheck(q.method) ?? (kind === 'same-origin' ? null : mixedContentCheck(q.origin, q.url));
  if (refused) return done(refused, null);
  if (kind === 'same-origin') {
    notes.push('The page and the target share one origin: the browser applies no CORS rules to this request.');
    return done(null, null);
  }

  const sendsRequest = q.method === 'GET' || q.method === 'HEAD';
  let url: URL = q.url;
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

    const next = nextHop(location, url, hop, run.config.maxRedirects);
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
