import { Fields, type HeaderMap } from './fields.ts';

/*
 * Which headers cross the proxy, in each direction. Lists are lower-case.
 */

/** Hop-by-hop headers, RFC 9110 7.6.1, plus the proxy ones of RFC 9110 11.7. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
];

/** Request headers never forwarded upstream. */
const REQUEST_DROP = new Set([
  ...HOP_BY_HOP,
  'host', // set for the target
  'cookie', // the proxy's cookies are not the target's
  'expect', // the proxy, not the client, talks to the target
  // The client's own claims about forwarding; the proxy adds none by default.
  'forwarded',
  'x-real-ip',
  'cf-connecting-ip',
  'true-client-ip',
]);

/** Request header prefixes never forwarded: client-supplied forwarding and edge metadata. */
const REQUEST_DROP_PREFIXES = ['x-forwarded-', 'cf-'];

/** Response headers never relayed to the client. */
const RESPONSE_DROP = new Set([
  ...HOP_BY_HOP,
  'set-cookie',
  'set-cookie2',
  // These would act on the proxy's own origin rather than the target's.
  'strict-transport-security',
  'clear-site-data',
  'service-worker-allowed',
  'nel',
  'report-to',
  'reporting-endpoints',
  'alt-svc',
]);

/** The token this proxy adds to `Via`, and looks for to detect a loop. */
export const VIA_TOKEN = 'corsway';

const NONE: ReadonlySet<string> = new Set();

/** Header names listed in `Connection`, which are hop-by-hop too (RFC 9110 7.6.1). */
function connectionNamed(headers: HeaderMap): ReadonlySet<string> {
  const value = headers.get('connection');
  if (!value) return NONE;
  return new Set(value.split(',').map((s) => s.trim().toLowerCase()));
}

/** The headers to send upstream, with our `Via` entry appended. */
export function requestHeaders(incoming: HeaderMap): Fields {
  const named = connectionNamed(incoming);
  const out = new Fields();
  incoming.forEach((value, name) => {
    if (REQUEST_DROP.has(name) || named.has(name) || REQUEST_DROP_PREFIXES.some((p) => name.startsWith(p))) return;
    out.append(name, value);
  });
  const via = incoming.get('via');
  out.set('via', via ? `${via}, 1.1 ${VIA_TOKEN}` : `1.1 ${VIA_TOKEN}`);
  return out;
}

/** True when `Via` says the request already passed through this proxy. */
export function hasLooped(incoming: HeaderMap): boolean {
  const via = incoming.get('via');
  if (!via) return false;
  return via.split(',').some((entry) => entry.trim().split(/\s+/)[1]?.toLowerCase() === VIA_TOKEN);
}

/**
 * The target's response headers the client may see: without hop-by-hop ones,
 * cookies, the target's own CORS answer, and headers that would act on the
 * proxy's origin.
 */
export function responseHeaders(upstream: HeaderMap): Fields {
  const named = connectionNamed(upstream);
  const out = new Fields();
  upstream.forEach((value, name) => {
    if (RESPONSE_DROP.has(name) || named.has(name) || name.startsWith('access-control-')) return;
    out.append(name, value);
  });
  // A proxied page opened directly must not run script as the proxy's origin.
  out.append('content-security-policy', 'sandbox');
  out.set('x-content-type-options', 'nosniff');
  return out;
}
