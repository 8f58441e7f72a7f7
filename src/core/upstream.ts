import type { Abort } from './abort.ts';
import type { ClientBody, RequestBody } from './body.ts';
import { type Deadlines, timerDeadlines } from './deadlines.ts';
import { findProxyError, ProxyError } from './errors.ts';
import { failureMessage, timeoutMessage } from './failure.ts';
import { Fields, type HeaderMap } from './fields.ts';
import { checkParsedTarget, checkTarget, type TargetPolicy, type TargetURL } from './target.ts';
import type { TargetHeaderTable } from './target-headers.ts';

/** One request to a target, exactly as to be sent: redirects are not followed. */
export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  /** For `fetch`, pass `headers.pairs()`. */
  readonly headers: Fields;
  readonly body: RequestBody | null;
  /** Aborted when the client goes away, the target is too slow or the upload too large. */
  readonly signal: AbortSignal;
  /** The same as a callback, which costs less than `signal` on Node: called once, with the reason. A method: call it on the request. */
  onAbort(listener: (reason: unknown) => void): void;
  /** The client's address, read only when needed (Node bounds DNS lookups per client). */
  readonly client?: () => string;
}

/** What the proxy needs of a target's body before it is relayed: a way to drop it. */
export interface Cancellable {
  cancel(): Promise<void>;
}

/**
 * The target's answer. The body streams; compressed bytes may pass untouched.
 * A web stream by default; the Node entry's own upstream hands over its
 * socket's body (node-upstream.ts).
 */
export interface UpstreamResponse<Body extends Cancellable = ReadableStream<Uint8Array>> {
  readonly status: number;
  /** WHATWG Headers, or Fields. */
  readonly headers: HeaderMap;
  readonly body: Body | null;
}

/**
 * How the runtime talks to targets. Node's refuses non-public addresses at
 * connect time; Workers' is the global fetch. Tests pass their own.
 */
export type Upstream<Body extends Cancellable = ReadableStream<Uint8Array>> = (
  request: UpstreamRequest,
) => Promise<UpstreamResponse<Body>>;

export interface ForwardOptions {
  readonly policy: TargetPolicy;
  readonly maxRedirects: number;
  readonly timeoutMs: number;
  /** Where the wait for headers is timed, deadlines of `timeoutMs`. @default a runtime timer per request */
  readonly deadlines?: Deadlines;
  /** The operator's headers, set on each hop by that hop's host (CORSWAY_TARGET_HEADERS). @default none */
  readonly targetHeaders?: TargetHeaderTable | null;
}

export interface Forwarded<Body extends Cancellable> {
  readonly response: UpstreamResponse<Body>;
  /** The URL that answered, after redirects. */
  readonly url: URL;
}

/**
 * One hop's request. A class, not an object literal with a `signal` getter:
 * V8 gives every such literal a shape of its own (the getter is a new closure
 * each time), and the upstream's code that reads them then never settles
 * (megamorphic property loads, repeated recompilation). `onAbort` is a method,
 * not a closure per instance in a field: with the closure, Node 24 promoted
 * every request's objects (docs/decisions/node24-pretenuring.md).
 */
class Hop implements UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Fields;
  readonly body: RequestBody | null;
  readonly #abort: Abort;
  readonly client: (() => string) | undefined;

  constructor(
    url: URL,
    method: string,
    headers: Fields,
    body: RequestBody | null,
    abort: Abort,
    client: (() => string) | undefined,
  ) {
    this.url = url;
    this.method = method;
    this.headers = headers;
    this.body = body;
    this.#abort = abort;
    this.client = client;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  onAbort(listener: (reason: unknown) => void): void {
    this.#abort.onAbort(listener);
  }
}

/** Fetch "redirect status": with a Location, the proxy follows it (and a browser would). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Headers describing a body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/** What forward is given of the client's request. */
interface FirstHop {
  url: TargetURL;
  method: string;
  headers: Fields;
  body: ClientBody | null;
  abort: Abort;
  client?: () => string;
}

/** What follows a forward, called once: with the answer to relay, or with the failure (the SPEC's error). */
export interface ForwardEnd<Body extends Cancellable, Result> {
  relay(forwarded: Forwarded<Body>): Result | Promise<Result>;
  fail(error: unknown): Result | Promise<Result>;
}

/** forward's end: its promise settles with the answer, or rejects with the failure. */
const SETTLE: ForwardEnd<Cancellable, Forwarded<Cancellable>> = {
  relay: (forwarded) => forwarded,
  fail: (error) => {
    throw error;
  },
};

/**
 * Sends the request and follows redirects itself, so every hop passes the same
 * target checks. 301/302/303 turn POST into GET as browsers do; other hops
 * replay the body when it could be kept, and are relayed to the client otherwise.
 * `abort` is the request's, aborted by the caller when the client goes away;
 * forward aborts it when the target is too slow or the upload too large.
 */
