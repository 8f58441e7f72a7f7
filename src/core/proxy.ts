import type { Config, RateLimitSpec } from '../config/config.ts';
import { type ByteLimiter, bandwidthHeaders, type Meter, memoryByteLimiter, meter } from '../limiters/bandwidth.ts';
import {
  memoryLimiter,
  mergeRateLimitHeaders,
  type RateLimitDecision,
  type RateLimiter,
  rateLimitHeaders,
  usesBudgets,
} from '../limiters/rate-limit.ts';
import type { Metrics } from '../observe/metrics.ts';
import { helpHtml, helpText } from '../pages/help.ts';
import type { Abort } from './abort.ts';
import { clientKey } from './address.ts';
import { type BodySource, type ClientBody, checkDeclaredLength, ReplayableBody } from './body.ts';
import { addCorsHeaders, isPreflight, preflightFields } from './cors.ts';
import { declaredBody, declaredLength } from './declared-body.ts';
import { ProxyError, refusal } from './errors.ts';
import { Fields, type HeaderMap } from './fields.ts';
import { hasLooped, requestHeaders, responseHeaders } from './headers.ts';
import { KEY_HEADER, keyRing, type ValidKey } from './keys.ts';
import { contentPolicyOf } from './media-type.ts';
import { parseTarget } from './target.ts';
import { targetHeaderTable } from './target-headers.ts';
import { type Cancellable, forward, type Upstream } from './upstream.ts';

/*
 * The proxy itself, on any runtime: a request to a target in, the answer to
 * send out. The Hono app (app.ts) calls it with WHATWG objects; the Node entry
 * (node-proxy.ts) calls it straight from node:http, without building a Request
 * or a Response for every proxied request.
 */

/** What a request handled by the proxy did, for access logs and metrics. */
export interface RequestRecord {
  readonly method: string;
  /** The client's rate-limit key: its address (an IPv6 client's /64). */
  readonly client: string;
  /** The request's `Origin` header. */
  readonly origin: string | null;
  /**
   * The fingerprint of the access key used (first 8 hex digits of its
   * SHA-256), never the key; absent for an anonymous request.
   */
  readonly key?: string;
  /**
   * The target's origin; its whole URL only with `CORSWAY_LOG_TARGET_URL` on,
   * since paths and queries may carry secrets.
   */
  readonly target: string | null;
  readonly status: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  /** The refusal code (SPEC), when the proxy refused or failed. */
  readonly error: string | null;
  /** From the request's arrival until its response body ended. */
  readonly ms: number;
  /** Until the target's response headers arrived, redirects included; null when none answered. */
  readonly upstreamMs: number | null;
}

/** A request to the proxy, as the runtime read it. */
export interface Incoming {
  readonly method: string;
  /** Everything after the proxy's mount point and its slash, query included, as sent. */
  readonly target: string;
  /** The proxy's own URL up to its mount point (`https://proxy.example`), for Location and the help page. */
  readonly base: string;
  readonly headers: HeaderMap;
  /** The request body; null when there is none. */
  readonly body: BodySource | null;
  /** Aborted by the runtime when the client goes away. */
  readonly abort: Abort;
  /** The client's address, as the runtime knows it. */
  readonly client: () => string;
  /** Keeps work alive past the response (a Worker's `waitUntil`). @default the work just runs */
  readonly background?: (work: Promise<unknown>) => void;
}

/** The response to send: the target's, or the proxy's own (help page, preflight, refusal). */
export interface Answer<Body> {
  readonly status: number;
  readonly headers: Fields;
  /** The target's body, the proxy's own text, or null for none. */
  readonly body: Body | string | null;
  /** A target's body is cut off past this many bytes (CORSWAY_MAX_RESPONSE_BYTES); 0 for no limit. */
  readonly limit: number;
  /** To call once, when the body ended, failed or was abandoned, with the bytes sent. */
  readonly sent: (bytes: number) => void;
  /**
   * To call with the bytes of a target's body sent so far, as they are sent,
   * when a bandwidth budget counts them; null when none does.
   */
  readonly progress: ((bytes: number) => void) | null;
}

