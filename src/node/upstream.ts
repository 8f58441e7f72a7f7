import type { Dispatcher } from 'undici';
import { clientKey } from '../core/address.ts';
import type { ChunkReader } from '../core/body.ts';
import { Fields } from '../core/fields.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../core/upstream.ts';
import { type Egress, egressRoute, pinnedOrigin } from './egress.ts';
import { checkedAddress, guardedConnector } from './guard.ts';
import { skippingContinue } from './interim.ts';
import { createResolver, type Resolve, type ResolverOptions } from './resolver.ts';
import { Agent } from './undici.ts';
import { Upload } from './upload.ts';

export { type Egress, egressFromEnv } from './egress.ts';
export { guardedConnector } from './guard.ts';
export type { Resolve, ResolverOptions } from './resolver.ts';

/**
 * The Node upstream: undici's dispatcher over a keep-alive pool, driven
 * directly (not through `request`, whose Readable body costs as much again as
 * the rest of a small proxied request). It neither follows redirects nor
 * decodes bodies, so compressed bytes pass through with the Content-Encoding
 * and Content-Length that describe them. Why undici and not node:http's
 * client: docs/decisions/undici-not-node-http.md.
 *
 * Names are resolved by c-ares (resolver.ts) and connected to by the address
 * that was checked (guard.ts). Through an egress proxy, which the guard cannot
 * watch connect, the target's addresses are checked first and the proxy is
 * handed the checked address, never the name (egress.ts).
 */
export function nodeUpstream(options: {
  allowPrivateNetwork: boolean;
  /** Name resolution in place of c-ares (tests): no cache, no per-client bound. */
  resolve?: Resolve;
  /** @default the system's DNS servers and hosts file */
  dns?: ResolverOptions;
  /** @default null (connect directly) */
  egress?: Egress | null;
  /** The app's wait for response headers (CORSWAY_TIMEOUT_MS), which undici's own never cuts short. @default 30000 */
  timeoutMs?: number;
  /** How long a target's body may stall before it is cut. @default 300000 (undici's) */
  bodyTimeoutMs?: number;
}): {
  /** Hands out web streams, as every upstream of the portable app does. */
  upstream: Upstream;
  /** Hands out the socket's body itself, for the Node entry to write straight to its client. */
  socketUpstream: Upstream<SocketBody>;
  close: () => Promise<void>;
} {
  const resolver = options.resolve ? null : createResolver(options.dns);
  const resolve = options.resolve ?? (resolver as NonNullable<typeof resolver>).resolve;
  const guard = !options.allowPrivateNetwork;
  // The app times the wait for headers itself; undici's header timer, never the shorter, equals its
  // body timer when it can, so its parser refreshes one timer per response instead of replacing it.
  const bodyTimeout = options.bodyTimeoutMs ?? 300_000;
  const agentOptions = { headersTimeout: Math.max(options.timeoutMs ?? 0, bodyTimeout), bodyTimeout };
  const direct = new Agent({ ...agentOptions, connect: skippingContinue(guardedConnector(resolve, undefined, guard)) });
  const egress = options.egress ? egressRoute(options.egress, agentOptions) : null;

  // Counted against the client's bound only while DNS is asked: a cached name
  // or an IP literal costs one map lookup here, and nothing for a new client.
  const lookup = (request: UpstreamRequest): Resolve =>
    resolver ? (hostname) => resolver.lookup(hostname, clientKey(request.client?.() ?? '')) : resolve;

  // Not async: an IP literal or a cached name goes straight to the dispatcher, without a promise of its own.
  const socketUpstream: Upstream<SocketBody> = (request) => {
    const { url } = request;
    const via = egress?.route(url) ?? null;
    if (via === null) {
      const host = url.hostname;
      if (!resolver || isLiteral(host) || resolver.known(host)) return dispatch(direct, request);
      return lookup(request)(host).then(() => dispatch(direct, request));
    }
    if (!guard) return dispatch(via, request);
    return checkedAddress(url.hostname, lookup(request)).then((address) =>
      dispatch(via, request, pinnedOrigin(url, address)),
    );
  };
  const upstream: Upstream = async (request) => {
    const { status, headers, body } = await socketUpstream(request);
    return { status, headers, body: body?.stream() ?? null };
  };
  return {
    upstream,
    socketUpstream,
    close: async () => {
      resolver?.close();
      await Promise.all([direct.close(), egress?.close()]);
    },
  };
}

/**
 * Sends one request; `origin` in place of the URL's keeps the name in Host (and SNI).
 * No closure here closes over this frame: the abort listener lives until the
 * answer, and would keep the request, its headers and its URL alive with it.
 */
function dispatch(agent: Dispatcher, request: UpstreamRequest, origin?: string): Promise<UpstreamResponse<SocketBody>> {
  const exchange = new Exchange();
  request.onAbort((why) => exchange.abort(why));
  const { url, method, headers, body } = request;
  try {
    agent.dispatch(
      {
        origin: origin ?? url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers: origin ? [...headers.flat(), 'host', url.host] : headers.flat(),
        body: body && new Upload(body),
      },
      exchange,
    );
  } catch (error) {
    exchange.fail(error);
  }
  return exchange.answer;
}

/**
 * One request's undici handler. A class, so its methods are shared: an object
 * literal of methods cost a closure per method and a context per request, all
 * alive across the wait for the target (docs/decisions/node24-pretenuring.md).
 */
