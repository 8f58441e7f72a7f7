import { normalHost } from './host.ts';

/**
 * Origin allow/block lists. Entries are parsed once at startup into matchers;
 * a request's `Origin` is compared on its parsed scheme, host and port, both
 * sides normalised alike (host.ts), so case, IDNA, default ports, a trailing
 * dot and a trailing slash in an entry make no difference.
 */

/** Decides whether a request `Origin` header value is on a list. */
export type OriginMatcher = (origin: string) => boolean;

interface Pattern {
  /** `https:` */
  readonly protocol: string;
  /** Exact hostname, or for `*.example.com` the suffix `.example.com`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** `''` for the scheme's default port, as the URL parser reports it. */
  readonly port: string;
}

/** The opaque origin browsers send from sandboxed iframes, `file:` and `data:` pages (Fetch, "serialize an origin"). */
const OPAQUE = 'null';
const WILDCARD = /^([a-z][a-z0-9+.-]*:\/\/)\*\./i;
/** The URL parser reads `1.2.3` as an IPv4 address: a wildcard makes no sense over one. */
const IP_LITERAL = /^(\[.*\]|[\d.]+)$/;

/**
 * Parses one list entry: `null`, an exact origin (`https://app.example.com`) or a
 * subdomain wildcard (`https://*.example.com`, any depth, never the bare domain).
 * @throws TypeError saying how to write the entry.
 */
export function parseOriginPattern(entry: string): Pattern | typeof OPAQUE {
  if (entry.toLowerCase() === OPAQUE) return OPAQUE;
  const wildcard = WILDCARD.test(entry);
  const text = wildcard ? entry.replace(WILDCARD, '$1') : entry;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`"${entry}" is not an origin; write it like https://app.example.com or https://*.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`"${entry}" must start with http:// or https://`);
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new TypeError(`"${entry}" must be an origin only (scheme, host and port), without a path`);
  }
  // The URL parser accepts `*` inside a host name; only a leading `*.` means something here.
  if (url.hostname.includes('*') || (wildcard && IP_LITERAL.test(url.hostname))) {
    throw new TypeError(`"${entry}": a wildcard is written only as a leading "*." before a domain name`);
  }
  const host = normalHost(url.hostname);
  return {
    protocol: url.protocol,
    host: wildcard ? `.${host}` : host,
    wildcard,
    port: url.port,
  };
}

/** Builds the matcher for a parsed list. */
export function originMatcher(patterns: ReadonlyArray<Pattern | typeof OPAQUE>): OriginMatcher {
  const allowOpaque = patterns.includes(OPAQUE);
  const list = patterns.filter((p): p is Pattern => p !== OPAQUE);
  return (origin) => {
    if (origin === OPAQUE) return allowOpaque;
    const url = parseOrigin(origin);
    if (!url) return false;
    const host = normalHost(url.hostname);
    return list.some(
      (p) =>
        p.protocol === url.protocol &&
        p.port === url.port &&
        // `.example.com` as a suffix: never `example.com` itself nor `evil-example.com`.
        (p.wildcard ? host.endsWith(p.host) : host === p.host),
    );
  };
}

/**
 * A browser sends `scheme://host[:port]` and nothing else (RFC 6454 7.1); any
 * other shape comes from a script and matches no entry.
 */
function parseOrigin(origin: string): URL | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.pathname !== '/' || origin.endsWith('/') || url.search || url.hash || url.username || url.password) {
    return null;
  }
  // An empty label (`https://.example.com`) is no host a browser could be on.
  if (url.hostname.startsWith('.') || url.hostname.includes('..')) return null;
  return url;
}
