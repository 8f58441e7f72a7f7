import { Abort } from '../core/abort.ts';
import { bytesStream } from '../core/body.ts';
import { Fields, type HeaderMap } from '../core/fields.ts';
import type { Cancellable, Upstream, UpstreamRequest, UpstreamResponse } from '../core/upstream.ts';
import { Broadcast } from './broadcast.ts';
import { appendCacheStatus, type CacheOutcome, type ForwardReason } from './cache-status.ts';
import {
  freshnessLifetime,
  initialAge,
  invalidated,
  notModified,
  notStorable,
  updatedHeaders,
  usable,
  validators,
  varyNames,
  varyValues,
} from './policy.ts';
import type { CacheStore, StoredResponse, VaryIndex } from './store.ts';

/*
 * The shared cache as a layer around the runtime's upstream: every redirect
 * hop passes through it, a hit never reaches the target, and a miss goes to
 * the wrapped upstream, whose guards (Node's connect-time address check)
 * stay in force. It sees the target's fields before the proxy adds its own
 * per-request ones (CORS, RateLimit, X-Request-URL), so those are never stored.
 */

/**
 * How the cache turns the upstream's bodies into web streams and back: the
 * identity for web streams; the Node entry's socket bodies have their own.
 */
export interface Bodies<Body extends Cancellable> {
  toStream(body: Body): ReadableStream<Uint8Array>;
  fromStream(stream: ReadableStream<Uint8Array>): Body;
  /** A stored body, whole in memory: a hit needs no stream where the runtime can send bytes as they are. */
  fromBytes(bytes: Uint8Array): Body;
}

const WEB_BODIES: Bodies<ReadableStream<Uint8Array>> = {
  toStream: (body) => body,
  fromStream: (stream) => stream,
  fromBytes: bytesStream,
};