/** What the runtime lends the proxy. */
export interface ProxyCapabilities<Body extends Cancellable> {
  readonly upstream: Upstream<Body>;
  /**
   * Where budgets live. Two proxies that share budgets (the Node entry's and
   * its app's) must be given the same one.
   * @default an in-memory limiter, when CORSWAY_RATE_LIMIT is set
   */
  readonly limiter?: RateLimiter;
  /**
   * Where bandwidth budgets live; shared like `limiter`.
   * @default an in-memory store, when a bandwidth limit is set
   */
  readonly bytes?: ByteLimiter;
  /** Called once per proxied request, when its response body has ended. @default none */
  readonly log?: (record: RequestRecord) => void;
  /** Counters for `/metrics`. @default none */
  readonly metrics?: Metrics;
  /**
   * The upstream sends a body of declared length natively (`RequestBody.declared`),
   * so the proxy neither counts nor copies it in JS (Workers). @default false
   */
  readonly declaredBodies?: boolean;
}

export interface CorsProxy<Body> {
  /** Answers one request. */
  (request: Incoming): Promise<Answer<Body>>;
  /**
   * Checks the request's access key and spends one unit of its budget for a
   * route beside the proxy (the diagnosis): the RateLimit headers to send, or
   * the refusal (`key_required`, `key_invalid`, `origin_not_allowed`, `rate_limited`).
   */
  spendBudget(
    client: () => string,
    origin: string | null,
    presentedKey: string | null,
  ): Promise<Record<string, string>>;
}

