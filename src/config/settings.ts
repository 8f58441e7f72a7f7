import { partCount } from '../limiters/shard.ts';
import {
  accessKeys,
  bool,
  budget,
  bytes,
  headerNames,
  hosts,
  int,
  type Kind,
  mediaRanges,
  type OptionType,
  oneOf,
  optionalText,
  origins,
  plainText,
  readableBytes,
  targetHeaders,
  url,
} from './kinds.ts';

/** Where a setting has an effect: the Node server (and its CLI), a Worker, the `corsway()` library. */
export type Place = 'node' | 'workers' | 'library';

/** Access-log severities, least severe first; `silent` writes nothing. */
export const LOG_LEVELS = ['info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One setting: everything the parser, the library, the CLI, the help page and the docs say about it. */
export interface Setting<N extends string, T, O, W extends Place> {
  /** The `corsway()` option and the `Config` field. */
  readonly name: N;
  /** The environment variable (also the `wrangler.toml` `[vars]` name). */
  readonly variable: string;
  readonly kind: Kind<T, O>;
  /** The value when unset, written as in the environment; '' for none. */
  readonly default: string;
  /** What the default means to people, when it says more than the value itself (`any`, `10 MiB`). */
  readonly meaning?: string;
  /** One line for `--help` and the docs table. */
  readonly doc: string;
  readonly where: readonly W[];
  /** No CLI flag: a value on a command line is visible to every user of the machine. @default false */
  readonly secret?: boolean;
  /** The help page's label for the value; none keeps it off the page. */
  readonly page?: string;
  /** The value on the help page, when the kind's own wording says less; `config` holds the other values. */
  readonly show?: (value: T, config: Readonly<Record<string, unknown>>) => string;
}

/** Whom a budget of `limit` belongs to, for the help page. */
function budgetOwner(config: Readonly<Record<string, unknown>>, limit: number): string {
  if (config.rateLimitBy !== 'origin') return 'client address';
  const parts = partCount(limit, config.rateLimitShards as number);
  return parts > 1 ? `origin, split into ${parts} parts by client address` : 'origin';
}

function define<const N extends string, T, O, const W extends Place>(setting: Setting<N, T, O, W>) {
  return setting;
}

/** Every setting, in the order of `--help`, the help page and the docs. */
export const SETTINGS = [
  define({
    name: 'host',
    variable: 'HOST',
    kind: plainText('<address>'),
    default: '',
    meaning: '0.0.0.0; 127.0.0.1 when CORSWAY_ALLOW_PRIVATE_NETWORK is on',
    doc: 'address the Node server listens on',
    where: ['node'],
  }),
  define({
    name: 'port',
    variable: 'PORT',
    kind: int({ min: 0, max: 65535 }),
    default: '8080',
    doc: 'port the Node server listens on; 0 lets the system pick a free one',
    where: ['node'],
  }),
  define({
    name: 'workers',
    variable: 'CORSWAY_WORKERS',
    kind: int({ min: 1, max: 256 }),
    default: '1',
    doc: 'processes serving the one port (node:cluster); useful up to one per core, more is started with a warning',
    where: ['node'],
  }),
  define({
    name: 'allowOrigins',
    variable: 'CORSWAY_ALLOW_ORIGINS',
    kind: origins(),
    default: '',
    meaning: 'any',
    doc: 'allowed request origins: https://app.example.com, https://*.example.com (subdomains at any depth), null',
    where: ['node', 'workers', 'library'],
    page: 'Allowed origins',
  }),
  define({
    name: 'blockOrigins',
    variable: 'CORSWAY_BLOCK_ORIGINS',
    kind: origins(),
    default: '',
    meaning: 'none',
    doc: 'refused request origins, same syntax; wins over the allow list',
    where: ['node', 'workers', 'library'],
    page: 'Blocked origins',
  }),
  define({
    name: 'allowTargets',
    variable: 'CORSWAY_ALLOW_TARGETS',
    kind: hosts(),
    default: '',
    meaning: 'any public host',
    doc: 'target hosts the proxy may fetch: api.example.com, *.example.com',
    where: ['node', 'workers', 'library'],
    page: 'Allowed targets',
  }),
  define({
    name: 'requireHeader',
    variable: 'CORSWAY_REQUIRE_HEADER',
    kind: headerNames(),
    default: '',
    meaning: 'none',
    doc: "a request must carry one of these headers (cors-anywhere's requireHeader), e.g. origin,x-requested-with",
    where: ['node', 'workers', 'library'],
    page: 'Required headers',
    show: (names) => `one of ${names.join(', ')}`,
  }),
  define({
    name: 'rateLimit',
    variable: 'CORSWAY_RATE_LIMIT',
    kind: budget('requests'),
    default: '',
    meaning: 'off',
    doc: 'requests per client per window: <count>/<window>, window like 30s, 1m, 1h, 1d (e.g. 60/1m)',
    where: ['node', 'workers', 'library'],
    page: 'Rate limit',
    show: (budget, config) =>
      `${budget?.limit} requests per ${budget?.windowSeconds} s per ${budgetOwner(config, budget?.limit ?? 1)}`,
  }),
  define({
    name: 'rateLimitBy',
    variable: 'CORSWAY_RATE_LIMIT_BY',
    kind: oneOf(['ip', 'origin']),
    default: 'ip',
    doc: 'what one budget belongs to: the client address or the request origin',
    where: ['node', 'workers', 'library'],
  }),
  define({
    name: 'rateLimitShards',
    variable: 'CORSWAY_RATE_LIMIT_SHARDS',
    kind: int({ min: 1, max: 1024 }),
    default: '1',
    meaning: 'not split',
    doc: "split each budget many clients share (an origin's, an access key's) into this many parts of its limit, each client spending the part its address hashes to; on Workers each part is its own Durable Object",
    where: ['node', 'workers', 'library'],
  }),
  define({
    name: 'redisUrl',
    variable: 'CORSWAY_REDIS_URL',
    kind: url(['redis:', 'rediss:']),
    default: '',
    meaning: 'none',
    doc: 'keep rate-limit budgets in this Redis (redis:// or rediss://) so that several instances share them',
    where: ['node'],
  }),
  define({
    name: 'rateLimitFailure',
    variable: 'CORSWAY_RATE_LIMIT_FAILURE',
    kind: oneOf(['open', 'closed']),
    default: 'open',
    doc: 'while the shared budget store is unreachable: open serves from per-instance budgets, closed answers 429',
    where: ['node', 'workers'],
  }),
  define({
    name: 'trustProxy',
    variable: 'CORSWAY_TRUST_PROXY',
    kind: bool(),
    default: 'off',
    doc: "take the client address from the last X-Forwarded-For hop (only behind the operator's own reverse proxy)",
    where: ['node', 'library'],
  }),
  define({
    name: 'allowPrivateNetwork',
    variable: 'CORSWAY_ALLOW_PRIVATE_NETWORK',
    kind: bool(),
    default: 'off',
    doc: 'allow targets on loopback, private and link-local addresses (local development and tests only)',
    where: ['node', 'workers', 'library'],
    page: 'Private network targets',
    show: (allowed) => (allowed ? 'allowed (development mode)' : 'refused'),
  }),
  define({
    name: 'maxRedirects',
    variable: 'CORSWAY_MAX_REDIRECTS',
    kind: int({ min: 0, max: 20 }),
    default: '5',
    doc: 'redirects followed server-side, each hop checked like the first URL',
    where: ['node', 'workers', 'library'],
    page: 'Redirects followed',
  }),
  define({
    name: 'timeoutMs',
    variable: 'CORSWAY_TIMEOUT_MS',
    // A JS timer takes at most 2^31-1 ms (24.8 days); Node and workerd turn a longer delay into 1 ms.
    kind: int({ min: 1, max: 2_147_483_647, unit: ' ms', hint: '<ms>' }),
    default: '30000',
    meaning: '30 s',
    doc: "milliseconds to wait for the target's response headers",
    where: ['node', 'workers', 'library'],
    page: 'Upstream timeout',
  }),
  define({
    name: 'maxBodyBytes',
    variable: 'CORSWAY_MAX_BODY_BYTES',
    kind: bytes(),
    default: '10485760',
    meaning: '10 MiB',
    doc: 'largest request body forwarded; a larger one is refused with 413',
    where: ['node', 'workers', 'library'],
    page: 'Largest request body',
  }),
  define({
    name: 'maxResponseBytes',
    variable: 'CORSWAY_MAX_RESPONSE_BYTES',
    kind: bytes({ zero: 'unlimited' }),
    default: '0',
    meaning: 'unlimited',
    doc: 'largest response body relayed; beyond it the response is cut off (502 when known before sending)',
    where: ['node', 'workers', 'library'],
    page: 'Largest response body',
  }),
  define({
    name: 'maxAge',
    variable: 'CORSWAY_MAX_AGE',
    kind: int({ min: 0, hint: '<seconds>' }),
    default: '86400',
    meaning: '1 day',
    doc: 'Access-Control-Max-Age of preflight answers, in seconds',
    where: ['node', 'workers', 'library'],
  }),
  define({
    name: 'cache',
    variable: 'CORSWAY_CACHE',
    kind: bool(),
    default: 'off',
    doc: 'a shared HTTP cache of target responses (RFC 9111); Node keeps it in memory, Workers use the Cache API',
    where: ['node', 'workers', 'library'],
    page: 'Shared cache',
  }),
  define({
    name: 'cacheBytes',
    variable: 'CORSWAY_CACHE_BYTES',
    kind: bytes({ min: 1024 }),
    default: '67108864',
    meaning: '64 MiB',
    doc: 'memory bound of the cache; least recently used entries leave first',
    where: ['node', 'library'],
  }),
  define({
    name: 'keys',
    variable: 'CORSWAY_KEYS',
    kind: accessKeys(),
    default: '',
    meaning: 'none',
    doc: 'access keys of 16 or more visible ASCII characters, JSON: [{"key": "...", "origins": [...], "rateLimit": "600/1m", "bandwidthLimit": "1073741824/1d"}]; a secret on Workers',
    where: ['node', 'workers', 'library'],
    secret: true,
    // How many, never which.
    page: 'Access keys (X-Corsway-Key)',
  }),
  define({
    name: 'anonymous',
    variable: 'CORSWAY_ANONYMOUS',
    kind: bool(),
    default: 'on',
    doc: 'off: a request without a valid X-Corsway-Key is refused (401 key_required); on: served under the anonymous limits',
    where: ['node', 'workers', 'library'],
    page: 'Requests without an access key',
    show: (served) => (served ? 'served' : 'refused'),
  }),
  define({
    name: 'bandwidthLimit',
    variable: 'CORSWAY_BANDWIDTH_LIMIT',
    kind: budget('bytes'),
    default: '',
    meaning: 'off',
    doc: 'response body bytes relayed per budget: <bytes>/<window> (e.g. 1073741824/1d), keyed like the rate limit',
    where: ['node', 'workers', 'library'],
    page: 'Bandwidth limit',
    show: (budget, config) =>
      `${readableBytes(budget?.limit ?? 0)} per ${budget?.windowSeconds} s per ${budgetOwner(config, budget?.limit ?? 1)}`,
  }),
  define({
    name: 'allowContentTypes',
    variable: 'CORSWAY_ALLOW_CONTENT_TYPES',
    kind: mediaRanges(),
    default: '',
    meaning: 'any',
    doc: 'media types a target response may have: application/json, text/*',
    where: ['node', 'workers', 'library'],
    page: 'Allowed content types',
  }),
  define({
    name: 'blockContentTypes',
    variable: 'CORSWAY_BLOCK_CONTENT_TYPES',
    kind: mediaRanges(),
    default: '',
    meaning: 'none',
    doc: 'media types refused (403 content_not_allowed), same syntax; wins over the allow list',
    where: ['node', 'workers', 'library'],
    page: 'Blocked content types',
  }),
  define({
    name: 'targetHeaders',
    variable: 'CORSWAY_TARGET_HEADERS',
    kind: targetHeaders(),
    default: '',
    meaning: 'none',
    doc: 'request headers set on requests to matching hosts, JSON: {"api.example.com": {"Authorization": "Bearer ..."}}; not Host, framing or hop-by-hop headers, nor X-Corsway-Key; a secret on Workers',
    where: ['node', 'workers', 'library'],
    secret: true,
    // The hosts, never the headers.
    page: 'Target headers set for',
  }),
  define({
    name: 'logLevel',
    variable: 'CORSWAY_LOG_LEVEL',
    kind: oneOf(LOG_LEVELS),
    default: 'info',
    doc: 'least severe access-log line written: info (below 400), warn (4xx), error (5xx), silent',
    where: ['node'],
  }),
  define({
    name: 'logTargetUrl',
    variable: 'CORSWAY_LOG_TARGET_URL',
    kind: bool(),
    default: 'off',
    doc: 'log whole target URLs rather than their origin (paths and queries often carry tokens)',
    where: ['node', 'library'],
  }),
  define({
    name: 'metrics',
    variable: 'CORSWAY_METRICS',
    kind: bool(),
    default: 'off',
    doc: 'serve Prometheus metrics at /metrics',
    where: ['node'],
  }),
  define({
    name: 'metricsToken',
    variable: 'CORSWAY_METRICS_TOKEN',
    kind: optionalText('<token>'),
    default: '',
    meaning: 'none',
    doc: 'bearer token /metrics requires; required, 16 characters or more, when CORSWAY_METRICS is on',
    where: ['node'],
  }),
] as const;

export type AnySetting = (typeof SETTINGS)[number];
export type SettingName = AnySetting['name'];

type ValueOf<S> = S extends { readonly kind: Kind<infer T, infer _O> } ? T : never;
type OptionOf<S> = S extends { readonly kind: { readonly option: OptionType<infer O> } } ? O : never;

/** Every setting's parsed value, by name. */
export type SettingValues = { readonly [S in AnySetting as S['name']]: ValueOf<S> };

/** The `corsway()` options: the settings that apply to the library, typed. */
export type SettingOptions = {
  readonly [S in AnySetting as 'library' extends S['where'][number] ? S['name'] : never]?: OptionOf<S>;
};

/** `allowPrivateNetwork` -> `--allow-private-network`; none for a secret. */
export function flagOf(setting: AnySetting): string | null {
  if (('secret' in setting && setting.secret) || !(setting.where as readonly Place[]).includes('node')) return null;
  return `--${setting.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A value on the help page: the setting's wording, or what its absence means. */
export function describe(setting: AnySetting, config: Readonly<Record<string, unknown>>): string {
  const value = config[setting.name];
  const empty = value === null || value === '' || (Array.isArray(value) && value.length === 0);
  if (empty) return ('meaning' in setting && setting.meaning) || 'none';
  const show = ('show' in setting ? setting.show : setting.kind.show) as (value: unknown, config: unknown) => string;
  return show(value, config);
}
