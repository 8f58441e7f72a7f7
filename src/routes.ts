import type { Abort } from './core/abort.ts';
import { socketClientAddress } from './core/address.ts';
import { ProxyError } from './core/errors.ts';
import type { HeaderMap } from './core/fields.ts';
import type { Incoming } from './core/proxy.ts';

/*
 * The front door, decided once: which of the app's own pages a request asks
 * for, or which target; the proxy's own base URL and scheme; whether the
 * request has a body; who the client is. The Node listener, the Hono app
 * (Workers, the library) and /diagnose all read these facts; none derives
 * them again.
 */

/** The app's own pages, by path below the mount point; every other path names a target. */
export const ROUTES = {
  '/healthz': 'healthz',
  '/robots.txt': 'robots',
  '/favicon.ico': 'favicon',
  '/metrics': 'metrics',
  '/diagnose': 'diagnose',
} as const;

export type Page = (typeof ROUTES)[keyof typeof ROUTES];

/** Below this prefix the diagnosis names its target: `/diagnose/https://api.example.com/x`. */
export const DIAGNOSE_PREFIX = '/diagnose/';

/** A request as every runtime has it, before anything is decided. */
export interface RequestLine {
  readonly method: string;
  /**
   * The request-target as sent: origin-form (`/https://host/x?q`), absolute-form
   * (`http://proxy.example/x`, whose host is ignored) or anything else a client wrote.
   */
  readonly target: string;
  /** The proxy's scheme and authority as the connection shows them: `http://` + Host on Node, the URL's origin on Fetch runtimes. */
  readonly origin: string;
  readonly headers: HeaderMap;
  /** Where the app is mounted (`/proxy` under `app.route('/proxy', ...)`). @default '' */
  readonly mount?: string;
  /** CORSWAY_TRUST_PROXY: `X-Forwarded-For`/`-Proto` name the client and its scheme. */
  readonly trustProxy: boolean;
  /** The connection's peer address, read only when needed. */
  readonly peer: () => string;
  /** Whether the runtime holds a body (a WHATWG Request's `body`). @default judged from Content-Length and Transfer-Encoding */
  readonly body?: boolean;
  /** The pages this instance serves (see `servedPages`); the path of another names a target. */
  readonly serves: (page: Page) => boolean;
}

/** The pages an instance serves: `/metrics` only where it has counters (CORSWAY_METRICS on). */
export function servedPages(metrics: boolean): (page: Page) => boolean {
  return (page) => page !== 'metrics' || metrics;
}

/** What the rest of the app knows about a request. */
export interface RequestFacts {
  /** One of the app's own pages, the help page, or a target to proxy. */
  readonly kind: 'page' | 'help' | 'target';
  /** The page, when `kind` is `page`. */
  readonly page: Page | null;
  /** The path below the mount point, as sent, without the query (`/diagnose/https://x`). */
  readonly path: string;
  /** The query as sent, without its `?`; '' for none. */
  readonly query: string;
  /**
   * What names the target, as sent: for `target`, everything after the mount
   * point's slash, query included, or the `url` parameter of `/?url=`; for
   * the diagnosis, what follows `/diagnose/` up to the query; '' for none.
   */
  readonly target: string;
  /** The proxy's own URL up to its mount point (`https://proxy.example`), for Location and the pages. */
  readonly base: string;
  /** The mount point's path: '' at the root. */
  readonly mount: string;
  readonly scheme: 'http:' | 'https:';
  readonly hasBody: boolean;
  /** The client's address (socket, or last `X-Forwarded-For` hop with trustProxy), read lazily. */
  readonly client: () => string;
}