const REFUSED_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);
/** Statuses whose responses have no body (Fetch standard "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const HTML = 'text/html; charset=UTF-8';
const TEXT = 'text/plain; charset=UTF-8';
const ignore = () => {};

/** Builds the proxy from the parsed config and what the runtime lends it. */
export function createProxy<Body extends Cancellable>(config: Config, caps: ProxyCapabilities<Body>): CorsProxy<Body> {
  const { upstream, log, metrics } = caps;
  const { rateLimit, bandwidthLimit } = config;
  // Decided once, at start-up: the lookups the settings' parsed values become.
  const keys = config.keys.length > 0 ? keyRing(config.keys) : null;
  const contentPolicy = contentPolicyOf(config.allowContentTypes, config.blockContentTypes);
  const targetHeaders = config.targetHeaders.length > 0 ? targetHeaderTable(config.targetHeaders) : null;
  const budgets = usesBudgets(config);
  const limiter = budgets ? (caps.limiter ?? memoryLimiter(budgets)) : null;
  const bytesLimiter = budgets ? (caps.bytes ?? memoryByteLimiter()) : null;

  const proxy = async (req: Incoming): Promise<Answer<Body>> => {
    const started = Date.now();
    metrics?.requestStarted();
    const origin = req.headers.get('origin');
    // Read now: once the client has gone, its socket no longer has an address.
    const client = log || metrics ? clientKey(req.client()) : '';
    const trace: Trace = { target: null, upstreamMs: null, key: null, meter: null };
    let answer: Omit<Answer<Body>, 'sent'>;
    let code: string | null = null;
    try {
      answer = await handle(req, origin, trace);
    } catch (error) {
      const refused = asProxyError(error);
      code = refused.code;
      answer = { ...refusal(refused, origin), limit: 0, progress: null };
    }
    // Only a target's body spends bandwidth; a refusal after the budget check spends none.
    const meter = answer.progress ? trace.meter : null;
    if (!log && !metrics) return withSent(answer, meter ? (bytes) => meter.end(bytes) : ignore);
    const sent = (bytes: number) => {
      meter?.end(bytes);
      const record: RequestRecord = {
        method: req.method,
        client,
        origin,
        key: trace.key?.fingerprint,
        target: (config.logTargetUrl ? trace.target?.href : trace.target?.origin) ?? null,
        status: answer.status,
        bytes,
        error: code,
        ms: Date.now() - started,
        upstreamMs: trace.upstreamMs,
      };
      log?.(record);
      metrics?.requestFinished(record);
    };
    return withSent(answer, sent);
  };
  return Object.assign(proxy, { spendBudget });

  async function handle(req: Incoming, origin: string | null, trace: Trace): Promise<Omit<Answer<Body>, 'sent'>> {
    const answer = await answerFor(req, origin, trace);
    const { meter } = trace;
    return meter && typeof answer.body === 'object' && answer.body !== null
      ? { ...answer, progress: (bytes) => meter.progress(bytes) }
      : answer;
  }

  async function answerFor(
    req: Incoming,
    origin: string | null,
    trace: Trace,
  ): Promise<Omit<Answer<Body>, 'sent' | 'progress'> & { progress: null }> {
    const { method, headers: incoming, target: raw } = req;
    const urlParam = raw.startsWith('?') ? new URLSearchParams(raw).get('url') : null;
    // The help page shows the active policy, so it is served to everyone, refused origins included.
    if ((raw === '' || (raw.startsWith('?') && urlParam === null)) && method === 'GET') {
      const html = (incoming.get('accept') ?? '').includes('text/html');
      return {
        status: 200,
        headers: new Fields({ 'content-type': html ? HTML : TEXT }),
        body: html ? helpHtml(config, req.base) : helpText(config, req.base),
        limit: 0,
        progress: null,
      };
    }

    checkOrigin(config, origin);
    if (isPreflight(method, incoming)) {
      return {
        status: 204,
        headers: new Fields(preflightFields(incoming, config.maxAge)),
        body: null,
        limit: 0,
        progress: null,
      };
    }

    if (REFUSED_METHODS.has(method)) {
      throw new ProxyError('method_not_allowed', `${method} requests are not proxied.`);
    }
    // Upgrade is hop-by-hop: forwarded without it, a WebSocket handshake would silently become a plain GET.
    if (incoming.get('upgrade')?.toLowerCase() === 'websocket') {
      throw new ProxyError(
        'method_not_allowed',
        'WebSocket connections are not proxied: this proxy relays HTTP requests only. Connect to the target directly (browsers allow cross-origin WebSockets).',
      );
    }
    if (config.requireHeader.length > 0 && !config.requireHeader.some((h) => incoming.has(h))) {
      throw new ProxyError(
        'missing_header',
        `This proxy requires one of these request headers: ${config.requireHeader.join(', ')}. Browsers send Origin on cross-origin requests; from other clients, add one of them.`,
      );
    }
    if (hasLooped(incoming)) {
      throw new ProxyError(
        'loop_detected',
        'This request already passed through this proxy; the target points back at the proxy itself.',
      );
    }

    const key = await identify(incoming.get(KEY_HEADER), origin);
    trace.key = key;
    const budget = await spend(req.client, origin, key);
    if (budget.bytes) {
      const { name, spec } = budget.bytes;
      trace.meter = meter(bytesLimiter as ByteLimiter, name, spec, req.background ?? ignore);
    }
    const url = parseTarget(urlParam ?? raw);
    trace.target = url;

    let body: ClientBody | null = null;
    // Fetch forbids a GET or HEAD request body (workerd's fetch throws, undici drops it).
    if (method !== 'GET' && method !== 'HEAD' && req.body) {
      checkDeclaredLength(incoming, config.maxBodyBytes);
      const length = caps.declaredBodies ? declaredLength(incoming.get('content-length')) : null;
      body =
        length !== null && 'getReader' in req.body
          ? declaredBody(req.body, length, config.maxBodyBytes)
          : new ReplayableBody(req.body, config.maxBodyBytes);
    }
    const asked = Date.now();
    const { response: res, url: finalUrl } = await forward(
      upstream,
      { url, method, headers: requestHeaders(incoming), body, abort: req.abort, client: req.client },
      {
        policy: config,
        maxRedirects: config.maxRedirects,
        timeoutMs: config.timeoutMs,
        targetHeaders,
      },
    );
    trace.upstreamMs = Date.now() - asked;

    if (res.status < 200 || res.status > 599) {
      await res.body?.cancel();
      throw new ProxyError(
        'upstream_failed',
        `The target answered with status ${res.status}, which cannot be relayed.`,
      );
    }
    // A HEAD, a 204 or a 304 declares the length of a body it does not send: there is nothing to cut.
    const bodiless = method === 'HEAD' || NULL_BODY.has(res.status);
    // The final response, redirects followed, is judged before a byte of its body leaves.
    const verdict = bodiless ? null : contentPolicy?.(res.headers.get('content-type'));
    if (verdict) {
      await res.body?.cancel();
      throw new ProxyError(
        'content_not_allowed',
        `The target answered with ${verdict.type}, which this proxy does not relay: ${verdict.rule}.`,
        budget.headers ?? {},
      );
    }
    const declared = bodiless ? 0 : Number(res.headers.get('content-length') ?? 0);
    if (config.maxResponseBytes && declared > config.maxResponseBytes) {
      await res.body?.cancel();
      throw new ProxyError(
        'upstream_failed',
        `The target's response is ${declared} bytes, more than this proxy relays (${config.maxResponseBytes} bytes, CORSWAY_MAX_RESPONSE_BYTES).`,
      );
    }

    const headers = responseHeaders(res.headers);
    const location = headers.get('location');
    // A redirect relayed to the browser must lead back through the proxy.
    if (location && res.status >= 300 && res.status < 400) {
      try {
        headers.set('location', `${req.base}/${new URL(location, finalUrl).href}`);
      } catch {}
    }
    headers.set('x-request-url', url.href);
    headers.set('x-final-url', finalUrl.href);
    if (budget.headers) mergeRateLimitHeaders(headers, budget.headers);
    addCorsHeaders(headers, origin);

    let resBody = res.body;
    if (resBody && NULL_BODY.has(res.status)) {
      await resBody.cancel();
      resBody = null;
    }
    return {
      status: res.status,
      headers,
      body: resBody,
      limit: bodiless ? 0 : config.maxResponseBytes,
      progress: null,
    };
  }

  /**
   * The access key the request presents, or null for an anonymous request.
   * @throws ProxyError `key_invalid`, `key_required` or `origin_not_allowed` (a key pinned to other origins).
   */
  async function identify(presented: string | null, origin: string | null): Promise<ValidKey | null> {
    if (presented === null) {
      if (config.anonymous) return null;
      throw new ProxyError(
        'key_required',
        `This proxy serves only requests with an access key: send yours in the ${KEY_HEADER_NAME} request header.`,
      );
    }
    const key = keys ? await keys.find(presented) : null;
    if (!key) {
      throw new ProxyError(
        'key_invalid',
        `The ${KEY_HEADER_NAME} header holds no key of this proxy; check the key your app sends, or ask the operator for one.`,
      );
    }
    if (key.origins && !(origin !== null && key.origins(origin))) {
      throw new ProxyError(
        'origin_not_allowed',
        origin === null
          ? `This access key (${key.fingerprint}) is valid only from certain web pages, and this request has no Origin header.`
          : `This access key (${key.fingerprint}) is not valid from ${origin}; its operator allows it only from certain origins.`,
      );
    }
    return key;
  }

  /**
   * Spends one request of the budget the request belongs to (its access key's,
   * or its address's or origin's) and checks that bandwidth is left; the bytes
   * are charged as they are relayed.
   * @throws ProxyError `rate_limited`, with the RateLimit fields of both budgets.
   */
  async function spend(
    client: () => string,
    origin: string | null,
    key: ValidKey | null,
  ): Promise<{ headers: Record<string, string> | null; bytes: { name: string; spec: RateLimitSpec } | null }> {
    const requestSpec = limiter ? (key?.rateLimit ?? rateLimit) : null;
    const byteSpec = bytesLimiter ? (key?.bandwidthLimit ?? bandwidthLimit) : null;
    if (!requestSpec && !byteSpec) return { headers: null, bytes: null };
    const name = key
      ? `key:${key.budget}`
      : config.rateLimitBy === 'origin' && origin
        ? `origin:${origin}`
        : `ip:${clientKey(client())}`;
    const who = key ? `access key (${key.fingerprint})` : config.rateLimitBy === 'ip' ? 'client address' : 'origin';
    // Bytes first: checking them spends nothing, so a refusal for bandwidth costs no request.
    let bytesHeaders: Record<string, string> | null = null;
    if (byteSpec) {
      const decision = await (bytesLimiter as ByteLimiter).check(name, byteSpec);
      bytesHeaders = bandwidthHeaders(decision, byteSpec.windowSeconds);
      if (!decision.allowed) {
        throw new ProxyError(
          'rate_limited',
          `Bandwidth budget spent: this proxy relays ${byteSpec.limit} bytes of responses per ${byteSpec.windowSeconds} s per ${who}. Try again in ${decision.retryAfter} s.`,
          { ...bytesHeaders, 'retry-after': String(decision.retryAfter) },
        );
      }
    }
    let headers = bytesHeaders;
    if (requestSpec) {
      const decision: RateLimitDecision = await (limiter as RateLimiter).consume(name, requestSpec);
      headers = joinPolicies(rateLimitHeaders(decision, requestSpec.windowSeconds), bytesHeaders);
      if (!decision.allowed) {
        throw new ProxyError(
          'rate_limited',
          `Too many requests: this proxy allows ${decision.limit} per ${requestSpec.windowSeconds} s per ${who}. Try again in ${decision.retryAfter} s.`,
          { ...headers, 'retry-after': String(decision.retryAfter) },
        );
      }
    }
    return { headers, bytes: byteSpec ? { name, spec: byteSpec } : null };
  }

  async function spendBudget(
    client: () => string,
    origin: string | null,
    presentedKey: string | null,
  ): Promise<Record<string, string>> {
    const key = await identify(presentedKey, origin);
    return (await spend(client, origin, key)).headers ?? {};
  }
}

