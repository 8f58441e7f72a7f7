import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, buildConnector, request } from 'undici';
import { isPublicAddress } from './address.ts';
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
 */
export function guardedConnector(resolve: Resolve = systemResolve): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) => {
    const { hostname } = options;
    const addresses = isIP(hostname) ? Promise.resolve([hostname]) : resolve(hostname);
    addresses.then(
      (list) => {
        const address = list[0];
        if (!address || !list.every(isPublicAddress)) {
          callback(privateTarget(hostname), null);
          return;
        }
        connect(
          { ...options, hostname: address, servername: options.servername || (isIP(hostname) ? undefined : hostname) },
          callback,
        );
      },
      (error: Error) => callback(error, null),
    );
  };
}

/**
 * The Node upstream: undici's `request` over a keep-alive pool. It neither
 * follows redirects nor decodes bodies, so compressed bytes pass through with
 * the Content-Encoding and Content-Length that describe them.
 */
export function nodeUpstream(options: { allowPrivateNetwork: boolean; resolve?: Resolve }): {
  upstream: Upstream;
  close: () => Promise<void>;
} {
  const agent = new Agent({
    connect: options.allowPrivateNetwork ? undefined : guardedConnector(options.resolve),
    // The app times the wait for headers itself (CORSWAY_TIMEOUT_MS).
    headersTimeout: 0,
  });
  const upstream: Upstream = async ({ url, method, headers, body, signal }) => {
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    const res = await request(url, {
      method: method as 'GET',
      headers: flat,
      body: body ? Readable.fromWeb(body as import('node:stream/web').ReadableStream) : null,
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
    return {
      status: res.statusCode,
      headers: out,
      body: empty ? null : (Readable.toWeb(res.body) as ReadableStream<Uint8Array>),
    };
  };
  return { upstream, close: () => agent.close() };
}
