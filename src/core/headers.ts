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

/** The request header that carries a client's access key (CORSWAY_KEYS); never forwarded to a target. */
export const KEY_HEADER = 'x-corsway-key';

/** Request headers never forwarded upstream. */
const REQUEST_DROP = [
  ...HOP_BY_HOP,
  'host', // set for the target
  'cookie', // the proxy's cookies are not the target's
  'expect', // the proxy, not the client, talks to the target
  KEY_HEADER, // the client's access key to this proxy, never the target's business
  // The client's own claims about forwarding; the proxy adds none by default.
  'forwarded',
  'x-real-ip',
  'cf-connecting-ip',
  'true-client-ip',
];

/**
 * Headers CORSWAY_TARGET_HEADERS may not set: those that frame or route the
 * request, which a fixed value would break or turn into request smuggling,
 * and the proxy's own.
 */
export const RESERVED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'content-length',
  'expect',
  KEY_HEADER,
]);

/**
 * Header names and name prefixes, grouped by their first character: nearly
 * every name a message carries shares it with none, and is told apart by one
 * array lookup. A Set per list hashed every name the parser made afresh, and
 * a `startsWith` per prefix and name took about 1,000 instructions of a small
 * proxied request (docs/decisions/node-s1.md).
 */
class NameRule {
  readonly #byFirst: ({ names: string[]; prefixes: string[] } | undefined)[] = [];

  constructor(names: readonly string[], prefixes: readonly string[]) {
    for (const name of names) this.#group(name).names.push(name);
    for (const prefix of prefixes) this.#group(prefix).prefixes.push(prefix);
  }

  #group(text: string): { names: string[]; prefixes: string[] } {
    const first = text.charCodeAt(0);
    let group = this.#byFirst[first];
    if (!group) {
      group = { names: [], prefixes: [] };
      this.#byFirst[first] = group;
    }
    return group;
  }

  /** Whether `name` is one of the names or starts with one of the prefixes. */
  match(name: string): boolean {
    const group = this.#byFirst[name.charCodeAt(0)];
    if (group === undefined) return false;
    for (const known of group.names) if (name === known) return true;
    for (const prefix of group.prefixes) if (name.startsWith(prefix)) return true;
    return false;
  }
}

/** What is never forwarded: the names above, and client-supplied forwarding and edge metadata by prefix. */
const REQUEST_DROPPED = new NameRule(REQUEST_DROP, ['x-forwarded-', 'cf-']);

/**
 * Response headers that store browser state for the origin that served them,
 * or lend that origin's authority, which for a proxied response is the proxy's:
 * relayed, one target could act on every other target's pages through the
 * proxy. Never relayed. docs/security.md has the same table, for readers.
 */
export const ORIGIN_STATE_HEADERS: readonly string[] = [
  'strict-transport-security', // RFC 6797: HTTPS-only pinning for the host
  'public-key-pins', // RFC 7469 (removed from browsers): key pins for the host
  'expect-ct', // RFC 9163 (obsolete): a Certificate Transparency policy for the host
  'clear-site-data', // W3C Clear Site Data: wipes the origin's cookies, storage, caches, for every app using the proxy
  'service-worker-allowed', // W3C Service Workers 3.3: widens a worker's scope
  'nel', // W3C Network Error Logging: a reporting policy for the origin
  'report-to', // Reporting API v0 (Chromium): endpoint groups for the origin
  'reporting-endpoints', // W3C Reporting API: endpoints for the origin
  'alt-svc', // RFC 7838: alternative services remembered for the origin
  'accept-ch', // RFC 8942 / HTML: client hints remembered for the origin
  'critical-ch', // Client Hints Reliability draft (Chromium): restarts with hints
  'set-login', // FedCM Login Status API: the origin's logged-in state
  'idp-signin-status', // FedCM (Chromium): Set-Login's earlier name
  'origin-agent-cluster', // HTML 7.1.3: origin-keyed agent cluster for the origin
  'origin-trial', // Origin Trials (Chromium): features for the origin, some persisted
  'observe-browsing-topics', // Topics API (Chromium): records the origin's observation
  'activate-storage-access', // Storage Access Headers (Chromium): grants for the origin
  'use-as-dictionary', // Compression Dictionary Transport (Chromium): a dictionary for the origin, sent to all targets
  'speculation-rules', // Speculation Rules (WICG, Chromium): prefetch and prerender as the origin
  'supports-loading-mode', // Chromium: lends the page to prerendering by other pages and to fenced frames
  'x-allow-fledge', // Protected Audience (Chromium): Ad-Auction-Allowed's earlier name
];

/** Response header prefixes of the same kind: whole families named alike. */
export const ORIGIN_STATE_PREFIXES: readonly string[] = [
  'attribution-reporting-', // Attribution Reporting API (Chromium): -register-source, -register-trigger ...
  'shared-storage-', // Shared Storage API (Chromium): -write, -cross-origin-worklet-allowed
  'sec-session-', // Device Bound Session Credentials (Chromium): -registration, -challenge bind sessions to the origin
  'ad-auction-', // Protected Audience (Chromium): -allowed, -signals, -record-event, -result ... for the origin
  'x-fledge-', // Protected Audience (Chromium): the family's earlier names
  'sec-private-state-token', // Private State Tokens (Chromium): tokens issued to the origin
];

/**
 * Relayed under another name: `WWW-Authenticate` would make the browser prompt
 * on the proxy's origin and then send the credentials to every target (RFC 9110 11.6.1).
 */
const WWW_AUTHENTICATE = 'www-authenticate';
const RENAMED_WWW_AUTHENTICATE = 'x-target-www-authenticate';

