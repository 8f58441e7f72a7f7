/**
 * Origin allow/block lists. Entries are parsed once at startup into matchers;
 * a request's `Origin` is compared on its parsed scheme, host and port.
 */

/** Decides whether a request `Origin` header value is on a list. */
export type OriginMatcher = (origin: string) => boolean;

interface Pattern {
  /** `https:` */
  protocol: string;
  /** Exact hostname, or for `*.example.com` the suffix `.example.com`. */
  host: string;
  wildcard: boolean;
  /** `''` for the scheme's default port, as the URL parser reports it. */
  port: string;
}

const WILDCARD = /^([a-z][a-z0-9+.-]*:\/\/)\*\./i;

/**
 * Parses one list entry: `null`, an exact origin (`https://app.example.com`) or a
 * subdomain wildcard (`https://*.example.com`).
 * @throws TypeError saying how to write the entry.
 */
export function parseOriginPattern(entry: string): Pattern | 'null' {
  if (entry === 'null') return 'null';
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
  return {
    protocol: url.protocol,
    host: wildcard ? `.${url.hostname}` : url.hostname,
    wildcard,
    port: url.port,
  };
}

/** Builds the matcher for a parsed list. */
export function originMatcher(patterns: ReadonlyArray<Pattern | 'null'>): OriginMatcher {
  const allowNull = patterns.includes('null');
  const list = patterns.filter((p): p is Pattern => p !== 'null');
  return (origin) => {
    if (origin === 'null') return allowNull;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    return list.some(
      (p) =>
        p.protocol === url.protocol &&
        p.port === url.port &&
        (p.wildcard ? url.hostname.endsWith(p.host) : url.hostname === p.host),
    );
  };
}