export interface CacheOptions<Body extends Cancellable> {
  readonly store: CacheStore;
  /** @default web streams as they are */
  readonly bodies?: Bodies<Body>;
  /** The largest body stored; a larger one streams past the cache to every waiting client. */
  readonly maxEntryBytes: number;
  /** The clock, in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** What `/healthz` and `/metrics` report. */
export interface CacheStats {
  /** Stored responses and their bytes; null where the store cannot tell (the Cache API). */
  readonly entries: number | null;
  readonly bytes: number | null;
  /** Requests answered from the cache without asking the target. */
  readonly hits: number;
  /** Requests the cache sent on to the target (revalidations included). */
  readonly misses: number;
  /** Requests that waited for an identical one's answer instead of asking the target. */
  readonly coalesced: number;
}

export interface Cache<Body extends Cancellable = ReadableStream<Uint8Array>> {
  readonly upstream: Upstream<Body>;
  stats(): CacheStats;
}

/** The largest response kept, as a share of CORSWAY_CACHE_BYTES: one entry never crowds out the rest. */
export function maxEntryBytes(cacheBytes: number): number {
  return Math.floor(cacheBytes / 8);
}

/** How long a URL's variant index is kept: it is small, and outlives the responses it indexes. */
const INDEX_KEEP_SECONDS = 7 * 86400;
/** How long a stale response with validators is kept for revalidation. */
const REVALIDATE_KEEP_SECONDS = 86400;
/** Fields never stored: cookies belong to one client. */
const NOT_STORED = new Set(['set-cookie', 'set-cookie2']);

/** The shared answer of a request that others may wait for. */
interface Flight {
  readonly head: Promise<SharedHead | null>;
  /** Requests still waiting for the head: the last to go aborts the target request. */
  waiting: number;
  readonly abort: Abort;
}

interface SharedHead {
  readonly status: number;
  readonly headers: Fields;
  readonly reason: ForwardReason;
  readonly varyKey: (headers: HeaderMap) => string;
  readonly leaderKey: string;
  readonly body: Broadcast | null;
}

/** Wraps `upstream` with the shared cache. */
export function createCache<Body extends Cancellable = ReadableStream<Uint8Array>>(
  upstream: Upstream<Body>,
  options: CacheOptions<Body>,
): Cache<Body> {
  const { store, maxEntryBytes } = options;
  const bodies = options.bodies ?? (WEB_BODIES as unknown as Bodies<Body>);
  const clock = options.now ?? Date.now;
  const seconds = () => Math.floor(clock() / 1000);
  const flights = new Map<string, Flight>();
  let hits = 0;
  let misses = 0;
  let coalesced = 0;

  const cached: Upstream<Body> = async (req) => {
    const { method, url } = req;
    if (method !== 'GET' && method !== 'HEAD') {
      const res = await upstream(req);
      for (const gone of invalidated(method, url, res)) await quietly(store.invalidate(gone.href));
      return res;
    }
    if (req.headers.has('range')) {
      misses++;
      return annotated(await upstream(req), { fwd: 'bypass', detail: 'range' });
    }

    const key = url.href;
    const index = await quietly(store.index(key));
    const variant = index ? variantKey(key, index, req.headers) : null;
    const entry = variant ? await quietly(store.get(variant)) : undefined;
    let reason: ForwardReason = index && index.names.length > 0 ? 'vary-miss' : 'uri-miss';
    if (entry && variant) {
      const now = seconds();
      const stored = { status: entry.status, headers: fieldsOf(entry.headers) };
      const age = entry.received > 0 ? initialAge(stored, entry.requested, entry.received) + now - entry.received : 0;
      const lifetime = freshnessLifetime(stored, entry.received);
      const use = usable(stored, req.headers, age, lifetime);
      if (use.ok) {
        hits++;
        return fromStore(entry, req, age, { hit: true, ttl: lifetime - age });
      }
      reason = use.reason === 'request' ? 'request' : 'stale';
      const conditions = validators(stored.headers);
      if (conditions) {
        misses++;
        return revalidate(req, entry, variant, conditions, reason);
      }
    }
    misses++;
    if (method === 'HEAD') return annotated(await upstream(req), { fwd: reason });
    // A request with credentials gets its own answer: it may not be the one a shared cache may give others.
    if (!req.headers.has('authorization')) {
      const joined = await join(key, req);
      if (joined) return joined;
    }
    return lead(key, req, reason);
  };

  /** Asks the target whether the stored response is current; a 304 refreshes it (RFC 9111 4.3.4). */
  async function revalidate(
    req: UpstreamRequest,
    entry: StoredResponse,
    variant: string,
    conditions: Record<string, string>,
    reason: ForwardReason,
  ): Promise<UpstreamResponse<Body>> {
    const headers = new Fields(req.headers);
    // The client's own conditions are answered from the refreshed response instead.
    for (const name of ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']) headers.delete(name);
    for (const [name, value] of Object.entries(conditions)) headers.set(name, value);
    const requested = seconds();
    const res = await upstream(withHeaders(req, headers));
    if (res.status !== 304) return (await settle(req, res, requested, reason, null)).own;
    await res.body?.cancel();
    const refreshed: StoredResponse = {
      status: entry.status,
      headers: updatedHeaders(fieldsOf(entry.headers), res.headers),
      body: entry.body,
      requested,
      received: seconds(),
    };
    const facts = { status: refreshed.status, headers: fieldsOf(refreshed.headers) };
    const lifetime = freshnessLifetime(facts, refreshed.received);
    const age = initialAge(facts, requested, refreshed.received);
    await quietly(store.put(variant, refreshed, keepFor(lifetime, age, facts.headers)));
    return fromStore(refreshed, req, age, { fwd: reason, fwdStatus: 304, ttl: lifetime - age });
  }

  /** Waits for an identical request already on its way to the target; null when its answer cannot be shared. */
  async function join(key: string, req: UpstreamRequest): Promise<UpstreamResponse<Body> | null> {
    const flight = flights.get(key);
    if (!flight) return null;
    flight.waiting++;
    const head = await untilHead(flight, flight.head, req);
    if (!head || head.varyKey(req.headers) !== head.leaderKey) return null;
    const body = head.body ? head.body.subscribe() : null;
    if (head.body && !body) return null;
    coalesced++;
    const headers = new Fields(head.headers);
    appendCacheStatus(headers, { fwd: head.reason, collapsed: true });
    return { status: head.status, headers, body: body && bodies.fromStream(body) };
  }

  /** Sends the request for everyone who asks for the same URL meanwhile. */
  async function lead(key: string, req: UpstreamRequest, reason: ForwardReason): Promise<UpstreamResponse<Body>> {
    const abort = new Abort();
    let share: (head: SharedHead | null) => void = () => {};
    const flight: Flight = { head: new Promise((resolve) => (share = resolve)), waiting: 1, abort };
    flights.set(key, flight);
    const done = () => {
      if (flights.get(key) === flight) flights.delete(key);
    };
    const requested = seconds();
    // The target request belongs to everyone waiting: one client going away does not abort it.
    const prepared = upstream(withAbort(req, abort)).then((res) => settle(req, res, requested, reason, done));
    prepared.then(
      ({ head }) => {
        if (!head) done();
        share(head);
      },
      () => {
        done();
        share(null);
      },
    );
    try {
      return (await untilHead(flight, prepared, req)).own;
    } catch (error) {
      prepared.then(
        ({ own }) => own.body?.cancel(),
        () => {},
      );
      throw error;
    }
  }

  /**
   * Stores the target's response when a shared cache may, and prepares it:
   * for the request, and (`head`) for those waiting for it; `stored` is
   * called once the body is stored or will not be.
   */
  async function settle(
    req: UpstreamRequest,
    res: UpstreamResponse<Body>,
    requested: number,
    reason: ForwardReason,
    stored: (() => void) | null,
  ): Promise<{ own: UpstreamResponse<Body>; head: SharedHead | null }> {
    const received = seconds();
    const headers = new Fields(res.headers);
    const facts = { status: res.status, headers };
    const why = notStorable(req, facts);
    const lifetime = freshnessLifetime(facts, received);
    const age = initialAge(facts, requested, received);
    const keep = keepFor(lifetime, age, headers);
    const names = varyNames(headers);
    if (why !== null || keep <= 0 || names === null) {
      const own = annotated({ status: res.status, headers, body: res.body }, { fwd: reason, detail: why ?? 'stale' });
      return { own, head: null };
    }
    const kept = new Fields();
    headers.forEach((value, name) => {
      if (!NOT_STORED.has(name)) kept.append(name, value);
    });
    const entry = (body: Uint8Array): StoredResponse => ({
      status: res.status,
      headers: kept.pairs(),
      body,
      requested,
      received,
    });
    const keepBody = async (body: Uint8Array | null) => {
      try {
        if (body) await put(req.url.href, names, req.headers, entry(body), keep);
      } finally {
        stored?.();
      }
    };
    const broadcast = res.body ? new Broadcast(bodies.toStream(res.body), maxEntryBytes, keepBody) : null;
    if (!broadcast) await keepBody(new Uint8Array());
    const varyKey = (h: HeaderMap) => varyValues(names, h);
    const head = { status: res.status, headers, reason, varyKey, leaderKey: varyKey(req.headers), body: broadcast };
    const out = new Fields(headers);
    // Said when the response arrives: the body fits, as far as its declared length tells.
    appendCacheStatus(out, { fwd: reason, stored: Number(headers.get('content-length') ?? 0) <= maxEntryBytes });
    const own = broadcast?.subscribe();
    return { own: { status: res.status, headers: out, body: own ? bodies.fromStream(own) : null }, head };
  }

  async function put(
    key: string,
    names: readonly string[],
    request: HeaderMap,
    entry: StoredResponse,
    keep: number,
  ): Promise<void> {
    let index = await store.index(key);
    if (!index || index.names.join(',') !== names.join(',')) {
      index = { names, generation: crypto.randomUUID().slice(0, 8) };
      await store.setIndex(key, index, INDEX_KEEP_SECONDS);
    }
    await store.put(variantKey(key, index, request), entry, keep);
  }

  function fromStore(
    entry: StoredResponse,
    req: UpstreamRequest,
    age: number,
    outcome: CacheOutcome,
  ): UpstreamResponse<Body> {
    const headers = fieldsOf(entry.headers);
    headers.set('age', String(Math.max(0, age)));
    appendCacheStatus(headers, outcome);
    // The client's own conditional request is answered here (RFC 9111 4.3.2).
    if (entry.status === 200 && notModified(req.headers, headers)) {
      headers.delete('content-length');
      return { status: 304, headers, body: null };
    }
    const body = req.method === 'HEAD' ? null : bodies.fromBytes(entry.body);
    return { status: entry.status, headers, body };
  }

  return {
    upstream: cached,
    stats() {
      const held = store.stats();
      return { entries: held?.entries ?? null, bytes: held?.bytes ?? null, hits, misses, coalesced };
    },
  };
}

/** The store key of the variant `request` selects. */
function variantKey(url: string, index: VaryIndex, request: HeaderMap): string {
  return `${url}\n${index.generation}\n${varyValues(index.names, request)}`;
}

/** Seconds worth keeping a response: while fresh, and a day longer when it can be revalidated. */
function keepFor(lifetime: number, age: number, headers: HeaderMap): number {
  const fresh = Math.max(0, lifetime - age);
  return validators(headers) ? fresh + REVALIDATE_KEEP_SECONDS : fresh;
}

function fieldsOf(pairs: readonly (readonly [string, string])[]): Fields {
  const fields = new Fields();
  for (const [name, value] of pairs) fields.append(name, value);
  return fields;
}

function annotated<Body extends Cancellable>(
  res: UpstreamResponse<Body>,
  outcome: CacheOutcome,
): UpstreamResponse<Body> {
  const headers = new Fields(res.headers);
  appendCacheStatus(headers, outcome);
  return { status: res.status, headers, body: res.body };
}

/** A store that fails is a miss, not a failed request. */
async function quietly<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch {
    return undefined;
  }
}

/**
 * Waits for `promise` on behalf of one of a flight's requests: its client
 * going away rejects the wait, and the last one to go aborts the target request.
 */
function untilHead<T>(flight: Flight, promise: Promise<T>, req: UpstreamRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      flight.waiting--;
      return true;
    };
    req.onAbort((why) => {
      if (!settle()) return;
      if (flight.waiting === 0) flight.abort.abort(why);
      reject(why);
    });
    promise.then(
      (value) => settle() && resolve(value),
      (error: unknown) => settle() && reject(error),
    );
  });
}

/** Where a cache hop's request learns of an abort: the client's request, or the Abort of a shared one. */
interface AbortSource {
  readonly signal: AbortSignal;
  onAbort(listener: (reason: unknown) => void): void;
}

/**
 * The request the cache sends on. A class, not an object literal with a
 * `signal` getter: each such literal gets a shape of its own, and on Node 24
 * that made every request's objects survive scavenges
 * (docs/decisions/node24-pretenuring.md).
 */
class CacheHop implements UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Fields;
  readonly body: UpstreamRequest['body'];
  readonly #abort: AbortSource;

  constructor(req: UpstreamRequest, headers: Fields, abort: AbortSource) {
    this.url = req.url;
    this.method = req.method;
    this.headers = headers;
    this.body = req.body;
    this.#abort = abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  onAbort(listener: (reason: unknown) => void): void {
    this.#abort.onAbort(listener);
  }
}

/** The same request with other fields. */
function withHeaders(req: UpstreamRequest, headers: Fields): UpstreamRequest {
  return new CacheHop(req, headers, req);
}

/** The same request, aborted only by `abort`: the target request of several clients. */
function withAbort(req: UpstreamRequest, abort: Abort): UpstreamRequest {
  return new CacheHop(req, req.headers, abort);
}
