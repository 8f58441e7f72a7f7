import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, buildConnector, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import { ConfigError } from '../config/config.ts';
import { isPublicAddress } from '../core/address.ts';
import { Fields } from '../core/fields.ts';
import { privateTarget } from '../core/target.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../core/upstream.ts';

/** Resolves a host name to every address it has, as `dns.lookup` does. */
export type Resolve = (hostname: string) => Promise<readonly string[]>;

const systemResolve: Resolve = async (hostname) =>
  (await lookup(hostname, { all: true, order: 'verbatim' })).map((a) => a.address);

/**
 * A connector that resolves the name once, refuses unless every address is
 * public, and connects to the address it checked, so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through. IP
 * literals, which never reach a DNS lookup hook, are checked the same way.
 * The refusal names the host as the user wrote it, never the address it
 * resolved to, so the response reveals nothing about the internal network.
 * `connect` is the plain connector it hands the checked address to (tests
 * pass a recorder, as they may not connect to a public address).
 */
export function guardedConnector(
  resolve: Resolve = systemResolve,
  connect: buildConnector.connector = buildConnector({}),
): buildConnector.connector {
  return (options, callback) => {
    const { hostname } = options;
    const literal = isIP(hostname) !== 0;
    Promise.resolve(literal ? [hostname] : resolve(hostname)).then(
      (list) => {
        const address = list[0];
        if (!address || !list.every(isPublicAddress)) {
          callback(privateTarget(hostname, !literal), null);
          return;
        }
        connect(
          { ...options, hostname: address, servername: options.servername || (literal ? undefined : hostname) },
          callback,
        );
      },
      (error: Error) => callback(error, null),
    );
  };
}

/** An egress (forward) proxy that upstream requests must go through. */
export interface Egress {
  /** Proxy for http:// targets, and for https:// ones when `httpsProxy` is empty. */
  readonly httpProxy: string;
  /** Proxy for https:// targets. */
  readonly httpsProxy: string;
  /** Hosts reached directly: comma or space list, `.example.com` and `*.example.com` cover subdomains, `*` all. */
  readonly noProxy: string;
}

/**
 * `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (lower-case spellings first, as
 * curl and undici read them), or null when no proxy is set.
 * @throws ConfigError when a proxy is not an http(s) URL.
 */
export function egressFromEnv(env: Readonly<Record<string, string | undefined>>): Egress | null {
  const problems: string[] = [];
  const proxy = (name: string): string => {
    const value = (env[name.toLowerCase()] || env[name] || '').trim();
    if (!value) return '';
    try {
      const { protocol } = new URL(value);
      if (protocol === 'http:' || protocol === 'https:') return value;
    } catch {}
    problems.push(`${name}: expected a proxy URL such as http://proxy.internal:3128, got "${value}"`);
    return '';
  };
  const egress = {
    httpProxy: proxy('HTTP_PROXY'),
    httpsProxy: proxy('HTTPS_PROXY'),
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return egress.httpProxy || egress.httpsProxy ? egress : null;
}

/**
 * The Node upstream: undici's dispatcher over a keep-alive pool, driven
 * directly (not through `request`, whose Readable body costs as much again as
 * the rest of a small proxied request). It neither follows redirects nor
 * decodes bodies, so compressed bytes pass through with the Content-Encoding
 * and Content-Length that describe them. node:http's own client was tried in
 * its place (keep-alive agents, the guard as a `lookup` hook): the server
 * answered about a fifth fewer small GETs per second, and relayed 1 GiB
 * downloads no faster, peaking only about 10 MB lower.
 *
 * With an egress proxy, the connection is to the proxy (trusted configuration),
 * so the connect-time guard cannot see the target; instead the target's name
 * is resolved and every address checked before the request is dispatched. The
 * proxy resolves the name again, so a DNS answer that changes in between is
 * not caught here: let the egress proxy refuse private ranges too.
 */
export function nodeUpstream(options: {
  allowPrivateNetwork: boolean;
  resolve?: Resolve;
  /** @default null (connect directly) */
  egress?: Egress | null;
}): {
  /** Hands out web streams, as every upstream of the portable app does. */
  upstream: Upstream;
  /** Hands out the socket's body itself, for the Node entry to write straight to its client. */
  socketUpstream: Upstream<SocketBody>;
  close: () => Promise<void>;
} {
  const resolve = options.resolve ?? systemResolve;
  const guard = !options.allowPrivateNetwork;
  const agentOptions = {
    // Direct connections (no proxy, or NO_PROXY hosts) are guarded at connect time.
    connect: guard ? guardedConnector(resolve) : undefined,
    // The app times the wait for headers itself (CORSWAY_TIMEOUT_MS).
    headersTimeout: 0,
  };
  const { egress } = options;
  const agent: Dispatcher = egress ? new EnvHttpProxyAgent({ ...agentOptions, ...egress }) : new Agent(agentOptions);
  const checkBeforeProxy = egress && guard;
  const socketUpstream: Upstream<SocketBody> = async (request) => {
    if (checkBeforeProxy) await checkResolved(request.url.hostname, resolve);
    return dispatch(agent, request);
  };
  const upstream: Upstream = async (request) => {
    const { status, headers, body } = await socketUpstream(request);
    return { status, headers, body: body?.stream() ?? null };
  };
  return { upstream, socketUpstream, close: () => agent.close() };
}

function dispatch(agent: Dispatcher, { url, method, headers, body, onAbort }: UpstreamRequest) {
  return new Promise<UpstreamResponse<SocketBody>>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let target: SocketBody | null = null;
    let reason: Error | null = null;
    let ended = false;
    onAbort((why) => {
      reason = why instanceof Error ? why : new Error(String(why));
      if (!ended) controller?.abort(reason);
    });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (reason !== null) started.abort(reason);
      },
      onResponseStart(started, status, fields) {
        const out = new Fields();
        for (const [name, value] of Object.entries(fields)) {
          if (Array.isArray(value)) for (const v of value) out.append(name, v);
          else if (value !== undefined) out.append(name, value);
        }
        target = new SocketBody(started);
        resolve({ status, headers: out, body: target });
      },
      onResponseData(_, chunk) {
        // undici hands over an empty chunk each time a paused body resumes
        // (after every chunk of a large body); relaying it would cost the
        // client's response a write call and an empty write(2).
        if (chunk.length > 0) target?.push(chunk);
      },
      onResponseEnd() {
        ended = true;
        target?.finish(null);
      },
      onResponseError(_, error) {
        ended = true;
        if (target) target.finish(error);
        else reject(error);
      },
    };
    try {
      agent.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: method as Dispatcher.HttpMethod,
          headers: headers.flat(),
          // undici writes an async iterable to the socket chunk by chunk.
          body: body as AsyncIterable<Uint8Array> as unknown as Readable | null,
        },
        handler,
      );
    } catch (error) {
      reject(error);
    }
  });
}

/** What reads a SocketBody: `data` answers false to say "wait for my resume()". */
export interface BodyReader {
  data(chunk: Buffer): boolean;
  end(): void;
  error(error: Error): void;
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
  #reader: BodyReader | null = null;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  push(chunk: Buffer): void {
    if (this.#reader) {
      if (!this.#reader.data(chunk)) this.#controller.pause();
      return;
    }
    this.#held.push(chunk);
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
  read(reader: BodyReader): void {
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

/** Refuses a host unless every address it resolves to is public. */
async function checkResolved(hostname: string, resolve: Resolve): Promise<void> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(host) !== 0;
  const list = literal ? [host] : await resolve(host);
  if (list.length === 0 || !list.every(isPublicAddress)) throw privateTarget(hostname, !literal);
}