export function forward<Body extends Cancellable>(
  upstream: Upstream<Body>,
  first: FirstHop,
  options: ForwardOptions,
): Promise<Forwarded<Body>> {
  return forwardTo(upstream, first, options, SETTLE as unknown as ForwardEnd<Body, Forwarded<Body>>);
}

/**
 * forward, ending in `end`: its promise settles with what `end` returns. Not
 * a `then` on forward's promise, whose two callbacks, their context and one
 * promise more a request held while it waited (docs/decisions/node24-pretenuring.md).
 */
export function forwardTo<Body extends Cancellable, Result>(
  upstream: Upstream<Body>,
  first: FirstHop,
  options: ForwardOptions,
  end: ForwardEnd<Body, Result>,
): Promise<Result> {
  return new Forwarding(upstream, first, options, end).send(first.url);
}

/**
 * One forward: where the request stands between hops. Not an async function:
 * a suspended one keeps its whole register file (38 registers for the loop
 * below) for every request waiting for its target, and this object, the
 * callbacks of one `then` and the target's promise are all that wait here
 * (docs/decisions/node24-pretenuring.md). A redirect, rare, runs as before in `#next`.
 */
class Forwarding<Body extends Cancellable, Result> {
  url: URL;
  method: string;
  headers: Fields;
  body: ClientBody | null;
  /** A body no hop needs any more (a redirect turned the request into a GET), still being read and dropped. */
  dropped: ClientBody | null = null;
  timedOut = false;
  hop = 0;
  readonly #upstream: Upstream<Body>;
  readonly #abort: Abort;
  readonly #client: (() => string) | undefined;
  /** The client's body, as first sent: whatever hops carried, its error and its rest are awaited on failure. */
  readonly #upload: ClientBody | null;
  readonly #options: ForwardOptions;
  readonly #deadlines: Deadlines;
  readonly #deadline: unknown;
  readonly #end: ForwardEnd<Body, Result>;

  constructor(upstream: Upstream<Body>, first: FirstHop, options: ForwardOptions, end: ForwardEnd<Body, Result>) {
    this.url = first.url;
    this.method = first.method;
    this.headers = first.headers;
    this.body = first.body;
    this.#upstream = upstream;
    this.#abort = first.abort;
    this.#client = first.client;
    this.#upload = first.body;
    this.#options = options;
    this.#end = end;
    this.#deadlines = options.deadlines ?? timerDeadlines(options.timeoutMs);
    // Arrows, not bound methods: Node 20 makes a bound function in its runtime, not in
    // generated code (docs/decisions/node24-pretenuring.md, fifth round).
    this.#deadline = this.#deadlines.start(() => this.#expire());
    if (first.body) abortOnOverflow(first.body, first.abort);
  }

