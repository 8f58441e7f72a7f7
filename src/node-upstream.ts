import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, buildConnector, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { isPublicAddress } from './address.ts';
import { ConfigError } from './config.ts';
import { privateTarget } from './target.ts';
import type { Upstream } from './upstream.ts';

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
 * The Node upstream: undici's `request` over a keep-alive pool. It neither
 * follows redirects nor decodes bodies, so compressed bytes pass through with
 * the Content-Encoding and Content-Length that describe them.
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
  upstream: Upstream;
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
  const upstream: Upstream = async ({ url, method, headers, body, signal }) => {
    if (checkBeforeProxy) await checkResolved(url.hostname, resolve);
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    const res = await request(url, {
      method: method as 'GET',
      headers: flat,
      // undici writes an async iterable to the socket chunk by chunk (a web
      // stream is one): no Readable.fromWeb layer in between.
      body: body as AsyncIterable<Uint8Array> as unknown as Readable | null,
      signal,
      dispatcher: agent,
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (Array.isArray(value)) for (const v of value) out.append(name, v);
      else if (value !== undefined) out.append(name, value);
    }
    const empty = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
    if (empty) res.body.resume();
    return { status: res.statusCode, headers: out, body: empty ? null : webBody(res.body) };
  };
  return { upstream, close: () => agent.close() };
}

/** The undici body behind each web body handed out, until the web side is read. */
const sources = new WeakMap<ReadableStream<Uint8Array>, Readable>();

/**
 * A web stream over an undici body that touches the body only when first
 * read, so the Node entry can still pipe the body itself (see nodeSource).
 * Not Readable.toWeb: on Node 20, cancelling that stream while data is in
 * flight throws "Controller is already closed" from an event handler, an
 * uncaught exception that stops the server (any target could trigger it).
 * Not undici's `body.body` either: it attaches to the body at once and copies
 * every chunk (a byte stream transfers what it is given).
 */
function webBody(source: Readable): ReadableStream<Uint8Array> {
  // undici's body emits 'error' when destroyed unread (a redirect's body is
  // cancelled, never read); with no listener that stops the process. Readers
  // still see errors through the iterator or the pipe.
  source.on('error', () => {});
  let chunks: AsyncIterator<Uint8Array> | null = null;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        sources.delete(stream);
        chunks ??= source[Symbol.asyncIterator]();
        const { done, value } = await chunks.next();
        // A read that was in flight when the reader cancelled has nowhere to go.
        if (cancelled) return;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        cancelled = true;
        sources.delete(stream);
        if (chunks) await chunks.return?.();
        else source.destroy();
      },
    },
    // Nothing is pulled before a reader asks.
    { highWaterMark: 0 },
  );
  sources.set(stream, source);
  return stream;
}

/**
 * The undici body behind a web body from this upstream, if nothing read or
 * locked it yet: the Node entry then pipes it to the client without going
 * through web streams. Undefined for any other stream.
 */
export function nodeSource(stream: ReadableStream<Uint8Array>): Readable | undefined {
  const source = sources.get(stream);
  return source && !stream.locked && !source.destroyed ? source : undefined;
}

/** Refuses a host unless every address it resolves to is public. */
async function checkResolved(hostname: string, resolve: Resolve): Promise<void> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(host) !== 0;
  const list = literal ? [host] : await resolve(host);
  if (list.length === 0 || !list.every(isPublicAddress)) throw privateTarget(hostname, !literal);
}