/** How the key header is written in messages. */
const KEY_HEADER_NAME = 'X-Corsway-Key';

/** The request budget's RateLimit fields with the bandwidth budget's policy beside it (both are lists). */
function joinPolicies(requests: Record<string, string>, bytes: Record<string, string> | null): Record<string, string> {
  if (!bytes) return requests;
  const joined = { ...requests };
  for (const [name, value] of Object.entries(bytes)) joined[name] = joined[name] ? `${joined[name]}, ${value}` : value;
  return joined;
}

/**
 * The answer with its `sent` callback, copied field by field: spreading
 * answers of several shapes (a target's, a refusal, a preflight) sends V8 to
 * its slow generic copy, which took about 4% of a small proxied request's CPU.
 */
function withSent<Body>(answer: Omit<Answer<Body>, 'sent'>, sent: (bytes: number) => void): Answer<Body> {
  return {
    status: answer.status,
    headers: answer.headers,
    body: answer.body,
    limit: answer.limit,
    sent,
    progress: answer.progress,
  };
}

/** What handling a request learned, for its record. */
interface Trace {
  target: URL | null;
  upstreamMs: number | null;
  /** The access key the request presented. */
  key: ValidKey | null;
  /** Charges the relayed bytes to a bandwidth budget. */
  meter: Meter | null;
}

