import { isIPLiteral, isPublicAddress } from './address.ts';
import { ProxyError } from './errors.ts';
import { nameTooLong, normalHost } from './host.ts';

/** Decides whether a target hostname is on `CORSWAY_ALLOW_TARGETS`. */
export type HostMatcher = (hostname: string) => boolean;

export interface HostPattern {
  /** Exact hostname, or for `*.example.com` the suffix `.example.com`. */
  host: string;
  wildcard: boolean;
}

/**
 * Parses one `CORSWAY_ALLOW_TARGETS` entry: `api.example.com` or `*.example.com`.
 * @throws TypeError saying how to write the entry.
 */
export function parseHostPattern(entry: string): HostPattern {
  const wildcard = entry.startsWith('*.');
  let hostname = '';
  try {
    hostname = new URL(`http://${wildcard ? entry.slice(2) : entry}`).hostname;
  } catch {}
  if (!hostname || /[/:@?#]/.test(entry.replace(/^\[.*\]$/, ''))) {
    throw new TypeError(`"${entry}" is not a host name; write it like api.example.com or *.example.com`);
  }
  const host = normalHost(hostname);
  return { host: wildcard ? `.${host}` : host, wildcard };
}

export function hostMatcher(patterns: readonly HostPattern[]): HostMatcher {
  return (hostname) => {
    const host = normalHost(hostname);
    return patterns.some((p) => (p.wildcard ? host.endsWith(p.host) : host === p.host));
  };
}

declare const SYNTAX_CHECKED: unique symbol;
/**
 * A URL whose syntax passed checkTargetSyntax (parseTarget's result): a type
 * only, so the first hop checks the policy alone and the syntax is decided once.
 */
export type TargetURL = URL & { readonly [SYNTAX_CHECKED]: true };

const PERCENT_ENCODED_SCHEME = /^https?%3a/i;
/** A scheme, unless what follows the colon is a port (`host.example:8080/x` has none). */
const SCHEME = /^([a-z][a-z0-9+.-]*):(?!\d+(?:[/?#]|$))\/*/i;
/** Control characters and spaces, which no URL a browser sends contains. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL = /[\u0000-\u0020\u007f]/;

/**
 * The longest target accepted, in characters as sent. Common servers stop at
 * about 8 KiB (nginx, Apache's LimitRequestLine), and the proxy repeats the URL
 * in X-Request-URL and X-Final-URL, which clients must be able to read.
 */
export const MAX_TARGET_LENGTH = 8192;

function invalid(message: string): ProxyError {
  return new ProxyError('invalid_target', message);
}

/**
 * Turns what follows the proxy's `/` into the target URL. Accepts every form of
 * the SPEC: `https://host/p?q`, `host/p` (https, or http on port 80),
 * collapsed slashes (`https:/host`), and a percent-encoded target.
 * @throws ProxyError `invalid_target`.
 */
export function parseTarget(raw: string): TargetURL {
  if (raw.length > MAX_TARGET_LENGTH) {
    throw invalid(`The target URL is longer than ${MAX_TARGET_LENGTH} characters, more than this proxy accepts.`);
  }
  let text = raw;
  const known = httpSchemeLength(text);
  if (!known && PERCENT_ENCODED_SCHEME.test(text)) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw invalid('The target is percent-encoded but not validly so. Encode it with encodeURIComponent().');
    }
  }
  if (!text) {
    throw invalid("No target URL given. Put it after the proxy's address: /https://api.example.com/path");
  }
  if (CONTROL.test(text)) {
    throw invalid('The target URL contains spaces or control characters. Percent-encode them.');
  }
  let scheme = '';
  /** The target as sent, when it is already the URL to parse: `http://host/...`, as clients write it. */
  let whole: string | null = null;
  const m = known ? null : SCHEME.exec(text);
  if (known) {
    scheme = known === 5 ? 'http' : 'https';
    let start = known;
    while (text.charCodeAt(start) === SLASH) start++;
    // Parsed as sent, not sliced and joined again: two strings less per request.
    if (start === known + 2) whole = text;
    else text = text.slice(start);
  } else if (m) {
    scheme = (m[1] as string).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      throw invalid(`Only http:// and https:// targets can be proxied, not ${scheme}:.`);
    }
    text = text.slice(m[0].length);
  } else {
    text = text.replace(/^\/+/, '');
  }
  let url: URL;
  try {
    url = new URL(whole ?? `${scheme || 'https'}://${text}`);
    if (!scheme && url.port === '80') url = new URL(`http://${text}`);
  } catch {
    throw invalid(
      `"${truncate(raw)}" is not a valid URL (check the host name and the port, which must be 1 to 65535).`,
    );
  }
  if (url.port === '0') throw invalid('Port 0 is not a valid target port.');
  checkTargetSyntax(url);
  // A fragment never reaches a server (RFC 9110 4.2.4); keep it out of X-Request-URL too.
  // Only when there is one: the setter parses the whole URL again.
  if (text.includes('#')) url.hash = '';
  return url;
}

const SLASH = 47;

/**
 * The length of a lower-case `http:` or `https:` followed by a slash, as
 * browsers and clients write targets, or 0: SCHEME's answer without a regex
 * (a slash after the colon can never start a port).
 */
function httpSchemeLength(text: string): number {
  if (!text.startsWith('http')) return 0;
  const colon = text.charCodeAt(4) === 115 ? 5 : 4;
  return text.charCodeAt(colon) === 58 && text.charCodeAt(colon + 1) === SLASH ? colon + 1 : 0;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** `localhost` and `*.localhost` always mean loopback (RFC 6761 6.3). */
export function isLocalhost(hostname: string): boolean {
  const host = normalHost(hostname);
  return host === 'localhost' || host.endsWith('.localhost');
}

/**
 * What makes a URL no target at all, whatever the policy: userinfo, and a
 * host that is neither an IP literal nor a DNS name with a dot that could
 * resolve (labels of 63 octets, 253 in all).
 * @throws ProxyError `invalid_target`.
 */
export function checkTargetSyntax(url: URL): asserts url is TargetURL {
  if (url.username || url.password) {
    throw invalid('The target URL contains a user name or password; send credentials in a header instead.');
  }
  const hostname = url.hostname;
  if (hostname === lastValidHost) return;
  const host = normalHost(hostname);
  if (!isIPLiteral(host)) {
    if (!isLocalhost(host) && !/^[^.]+(\.[^.]+)+$/.test(host)) {
      throw invalid(
        `"${hostname}" is not a valid host: use a full domain name such as api.example.com, or an IP address.`,
      );
    }
    const tooLong = nameTooLong(host);
    if (tooLong) throw invalid(`"${truncate(hostname)}" is not a valid host name: ${tooLong}.`);
  }
  lastValidHost = hostname;
}

/**
 * The last host name that passed checkTargetSyntax, and the last that passed
 * the address rules, as the URL spells them: verdicts that depend on the name
 * alone, which clients send again request after request, so neither its
 * normal form nor an IP literal's parse is worked out again.
 */
let lastValidHost: string | undefined;
let lastPublicHost: string | undefined;

/**
 * Ports browsers refuse to fetch: the Fetch standard's "bad port" list
 * (https://fetch.spec.whatwg.org/#port-blocking).
 */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

export interface TargetPolicy {
  readonly allowTargets: HostMatcher | null;
  readonly allowPrivateNetwork: boolean;
}

/**
 * The target rules, which the first URL and every redirect hop pass before a
 * connection is opened: scheme, host syntax, userinfo, bad ports,
 * CORSWAY_ALLOW_TARGETS, addresses. Names that need DNS are checked again at
 * connect time by the runtime's upstream (see node/upstream.ts).
 * @throws ProxyError `invalid_target` or `target_not_allowed`.
 */
export function checkTarget(url: URL, policy: TargetPolicy): asserts url is TargetURL {
  checkScheme(url);
  checkTargetSyntax(url);
  checkTargetPolicy(url, policy);
}

/**
 * checkTarget for a URL whose syntax is already checked (parseTarget's):
 * the same rules in the same order, without checking the syntax again.
 * @throws ProxyError `target_not_allowed`.
 */
export function checkParsedTarget(url: TargetURL, policy: TargetPolicy): void {
  checkScheme(url);
  checkTargetPolicy(url, policy);
}

function checkScheme(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyError(
      'target_not_allowed',
      `Only http:// and https:// targets can be proxied, not ${url.protocol}.`,
    );
  }
}

/** The operator's and the address rules: bad ports, CORSWAY_ALLOW_TARGETS, private addresses. */
function checkTargetPolicy(url: URL, policy: TargetPolicy): void {
  const port = url.port;
  if (port && BAD_PORTS.has(Number(port))) {
    throw new ProxyError(
      'target_not_allowed',
      `Port ${port} is on the list of ports browsers refuse to fetch (the Fetch standard's bad ports), so the proxy refuses it too.`,
    );
  }
  if (policy.allowTargets && !policy.allowTargets(url.hostname)) {
    throw new ProxyError(
      'target_not_allowed',
      `This proxy only fetches the hosts its operator listed in CORSWAY_ALLOW_TARGETS; ${url.hostname} is not one of them.`,
    );
  }
  if (policy.allowPrivateNetwork) return;
  const hostname = url.hostname;
  if (hostname === lastPublicHost) return;
  const host = normalHost(hostname);
  if (isLocalhost(host) || (isIPLiteral(host) && !isPublicAddress(host))) {
    throw privateTarget(hostname);
  }
  lastPublicHost = hostname;
}

/**
 * The refusal for a target on a loopback, private or otherwise non-public
 * address. It names the host as written, never what a name resolved to.
 */
export function privateTarget(host: string, resolved = false): ProxyError {
  return new ProxyError(
    'target_not_allowed',
    `${host} ${resolved ? 'resolves to' : 'is'} a private, loopback or otherwise non-public address, which this proxy does not fetch. For local development, start the proxy with CORSWAY_ALLOW_PRIVATE_NETWORK=on.`,
  );
}