  #expire(): void {
    this.timedOut = true;
    this.#abort.abort();
  }

  /** Sends the current hop, the first one with the URL the client gave; settles with what the end made of the answer. */
  send(first?: TargetURL): Promise<Result> {
    let response: Promise<UpstreamResponse<Body>>;
    try {
      if (first) checkParsedTarget(first, this.#options.policy);
      else checkRedirectTarget(this.url, this.#options.policy);
      const { url, body } = this;
      const headers = withTargetHeaders(this.headers, url, this.#options.targetHeaders);
      const hop = new Hop(url, this.method, headers, body?.hop() ?? null, this.#abort, this.#client);
      response = this.#upstream(hop);
    } catch (error) {
      return this.#failed(error);
    }
    return response.then(
      (answer) => this.#answered(answer),
      (error: unknown) => this.#failed(error),
    );
  }

  /** The target's answer: relayed at once when it is the last (nearly always), else `#next`. */
  #answered(response: UpstreamResponse<Body>): Result | Promise<Result> {
    let last: boolean;
    try {
      // A runtime may end the upload cleanly when the body stream errors
      // (workerd does), so a target can answer a body the proxy cut off.
      last = this.dropped === null && !this.body?.error && !isRedirect(response);
      if (last) this.#deadlines.clear(this.#deadline);
    } catch (error) {
      return this.#failed(error);
    }
    return last ? this.#end.relay({ response, url: this.url }) : this.#next(response);
  }

  /** After an answer `#answered` did not relay: the upload's error, a redirect to follow or to relay, or a dropped body to wait for. */
  async #next(response: UpstreamResponse<Body>): Promise<Result> {
    let relayed: Forwarded<Body> | null;
    try {
      relayed = await this.#follow(response);
    } catch (error) {
      return this.#failed(error);
    }
    if (!relayed) {
      this.hop++;
      return this.send();
    }
    this.#deadlines.clear(this.#deadline);
    return this.#end.relay(relayed);
  }

  /** What to relay after `response`, or null to send the next hop to its Location. */
  async #follow(response: UpstreamResponse<Body>): Promise<Forwarded<Body> | null> {
    const { body, url, method } = this;
    if (body?.error) {
      await response.body?.cancel();
      throw body.error;
    }
    if (!isRedirect(response)) {
      if (this.dropped) await this.dropped.settle(5_000);
      return { response, url };
    }
    const location = response.headers.get('location') as string;
    // Fetch standard, HTTP-redirect fetch step 12: 301/302 turn POST, and 303
    // turns anything but GET/HEAD, into a GET without body; the rest keep both.
    const toGet =
      ((response.status === 301 || response.status === 302) && method === 'POST') ||
      (response.status === 303 && method !== 'GET' && method !== 'HEAD');
    // Every byte of the body goes to the next hop, or the redirect goes to the client.
    if (!toGet && body && !body.endHop()) {
      if (body.error) {
        await response.body?.cancel();
        throw body.error;
      }
      // Answered while the client still sends, node:http closes the connection
      // under the unread rest and the client may never read the redirect
      // (with drainUploads; elsewhere the rest is cancelled and settle returns at once).
      body.dropRest();
      await body.settle(5_000);
      return { response, url };
    }
    await response.body?.cancel();
    const next = nextHop(location, url, this.hop, this.#options.maxRedirects);
    const headers = new Fields(this.headers);
    if (next.origin !== url.origin) headers.delete('authorization');
    if (toGet) {
      this.method = 'GET';
      // As for a relayed 307/308: with drainUploads the rest is read and dropped
      // (cancelled mid-upload, node:http loses the client's connection), elsewhere
      // cancelled. No hop carries it any more: past CORSWAY_MAX_BODY_BYTES it aborts none.
      if (body) {
        body.onOverflow = () => {};
        body.dropRest();
        this.dropped = body;
      }
      this.body = null;
      for (const name of BODY_HEADERS) headers.delete(name);
    }
    this.headers = headers;
    this.url = next;
    return null;
  }

  /** Every failure, once: becomes the SPEC's error, after the rest of an upload was read when it is drained; the end is called with it. */
  async #failed(error: unknown): Promise<Result> {
    let failure: unknown;
    try {
      // With drainUploads, the 413 waits until the rest of the upload arrived
      // (bounded): node:http resets a connection answered while the client still
      // sends, and the client never reads its 413.
      await this.#upload?.settle(5_000);
      failure = upstreamError(error, {
        timedOut: this.timedOut,
        body: this.#upload,
        timeoutMs: this.#options.timeoutMs,
        url: this.url,
      });
    } catch (thrown) {
      failure = thrown;
    } finally {
      this.#deadlines.clear(this.#deadline);
    }
    return this.#end.fail(failure);
  }
}

/** An upload past CORSWAY_MAX_BODY_BYTES aborts the hop (see ReplayableBody.onOverflow). */
function abortOnOverflow(body: ClientBody, abort: Abort): void {
  body.onOverflow = (error) => abort.abort(error);
}

/** A redirect the proxy follows: a redirect status with a Location. */
function isRedirect(response: UpstreamResponse<Cancellable>): boolean {
  return REDIRECT_STATUSES.has(response.status) && response.headers.get('location') !== null;
}

/**
 * The hop's headers with the operator's for its host, replacing the client's.
 * Judged again on every hop from the client's headers, so they never reach another host.
 */
function withTargetHeaders(headers: Fields, url: URL, targetHeaders: TargetHeaderTable | null | undefined): Fields {
  const set = targetHeaders?.forHost(url.hostname);
  if (!set) return headers;
  const hop = new Fields(headers);
  for (const [name, value] of set) hop.set(name, value);
  return hop;
}

/**
 * The URL a redirect leads to, when one more may be followed.
 * @throws ProxyError `upstream_failed` past `maxRedirects`, or for a Location that is no URL.
 */
export function nextHop(location: string, from: URL, hop: number, maxRedirects: number): URL {
  if (hop >= maxRedirects) {
    throw new ProxyError(
      'upstream_failed',
      `The target redirected more than ${maxRedirects} times (CORSWAY_MAX_REDIRECTS); it may be a redirect loop.`,
    );
  }
  try {
    return new URL(location, from);
  } catch {
    throw new ProxyError('upstream_failed', 'The target redirected to a Location that is not a valid URL.');
  }
}

/**
 * The target rules for where a redirect leads, said so the client knows the
 * URL it gave was not the one refused.
 */
function checkRedirectTarget(url: URL, policy: TargetPolicy): void {
  try {
    checkTarget(url, policy);
  } catch (error) {
    if (!(error instanceof ProxyError)) throw error;
    throw new ProxyError(error.code, `The target redirected to a URL this proxy refuses: ${error.message}`);
  }
}

function upstreamError(
  error: unknown,
  context: { timedOut: boolean; body: ClientBody | null; timeoutMs: number; url: URL },
): unknown {
  if (context.body?.error) return context.body.error;
  const known = findProxyError(error);
  if (known) return known;
  if (context.timedOut) return new ProxyError('upstream_timeout', timeoutMessage(context.url, context.timeoutMs));
  return new ProxyError('upstream_failed', failureMessage(error, context.url));
}
