/**
 * Why a request to a target failed, read from the runtime's error: Node's
 * (undici, c-ares, OpenSSL codes) or workerd's (messages only). workerd says
 * "Network connection lost." for a refused connection and a reset alike
 * (`connection_lost`), and "internal error" for TLS failures (`opaque`).
 */
export type FailureCause =
  | 'connection_lost'
  | 'opaque'
  | 'dns_not_found'
  | 'dns_no_answer'
  | 'refused'
  | 'reset'
  | 'connect_timeout'
  | 'unreachable'
  | 'tls_version'
  | 'certificate'
  | 'tls'
  | 'malformed'
  | 'unknown';

/** Node error codes (libuv, getaddrinfo, undici, llhttp), by cause. */
const CODES: Record<string, FailureCause> = {
  ENOTFOUND: 'dns_not_found',
  EAI_NONAME: 'dns_not_found',
  EAI_AGAIN: 'dns_no_answer',
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  ETIMEDOUT: 'connect_timeout',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls_version',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'tls_version',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate',
  CERT_HAS_EXPIRED: 'certificate',
  CERT_NOT_YET_VALID: 'certificate',
  CERT_REVOKED: 'certificate',
  CERT_UNTRUSTED: 'certificate',
  CERT_REJECTED: 'certificate',
  HOSTNAME_MISMATCH: 'certificate',
  UND_ERR_INVALID_ARG: 'malformed',
};

/** What an error's message says, for runtimes that give no code (workerd). */
const MESSAGES: [RegExp, FailureCause][] = [
  [/^Network connection lost/i, 'connection_lost'],
  [/^internal error/i, 'opaque'],
  [/wrong version number|packet length too long|http request|not an ssl\/tls|tls.*plain/i, 'tls_version'],
  [/certificate|cert_|self[- ]signed|hostname mismatch|altname/i, 'certificate'],
  [/\b(?:tls|ssl)\b|handshake/i, 'tls'],
  [/not found|nxdomain|no such host|name (?:not|could not be) resolved|enotfound|dns/i, 'dns_not_found'],
  [/connection refused|econnrefused/i, 'refused'],
  [/connection (?:lost|reset|closed)|econnreset|disconnected|socket hang up|other side closed/i, 'reset'],
  [/timed? ?out/i, 'connect_timeout'],
  [/unreachable/i, 'unreachable'],
];

export function failureCause(error: unknown): FailureCause {
  const messages: string[] = [];
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const known = CODES[code];
      if (known) return known;
      if (code.startsWith('HPE_')) return 'malformed';
      if (/^ERR_(?:SSL|TLS)_|^EPROTO$/.test(code)) messages.push(`tls ${String((e as Error).message)}`);
    }
    if (e instanceof Error) messages.push(e.message);
    e = (e as { cause?: unknown }).cause;
  }
  const text = messages.join('\n');
  return MESSAGES.find(([pattern]) => pattern.test(text))?.[1] ?? 'unknown';
}

/** A URL as it may be shown: without userinfo, which can hold a password. */
export function shownUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

function port(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/**
 * What to tell the user about a failed fetch of `url`: the URL, the cause in
 * plain words, whose side the problem is on, and what to try.
 */
export function failureMessage(error: unknown, url: URL): string {
  const shown = shownUrl(url);
  const host = url.hostname;
  switch (failureCause(error)) {
    case 'dns_not_found':
      return `Fetching ${shown} failed: the host name ${host} does not exist in DNS. Check it for a typo.`;
    case 'dns_no_answer':
      return `Fetching ${shown} failed: DNS gave no answer for ${host} in time (its name servers may be down). Try again later.`;
    case 'refused':
      return `Fetching ${shown} failed: ${host} refused the connection on port ${port(url)}; nothing is listening there. Check the port and that the server is running.`;
    case 'reset':
      return `Fetching ${shown} failed: ${host} closed the connection before sending a complete response. The problem is on the target's side.`;
    case 'connect_timeout':
      return `Fetching ${shown} failed: ${host} did not accept the connection on port ${port(url)} in time. It may be down or behind a firewall.`;
    case 'unreachable':
      return `Fetching ${shown} failed: ${host} is unreachable from the proxy (no network route).`;
    case 'tls_version':
      return url.protocol === 'https:'
        ? `Fetching ${shown} failed: ${host} did not answer TLS on port ${port(url)} (wrong version number); it probably serves plain HTTP there. ${plainHint(url)}`
        : `Fetching ${shown} failed: the TLS versions of ${host} and the proxy do not match (wrong version number).`;
    case 'certificate':
      return `Fetching ${shown} failed: the TLS certificate of ${host} could not be verified (expired, self-signed, or issued for another name). The problem is on the target's side.`;
    case 'tls':
      return `Fetching ${shown} failed: the TLS handshake with ${host} failed. The problem is on the target's side.`;
    case 'malformed':
      return `Fetching ${shown} failed: ${host} sent a malformed HTTP response. The problem is on the target's side.`;
    case 'connection_lost':
      return `Fetching ${shown} failed: the connection to ${host} on port ${port(url)} was refused or closed before a response (the Workers runtime does not say which). Check the port and that the server is running.`;
    case 'opaque':
      return url.protocol === 'https:'
        ? `Fetching ${shown} failed: the runtime reports an internal error, which is how Workers report a failed TLS connection: the certificate of ${host} may not be valid, or the server may not speak TLS on port ${port(url)}. ${plainHint(url)}`
        : `Fetching ${shown} failed: the runtime reports an internal error reaching ${host}.`;
    default:
      return `Fetching ${shown} failed: ${host} could not be reached.`;
  }
}

/** The message of a fetch that got no response headers within `timeoutMs`. */
export function timeoutMessage(url: URL, timeoutMs: number): string {
  return `Fetching ${shownUrl(url)} timed out: the target sent no response within ${timeoutMs} ms (CORSWAY_TIMEOUT_MS). It may be down or slow; try again later.`;
}

/** For an https target that answered in plain HTTP: the URL form that says http. */
function plainHint(url: URL): string {
  return `If it serves plain HTTP, write the http:// form: /${shownUrl(withScheme(url, 'http:'))} (a target without a scheme is fetched over https).`;
}

/** The same URL over `protocol`, on the port the first one used. */
function withScheme(url: URL, protocol: 'http:'): URL {
  return new URL(
    `${protocol}//${url.hostname.includes(':') ? url.host : url.hostname}:${port(url)}${url.pathname}${url.search}`,
  );
}