/** Unexpected errors are logged for the operator and shown to the user without details. */
export function asProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  console.error(error);
  return new ProxyError('upstream_failed', 'The proxy failed unexpectedly while handling this request.');
}

/**
 * The scheme a TLS-terminating reverse proxy says the browser used
 * (`X-Forwarded-Proto`, last entry), trusted only with CORSWAY_TRUST_PROXY.
 */
export function forwardedScheme(config: Config, header: string | null | undefined): 'http:' | 'https:' | undefined {
  if (!config.trustProxy || !header) return undefined;
  const proto = header.split(',').at(-1)?.trim();
  return proto === 'https' || proto === 'http' ? `${proto}:` : undefined;
}

export function checkOrigin(config: Config, origin: string | null): void {
  const blocked = origin !== null && config.blockOrigins?.(origin);
  const allowed = !config.allowOrigins || (origin !== null && config.allowOrigins(origin));
  if (blocked || !allowed) {
    throw new ProxyError(
      'origin_not_allowed',
      origin === null
        ? 'This proxy only serves the web pages its operator allowed, and this request has no Origin header.'
        : `This proxy does not serve pages from ${origin}; its operator allows only certain origins (CORSWAY_ALLOW_ORIGINS, CORSWAY_BLOCK_ORIGINS).`,
    );
  }
}