class Exchange implements Dispatcher.DispatchHandler {
  /** The target's answer, once its head arrived. */
  readonly answer: Promise<UpstreamResponse<SocketBody>>;
  /** Settles `answer`; it rejects through it too, so the `reject` function is not held while the request waits. */
  #resolve!: (response: UpstreamResponse<SocketBody> | Promise<never>) => void;
  #controller: Dispatcher.DispatchController | null = null;
  #target: SocketBody | null = null;
  #reason: Error | null = null;
  #ended = false;

  constructor() {
    this.answer = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** The request failed before undici took it, or before the target's head arrived. */
  fail(error: unknown): void {
    this.#resolve(Promise.reject(error));
  }

  /** The request's abort: before the request starts, it is aborted as it starts. */
  abort(why: unknown): void {
    this.#reason = why instanceof Error ? why : new Error(String(why));
    if (!this.#ended) this.#controller?.abort(this.#reason);
  }

  onRequestStart(started: Dispatcher.DispatchController): void {
    this.#controller = started;
    if (this.#reason !== null) started.abort(this.#reason);
  }

  onResponseStart(
    started: Dispatcher.DispatchController,
    status: number,
    fields: Record<string, string | string[] | undefined>,
  ): void {
    // An interim response (103 Early Hints ...): the final one follows (RFC 9110 15.2).
    if (status < 200) return;
    const out = new Fields();
    const names = Object.keys(fields);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const value = fields[name];
      if (typeof value === 'string') out.append(name, value);
      else if (Array.isArray(value)) for (const v of value) out.append(name, v);
    }
    const target = new SocketBody(started);
    this.#target = target;
    this.#resolve({ status, headers: out, body: target });
  }

  onResponseData(_: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici hands over an empty chunk each time a paused body resumes
    // (after every chunk of a large body); relaying it would cost the
    // client's response a write call and an empty write(2).
    if (chunk.length > 0) this.#target?.push(chunk);
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#target?.finish(null);
  }

  onResponseError(_: Dispatcher.DispatchController, error: Error): void {
    this.#ended = true;
    if (this.#target) this.#target.finish(error);
    else this.fail(error);
  }
}

/** How much of a target's body is held while nobody reads it yet. */
const HOLD_BYTES = 64 * 1024;

/**
 * A target's body as it comes off the socket. Until a reader takes it, a
 * little is held (the whole of a small body usually arrives with the
 * headers) and the socket is paused; then each chunk goes straight to the
 * reader, and the socket pauses whenever the reader asks it to wait.
 */
export class SocketBody {
  readonly #controller: Dispatcher.DispatchController;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #ended = false;
  #error: Error | null = null;
  #reader: ChunkReader | null = null;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  push(chunk: Buffer): void {
    if (this.#reader) {
      if (!this.#reader.data(chunk)) this.#controller.pause();
      return;
    }
    // The first chunk as a one-slot array: pushed onto an empty one, V8 would allocate 17 slots.
    if (this.#held.length === 0) this.#held = [chunk];
    else this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes >= HOLD_BYTES) this.#controller.pause();
  }

  finish(error: Error | null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (!this.#reader) return;
    if (error) this.#reader.error(error);
    else this.#reader.end();
  }

  /** Hands the body to `reader`: what is held at once, then each chunk as it arrives. */
  read(reader: ChunkReader): void {
    this.#reader = reader;
    const held = this.#held;
    this.#held = [];
    let ready = true;
    for (const chunk of held) ready = reader.data(chunk) && ready;
    if (this.#ended) {
      if (this.#error) reader.error(this.#error);
      else reader.end();
    } else if (ready) this.#controller.resume();
  }

  /**
   * The body, when it came in one chunk and has ended (a small body usually
   * arrives whole with the headers), for the listener to end the response
   * with; null otherwise. Takes nothing: `read` still hands out all of it.
   */
  whole(): Buffer | null {
    return this.#ended && this.#error === null && this.#reader === null && this.#held.length === 1
      ? (this.#held[0] as Buffer)
      : null;
  }

  /** Lets the target's bytes flow again after the reader asked to wait. */
  resume(): void {
    this.#controller.resume();
  }

  /** Drops the body: the target's connection is closed unless it was already read to its end. */
  async cancel(): Promise<void> {
    this.#held = [];
    this.#reader = null;
    if (!this.#ended) this.#controller.abort(new Error('cancelled'));
  }

  /** The body as a web stream, for runtimes of the portable app. */
  stream(): ReadableStream<Uint8Array> {
    let open = true;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.read({
            data: (chunk) => {
              if (open) controller.enqueue(chunk);
              return (controller.desiredSize ?? 0) > 0;
            },
            end: () => {
              if (open) controller.close();
            },
            error: (error) => {
              if (open) controller.error(error);
            },
          });
        },
        pull: () => this.resume(),
        cancel: () => {
          open = false;
          return this.cancel();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HOLD_BYTES }),
    );
  }
}

/**
 * Whether a URL's host is an IP literal, read from the WHATWG parser's output:
 * IPv6 is bracketed, and a host whose last label is a number was parsed into
 * dotted IPv4 (and is refused otherwise), so no name ends in an all-digit label.
 */
function isLiteral(hostname: string): boolean {
  if (hostname.charCodeAt(0) === 91) return true;
  let i = hostname.length - 1;
  while (i >= 0 && hostname.charCodeAt(i) >= 48 && hostname.charCodeAt(i) <= 57) i--;
  return i < hostname.length - 1 && (i < 0 || hostname.charCodeAt(i) === 46);
}