/** A Host header that names a host: a DNS name or IPv4 (unicode allowed), or an IPv6 literal, with an optional port. */
const AUTHORITY = /^(?:[^\s/?#@[\]\\:<>"'`^{}|]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The last origin and mount point without trustProxy, and the scheme and base
 * they make: a client sends the same Host request after request, and the
 * slice, check and concatenation were bytes allocated on every one.
 */
let lastBase: { origin: string; mount: string; scheme: 'http:' | 'https:'; base: string } | null = null;

function malformed(message: string): ProxyError {
  return new ProxyError('invalid_target', message);
}

/**
 * The facts of one request.
 * @throws ProxyError `invalid_target` for a request line or Host no route can take.
 */
export function requestFacts(line: RequestLine): RequestFacts {
  const { method, headers } = line;
  const trust = line.trustProxy;
  const mount = line.mount ?? '';
  const origin = line.origin;
  const memo = lastBase;
  let scheme: 'http:' | 'https:';
  let base: string;
  // Without trustProxy the origin alone decides the scheme; with it, the headers do too.
  if (!trust && memo !== null && origin === memo.origin && mount === memo.mount) {
    scheme = memo.scheme;
    base = memo.base;
  } else {
    const authority = origin.slice(origin.indexOf('//') + 2);
    if (!AUTHORITY.test(authority)) {
      throw malformed(`The request's Host header "${authority.slice(0, 100)}" is not a host name.`);
    }
    scheme = (trust && forwardedScheme(headers.get('x-forwarded-proto'))) || schemeOf(origin);
    base = `${scheme}//${authority}${mount}`;
    if (!trust) lastBase = { origin, mount, scheme, base };
  }

  const below = originForm(line.target).slice(mount.length);
  const q = below.indexOf('?');
  const path = q === -1 ? below : below.slice(0, q);
  const query = q === -1 ? '' : below.slice(q + 1);
  const hasBody =
    method !== 'GET' &&
    method !== 'HEAD' &&
    (line.body ??
      (headers.has('content-length') ? headers.get('content-length') !== '0' : headers.has('transfer-encoding')));
  const client = clientOf(line.peer, headers, trust);

  let kind: RequestFacts['kind'] = 'target';
  let target: string;
  const page = pageOf(path);
  if (page && line.serves(page)) {
    kind = 'page';
    target = page === 'diagnose' && path.startsWith(DIAGNOSE_PREFIX) ? path.slice(DIAGNOSE_PREFIX.length) : '';
  } else {
    // Everything after the mount point and its slash; '/proxy?url=...' has no slash before its query.
    const raw = below.startsWith('/') ? below.slice(1) : below;
    const urlParam = raw.startsWith('?') ? new URLSearchParams(raw).get('url') : null;
    const help = (raw === '' || (raw.startsWith('?') && urlParam === null)) && (method === 'GET' || method === 'HEAD');
    if (help) kind = 'help';
    target = help ? '' : (urlParam ?? raw);
  }
  // One literal for every kind, and no closure over this frame: the facts and
  // `client` live until the response, and a closure here would keep every local alive with them.
  return { kind, page: kind === 'page' ? page : null, path, query, target, base, mount, scheme, hasBody, client };
}

/** The client's address, read lazily; closes over only what it reads (see requestFacts). */
function clientOf(peer: () => string, headers: HeaderMap, trust: boolean): () => string {
  return () => socketClientAddress(peer(), headers.get('x-forwarded-for') ?? undefined, trust);
}

/** The page a path below the mount point asks for, or null for a target. */
export function pageOf(path: string): Page | null {
  if (Object.hasOwn(ROUTES, path)) return ROUTES[path as keyof typeof ROUTES];
  return path.startsWith(DIAGNOSE_PREFIX) ? 'diagnose' : null;
}

/**
 * The request-target in origin-form. An absolute-form target (RFC 9112 3.2.2)
 * gives its path only: the proxy's own host stays the one the Host header names.
 */
function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  if (/^https?:\/\//i.test(target)) {
    try {
      new URL(target);
    } catch {
      throw malformed(`The request line names "${target.slice(0, 100)}", which is not a valid URL.`);
    }
    const start = target.indexOf('/', target.indexOf('//') + 2);
    return start === -1 ? '/' : target.slice(start);
  }
  throw malformed(
    `The request target "${target.slice(0, 100)}" is not a path. Put the target URL after the proxy's address: /https://api.example.com/path`,
  );
}

function schemeOf(origin: string): 'http:' | 'https:' {
  return origin.startsWith('https:') ? 'https:' : 'http:';
}

/** The scheme a TLS-terminating reverse proxy says the browser used (`X-Forwarded-Proto`, last entry). */
function forwardedScheme(header: string | null): 'http:' | 'https:' | undefined {
  if (!header) return undefined;
  const proto = header.split(',').at(-1)?.trim();
  return proto === 'https' || proto === 'http' ? `${proto}:` : undefined;
}

/** The RequestLine of a WHATWG Request: its URL already holds the proxy's origin and the path. */
export function fetchLine(
  request: Request,
  options: Pick<RequestLine, 'mount' | 'trustProxy' | 'peer' | 'serves'>,
): RequestLine {
  const url = request.url;
  const pathStart = url.indexOf('/', url.indexOf('//') + 2);
  return {
    method: request.method,
    target: pathStart === -1 ? '/' : url.slice(pathStart),
    origin: pathStart === -1 ? url : url.slice(0, pathStart),
    headers: request.headers,
    mount: options.mount,
    trustProxy: options.trustProxy,
    peer: options.peer,
    serves: options.serves,
    // On Node, reading `body` builds a whole WHATWG Request: the method is tested first.
    body: request.method !== 'GET' && request.method !== 'HEAD' && request.body !== null,
  };
}

/** A WHATWG request to a target, as the proxy takes it: the Hono app's and the Worker's front door's. */
export function fetchIncoming(
  request: Request,
  facts: RequestFacts,
  abort: Abort,
  background: (work: Promise<unknown>) => void,
): Incoming {
  return {
    method: request.method,
    target: facts.target,
    base: facts.base,
    headers: request.headers,
    body: facts.hasBody ? request.body : null,
    abort,
    client: facts.client,
    background,
  };
}