/**
 * The target's response headers never relayed to the client, by name and by
 * prefix: hop-by-hop ones, cookies, the families above, and what the proxy
 * sets itself in their place (its CORS answer, `X-Content-Type-Options`,
 * `X-Request-URL` and `X-Final-URL`, appended by the caller).
 */
const RESPONSE_DROPPED = new NameRule(
  [
    ...HOP_BY_HOP,
    'set-cookie',
    'set-cookie2',
    ...ORIGIN_STATE_HEADERS,
    'x-content-type-options',
    'x-request-url',
    'x-final-url',
  ],
  ['access-control-', ...ORIGIN_STATE_PREFIXES],
);

/** The token this proxy adds to `Via`, and looks for to detect a loop. */
export const VIA_TOKEN = 'corsway';

const NONE: ReadonlySet<string> = new Set();

/** What nearly every message says in `Connection`, parsed once: a Set per message cost about 2% of a small request. */
const COMMON_CONNECTION: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  ['keep-alive', 'close', 'Keep-Alive', 'Close'].map((value) => [value, new Set([value.toLowerCase()])]),
);

/** Header names listed in `Connection`, which are hop-by-hop too (RFC 9110 7.6.1). */
function connectionNamed(headers: HeaderMap): ReadonlySet<string> {
  const value = headers.get('connection');
  if (!value) return NONE;
  return COMMON_CONNECTION.get(value) ?? new Set(value.split(',').map((s) => s.trim().toLowerCase()));
}

/** Our `Via` entry, one string for every request. */
const VIA_ENTRY = `1.1 ${VIA_TOKEN}`;

/**
 * The fields one pass over a message keeps, gathered in a list reused by
 * every pass (each runs to its end synchronously) and copied once: no list
 * grown by push (17 slots, then 41) and no closure per message
 * (docs/decisions/node24-pretenuring.md).
 */
class Gathered {
  /** name, value, ... in the first `count` slots. */
  readonly list: string[] = [];
  count = 0;
  via: string | null = null;
  /** What this direction never passes on. */
  readonly #dropped: NameRule;
  /** The names the message's own `Connection` lists. */
  #named: ReadonlySet<string> = NONE;

  constructor(dropped: NameRule) {
    this.#dropped = dropped;
  }

  start(named: ReadonlySet<string>): void {
    this.count = 0;
    this.#named = named;
    this.via = null;
  }

  /** Whether the field `name` stays behind: on the direction's list, or named by the message's `Connection`. */
  drops(name: string): boolean {
    return this.#dropped.match(name) || (this.#named !== NONE && this.#named.has(name));
  }

  add(name: string, value: string): void {
    this.list[this.count++] = name;
    this.list[this.count++] = value;
  }

  /**
   * The fields gathered, with room for `room` entries more: V8 keeps a list's
   * slots when its length is cut by less than half, so appending as many
   * later copies nothing. The reused list is emptied: no message's fields (a
   * client's credentials) stay in it.
   */
  take(room: number): Fields {
    const { list, count } = this;
    while (list.length < count + room) list.push('');
    const taken = list.slice(0, count + room);
    // Cut by `pop`, which V8 compiles in place, not by a store to `length`, which runs in its runtime.
    for (let i = 0; i < room; i++) taken.pop();
    // A loop, not `fill`: Node 20 runs Array.prototype.fill in its runtime, not in generated code.
    for (let i = 0; i < count; i++) list[i] = '';
    return Fields.adopt(taken);
  }
}

const forwarded = new Gathered(REQUEST_DROPPED);

/** The headers to send upstream, with our `Via` entry appended. */
export function requestHeaders(incoming: HeaderMap): Fields {
  forwarded.start(connectionNamed(incoming));
  incoming.forEach(forwardOne);
  const { via } = forwarded;
  // Relayed last, with our entry (even when Connection names it).
  forwarded.add('via', via ? `${via}, ${VIA_ENTRY}` : VIA_ENTRY);
  // At its exact length: these fields are held while the target is waited for.
  return forwarded.take(0);
}

function forwardOne(value: string, name: string): void {
  // Read here, not looked up again.
  if (name === 'via') forwarded.via = forwarded.via === null ? value : `${forwarded.via}, ${value}`;
  else if (!forwarded.drops(name)) {
    forwarded.add(name, value);
  }
}

/** True when `Via` says the request already passed through this proxy. */
export function hasLooped(incoming: HeaderMap): boolean {
  const via = incoming.get('via');
  if (!via) return false;
  return via.split(',').some((entry) => entry.trim().split(/\s+/)[1]?.toLowerCase() === VIA_TOKEN);
}

/**
 * The target's response headers the client may see: without hop-by-hop ones,
 * cookies, the target's own CORS answer, headers that would act on the
 * proxy's origin (WWW-Authenticate renamed), and the fields the proxy sets
 * itself (X-Request-URL and X-Final-URL are the caller's to append).
 */
export function responseHeaders(upstream: HeaderMap): Fields {
  relayed.start(connectionNamed(upstream));
  upstream.forEach(relayOne);
  // A proxied page opened directly must not run script as the proxy's origin.
  relayed.add('content-security-policy', 'sandbox');
  relayed.add('x-content-type-options', 'nosniff');
  return relayed.take(ADDED_LATER);
}

const relayed = new Gathered(RESPONSE_DROPPED);

/** Entries the proxy appends to a relayed response after these: X-Request-URL, X-Final-URL and three CORS fields. */
const ADDED_LATER = 10;

function relayOne(value: string, name: string): void {
  if (relayed.drops(name)) return;
  relayed.add(name === WWW_AUTHENTICATE ? RENAMED_WWW_AUTHENTICATE : name, value);
}
