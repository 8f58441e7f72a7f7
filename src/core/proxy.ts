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
import { type Share, shareOf } from '../limiters/shard.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Abort } from './abort.ts';
import { clientKey } from './address.ts';
import { type BodySource, type ClientBody, checkDeclaredLength, ReplayableBody } from './body.ts';
import { addCorsHeaders, isPreflight, preflightFields } from './cors.ts';
import { type Deadlines, timerDeadlines } from './deadlines.ts';
import { declaredBody, declaredLength } from './declared-body.ts';
import { ProxyError, refusal } from './errors.ts';
import type { Fields, HeaderMap } from './fields.ts';
import { KEY_HEADER, requestHeaders, responseHeaders } from './headers.ts';
import { keyRing, type ValidKey } from './keys.ts';
import { contentPolicyOf } from './media-type.ts';
import { checkOrigin, checkRequest } from './policy.ts';
import type { RequestRecord } from './record.ts';
import { parseTarget } from './target.ts';
import { targetHeaderTable } from './target-headers.ts';
import {
  type Cancellable,
  type ForwardEnd,
  type Forwarded,
  type ForwardOptions,
  forwardTo,
  type Upstream,
  type UpstreamResponse,
} from './upstream.ts';

/*
 * The proxy itself, on any runtime: a request to a target in, the answer to
 * send out. The Hono app (app.ts) calls it with WHATWG objects; the Node
 * listener (node/listener.ts) calls it straight from node:http, without
 * building a Request or a Response for every proxied request. Its steps, in
 * order: the request rules (policy.ts), the access key and budgets, the
 * target and its body, forward (the target rules on every hop), the target's
 * answer examined before any of it is relayed, the headers to relay.
 */

/** A request to the proxy, as the front door (routes.ts) described it. */
export interface Incoming {
  readonly method: string;
  /** What names the target, as sent (RequestFacts.target). */
  readonly target: string;
  /** The proxy's own URL up to its mount point (`https://proxy.example`), for Location. */
  readonly base: string;
  readonly headers: HeaderMap;
  /** The request body; null when there is none. */
  readonly body: BodySource | null;
  /** Aborted by the runtime when the client goes away. */
  readonly abort: Abort;
  /** The client's address (RequestFacts.client), read lazily. */
  readonly client: () => string;
  /** Keeps work alive past the response (a Worker's `waitUntil`). @default the work just runs */
  readonly background?: (work: Promise<unknown>) => void;
}

/** The response to send: the target's, or the proxy's own (preflight, refusal). */
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
  /** Where budgets live. @default an in-memory limiter, when CORSWAY_RATE_LIMIT is set */
  readonly limiter?: RateLimiter;
  /**
   * Where bandwidth budgets live.
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
  /**
   * Before a 413 for an upload past CORSWAY_MAX_BODY_BYTES, or a 307/308
   * relayed while the client still sends, the proxy reads the rest of the
   * upload (up to the limit again) and waits for it, at most 5 s: node:http
   * resets a connection answered mid-upload and the client would never read
   * the answer. Node turns it on; a Worker answers at once and the platform
   * keeps the answer readable (test/worker/workerd.test.ts). @default false
   */
  readonly drainUploads?: boolean;
  /** Deadlines of the given length, for CORSWAY_TIMEOUT_MS. @default a runtime timer per request (timerDeadlines) */
  readonly deadlines?: (ms: number) => Deadlines;
}

/** Where the proxy hands a request's answer: the runtime's side of the request. */
export interface AnswerTo<Body> {
  /** The answer to send, once: the target's, or the proxy's own (preflight, refusal). */
  answered(answer: Answer<Body>): void;
  /** The proxy failed unexpectedly and has no answer; the runtime ends the request as it can. */
  failed(error: unknown): void;
}

/** One per process: every route that proxies or spends a budget uses the same one. */
export interface CorsProxy<Body> {
  /**
   * Answers one request to a target, through `to`. Not a promise: the Node
   * listener is called back directly, without a promise, a reaction and two
   * callbacks more per request held while it waits (docs/decisions/node-s1.md);
   * the runtimes that await use `answerOf`.
   */
  handle(request: Incoming, to: AnswerTo<Body>): void;
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

/** `proxy.handle` as a promise of the answer. */
export function answerOf<Body>(proxy: CorsProxy<Body>, request: Incoming): Promise<Answer<Body>> {
  return new Promise((answered, failed) => proxy.handle(request, { answered, failed }));
}

/** Statuses whose responses have no body (Fetch standard "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A HEAD, a 204 or a 304 declares the length of a body it does not send: there is nothing to judge or cut. */
function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || NULL_BODY.has(status);
}
const ignore = () => {};
/** What spending costs a proxy without budgets: nothing, and no RateLimit fields. */
const NO_BUDGET = { headers: null, bytes: null } as const;

/** Builds the proxy from the parsed config and what the runtime lends it. */
export function createProxy<Body extends Cancellable>(config: Config, caps: ProxyCapabilities<Body>): CorsProxy<Body> {
  const { upstream, log, metrics } = caps;
  const { rateLimit, bandwidthLimit } = config;
  // Decided once, at start-up: the lookups the settings' parsed values become.
  const keys = config.keys.length > 0 ? keyRing(config.keys) : null;
  const contentPolicy = contentPolicyOf(config.allowContentTypes, config.blockContentTypes);
  const budgets = usesBudgets(config);
  const limiter = budgets ? (caps.limiter ?? memoryLimiter(budgets)) : null;
  const bytesLimiter = budgets ? (caps.bytes ?? memoryByteLimiter()) : null;
  // Each request's times and client are read only for a record: the clock is read three times for one.
  const recorded = Boolean(log || metrics);
  const forwarding: ForwardOptions = {
    policy: config,
    maxRedirects: config.maxRedirects,
    timeoutMs: config.timeoutMs,
    deadlines: (caps.deadlines ?? timerDeadlines)(config.timeoutMs),
    targetHeaders: config.targetHeaders.length > 0 ? targetHeaderTable(config.targetHeaders) : null,
  };

  /**
   * A request waiting for its target, and what forward calls when it answered
   * or failed: one object, where two callbacks on forward's promise, their
   * context and a promise more were held (docs/decisions/node24-pretenuring.md).
   */
  class Waiting implements ForwardEnd<Body, void> {
    readonly #req: Incoming;
    readonly #trace: Trace;
    readonly #url: URL;
    readonly #budgetHeaders: Record<string, string> | null;
    readonly #to: AnswerTo<Body>;
    readonly #at: number;

    constructor(
      req: Incoming,
      trace: Trace,
      url: URL,
      budgetHeaders: Record<string, string> | null,
      to: AnswerTo<Body>,
    ) {
      this.#req = req;
      this.#trace = trace;
      this.#url = url;
      this.#budgetHeaders = budgetHeaders;
      this.#to = to;
      this.#at = recorded ? Date.now() : 0;
    }

    /** The target's final answer, examined before any of it is relayed. */
    relay(forwarded: Forwarded<Body>): void {
      if (recorded) this.#trace.upstreamMs = Date.now() - this.#at;
      const res = forwarded.response;
      let answer: Answer<Body>;
      try {
        const unrelayable = refusalOf(this.#req.method, res, this.#budgetHeaders);
        // Rare: the target's body is dropped first.
        if (unrelayable || (res.body && NULL_BODY.has(res.status))) {
          void this.#bodyDropped(forwarded, unrelayable);
          return;
        }
        answer = this.#relayed(forwarded, res.body);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.#to.answered(answer);
    }

    fail(error: unknown): void {
      answerRefusal(this.#to, this.#trace, error);
    }

    /** A target's answer whose body is cancelled first: refused (`unrelayable`), or relayed without a body (a null-body status). */
    async #bodyDropped(forwarded: Forwarded<Body>, unrelayable: ProxyError | null): Promise<void> {
      let answer: Answer<Body>;
      try {
        await forwarded.response.body?.cancel();
        if (unrelayable) throw unrelayable;
        answer = this.#relayed(forwarded, null);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.#to.answered(answer);
    }

    /** The target's answer as relayed. */
    #relayed({ response: res, url: finalUrl }: Forwarded<Body>, body: Body | null): Answer<Body> {
      const req = this.#req;
      const trace = this.#trace;
      const meter = trace.meter;
      const answer = {
        status: res.status,
        headers: relayedHeaders(req, res, this.#url, finalUrl, this.#budgetHeaders, trace.origin),
        body,
        limit: bodiless(req.method, res.status) ? 0 : config.maxResponseBytes,
        // A bandwidth budget counts the target's body as it is relayed.
        progress: meter && body !== null ? (bytes: number) => meter.progress(bytes) : null,
      };
      return finished(trace, answer, null);
    }
  }

  /**
   * From the request to its answer. Not async: a suspended async function keeps
   * its whole register file for every request waiting for its target; what waits
   * here is the trace and a `Waiting` that forward calls back (docs/decisions/node24-pretenuring.md).
   */
  const proxy = (req: Incoming, to: AnswerTo<Body>): void => {
    const started = recorded ? Date.now() : 0;
    metrics?.requestStarted();
    const { method, headers: incoming } = req;
    const origin = incoming.get('origin');
    const trace: Trace = {
      method,
      origin,
      // Read now: once the client has gone, its socket no longer has an address.
      client: recorded ? clientKey(req.client()) : '',
      started,
      target: null,
      upstreamMs: null,
      key: null,
      meter: null,
    };
    let preflight: Fields | null;
    try {
      preflight = checkPreflight(config, method, incoming, origin);
      if (!preflight) {
        checkRequest(config, method, incoming);
        const presented = incoming.get(KEY_HEADER);
        // A key to look up or a budget to spend is awaited; without, the target is asked at once.
        if (presented === null && config.anonymous && !limiter && !bytesLimiter) asked(req, trace, null, to);
        else void admitted(req, presented, trace, to);
        return;
      }
    } catch (error) {
      answerRefusal(to, trace, error);
      return;
    }
    to.answered(finished(trace, ownAnswer(204, preflight, null), null));
  };
  return { handle: proxy, spendBudget };

  /** The request's key looked up and its budgets spent, then the target asked. */
  async function admitted(req: Incoming, presented: string | null, trace: Trace, to: AnswerTo<Body>): Promise<void> {
    try {
      const key = presented === null && config.anonymous ? null : await identify(presented, trace.origin);
      trace.key = key;
      const budget = limiter || bytesLimiter ? await spend(req.client, trace.origin, key) : NO_BUDGET;
      if (budget.bytes) {
        const { name, spec } = budget.bytes;
        trace.meter = meter(bytesLimiter as ByteLimiter, name, spec, req.background ?? ignore);
      }
      asked(req, trace, budget.headers, to);
    } catch (error) {
      answerRefusal(to, trace, error);
    }
  }

  /**
   * Asks the target; `to` gets the answer to send, a refusal included.
   * @throws ProxyError for a target or a body refused before the target is asked.
   */
  function asked(req: Incoming, trace: Trace, budgetHeaders: Record<string, string> | null, to: AnswerTo<Body>): void {
    const url = parseTarget(req.target);
    trace.target = url;
    const body = clientBody(req);
    const first = {
      url,
      method: req.method,
      headers: requestHeaders(req.headers),
      body,
      abort: req.abort,
      client: req.client,
    };
    void forwardTo(upstream, first, forwarding, new Waiting(req, trace, url, budgetHeaders, to));
  }

  /** The proxy's refusal of the request, for any error, handed to `to`; `to.failed` when even that fails. */
  function answerRefusal(to: AnswerTo<Body>, trace: Trace, error: unknown): void {
    let answer: Answer<Body>;
    try {
      const refusedAs = asProxyError(error);
      const { status, headers, body } = refusal(refusedAs, trace.origin);
      answer = finished(trace, ownAnswer(status, headers, body), refusedAs.code);
    } catch (failure) {
      to.failed(failure);
      return;
    }
    to.answered(answer);
  }

  /** The answer with its `sent`: the bandwidth charged and the request recorded once its body was sent. */
  function finished(trace: Trace, answer: Omit<Answer<Body>, 'sent'>, code: string | null): Answer<Body> {
    // Only a target's body spends bandwidth; a refusal after the budget check spends none.
    const charged = answer.progress ? trace.meter : null;
    if (!recorded) return withSent(answer, charged ? (bytes) => charged.end(bytes) : ignore);
    const sent = (bytes: number) => {
      charged?.end(bytes);
      const record: RequestRecord = {
        method: trace.method,
        client: trace.client,
        origin: trace.origin,
        key: trace.key?.fingerprint,
        target: (config.logTargetUrl ? trace.target?.href : trace.target?.origin) ?? null,
        status: answer.status,
        bytes,
        error: code,
        ms: Date.now() - trace.started,
        upstreamMs: trace.upstreamMs,
      };
      log?.(record);
      metrics?.requestFinished(record);
    };
    return withSent(answer, sent);
  }

  /** The request body to forward, or null: Fetch forbids a GET or HEAD request body (workerd's fetch throws, undici drops it). */
  function clientBody(req: Incoming): ClientBody | null {
    const { method, headers: incoming } = req;
    if (method === 'GET' || method === 'HEAD' || !req.body) return null;
    checkDeclaredLength(incoming, config.maxBodyBytes);
    const length = caps.declaredBodies ? declaredLength(incoming.get('content-length')) : null;
    return length !== null && 'getReader' in req.body
      ? declaredBody(req.body, length, config.maxBodyBytes)
      : new ReplayableBody(req.body, config.maxBodyBytes, caps.drainUploads);
  }

  /**
   * Why the target's final answer, redirects followed, is not relayed, judged
   * before a byte of its body leaves; null when it is relayed.
   */
  function refusalOf(
    method: string,
    res: UpstreamResponse<Body>,
    budgetHeaders: Record<string, string> | null,
  ): ProxyError | null {
    if (res.status < 200 || res.status > 599) {
      return new ProxyError(
        'upstream_failed',
        `The target answered with status ${res.status}, which cannot be relayed.`,
      );
    }
    const noBody = bodiless(method, res.status);
    const verdict = noBody ? null : contentPolicy?.(res.headers.get('content-type'));
    if (verdict) {
      return new ProxyError(
        'content_not_allowed',
        `The target answered with ${verdict.type}, which this proxy does not relay: ${verdict.rule}.`,
        budgetHeaders ?? {},
      );
    }
    const declared = noBody ? 0 : Number(res.headers.get('content-length') ?? 0);
    if (config.maxResponseBytes && declared > config.maxResponseBytes) {
      return new ProxyError(
        'upstream_failed',
        `The target's response is ${declared} bytes, more than this proxy relays (${config.maxResponseBytes} bytes, CORSWAY_MAX_RESPONSE_BYTES).`,
      );
    }
    return null;
  }

  /** The target's headers as relayed: filtered, Location through the proxy, the proxy's own and the CORS ones. */
  function relayedHeaders(
    req: Incoming,
    res: UpstreamResponse<Body>,
    url: URL,
    finalUrl: URL,
    budgetHeaders: Record<string, string> | null,
    origin: string | null,
  ): Fields {
    const headers = responseHeaders(res.headers);
    // A redirect relayed to the browser must lead back through the proxy.
    const location = res.status >= 300 && res.status < 400 ? headers.get('location') : null;
    if (location) {
      try {
        headers.set('location', `${req.base}/${new URL(location, finalUrl).href}`);
      } catch {}
    }
    // responseHeaders left out the target's own: appended, not set (set scans to delete).
    headers.append('x-request-url', url.href);
    headers.append('x-final-url', finalUrl.href);
    if (budgetHeaders) mergeRateLimitHeaders(headers, budgetHeaders);
    addCorsHeaders(headers, origin);
    return headers;
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
    const byOrigin = !key && config.rateLimitBy === 'origin' && origin !== null;
    const name = key ? `key:${key.budget}` : byOrigin ? `origin:${origin}` : `ip:${clientKey(client())}`;
    const who = key ? `access key (${key.fingerprint})` : byOrigin ? 'origin' : 'client address';
    // A budget many clients share is split by client address (CORSWAY_RATE_LIMIT_SHARDS); a client's own is whole.
    const share = (spec: RateLimitSpec): Share =>
      key || byOrigin ? shareOf(name, spec, clientKey(client()), config.rateLimitShards) : { name, spec, parts: 1 };
    // Bytes first: checking them spends nothing, so a refusal for bandwidth costs no request.
    let bytesHeaders: Record<string, string> | null = null;
    const bytes = byteSpec ? share(byteSpec) : null;
    if (bytes) {
      const decision = await (bytesLimiter as ByteLimiter).check(bytes.name, bytes.spec);
      bytesHeaders = bandwidthHeaders(decision, bytes.spec.windowSeconds);
      if (!decision.allowed) {
        throw new ProxyError(
          'rate_limited',
          `Bandwidth budget spent: this proxy relays ${(byteSpec as RateLimitSpec).limit} bytes of responses per ${bytes.spec.windowSeconds} s per ${who}${partOf(bytes)}. Try again in ${decision.retryAfter} s.`,
          { ...bytesHeaders, 'retry-after': String(decision.retryAfter) },
        );
      }
    }
    let headers = bytesHeaders;
    if (requestSpec) {
      const requests = share(requestSpec);
      const decision: RateLimitDecision = await (limiter as RateLimiter).consume(requests.name, requests.spec);
      headers = joinPolicies(rateLimitHeaders(decision, requests.spec.windowSeconds), bytesHeaders);
      if (!decision.allowed) {
        throw new ProxyError(
          'rate_limited',
          `Too many requests: this proxy allows ${requestSpec.limit} per ${requestSpec.windowSeconds} s per ${who}${partOf(requests)}. Try again in ${decision.retryAfter} s.`,
          { ...headers, 'retry-after': String(decision.retryAfter) },
        );
      }
    }
    return { headers, bytes: bytes ? { name: bytes.name, spec: bytes.spec } : null };
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

/** A refusal's word on the part of a split budget the client spent. */
function partOf(share: Share): string {
  return share.parts > 1
    ? `, split by client address into ${share.parts} parts: yours, ${share.spec.limit}, is spent`
    : '';
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

/**
 * The proxy's own answer (a preflight, a refusal) as one literal: a spread
 * copy of it left the answer's readers (withSent) missing V8's inline caches
 * on every preflight (docs/decisions/preflight.md).
 */
function ownAnswer(status: number, headers: Fields, body: string | null): Omit<Answer<never>, 'sent'> {
  return { status, headers, body, limit: 0, progress: null };
}

/** What handling a request learned, for its record. */
interface Trace {
  readonly method: string;
  readonly origin: string | null;
  /** The client's key ('' when nothing is recorded). */
  readonly client: string;
  /** When the request came (0 when nothing is recorded). */
  readonly started: number;
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
 * The headers of the answer to a preflight (a 204), or null when the request
 * is none; the origin rule comes first, so a refused origin's preflight is a 403.
 * @throws ProxyError `origin_not_allowed`.
 */
export function checkPreflight(
  config: Config,
  method: string,
  headers: HeaderMap,
  origin: string | null,
): Fields | null {
  checkOrigin(config, origin);
  return isPreflight(method, headers) ? preflightFields(headers, config.maxAge) : null;
}
