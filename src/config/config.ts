import { type OriginMatcher, originMatcher, parseOriginPattern } from '../core/origin.ts';
import { type HostMatcher, hostMatcher, parseHostPattern } from '../core/target.ts';

/** A rate-limit budget: `limit` requests per `windowSeconds`, per client. */
export interface RateLimitSpec {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** The proxy's settings, parsed once from the environment. See the SPEC for each variable. */
export interface Config {
  /** `CORSWAY_ALLOW_ORIGINS`. @default null (any origin) */
  readonly allowOrigins: OriginMatcher | null;
  /** `CORSWAY_BLOCK_ORIGINS`; wins over the allow list. @default null (none) */
  readonly blockOrigins: OriginMatcher | null;
  /** `CORSWAY_ALLOW_TARGETS`. @default null (any public host) */
  readonly allowTargets: HostMatcher | null;
  /** `CORSWAY_REQUIRE_HEADER`, lower-cased. @default [] */
  readonly requireHeaders: readonly string[];
  /** `CORSWAY_RATE_LIMIT`. @default null (off) */
  readonly rateLimit: RateLimitSpec | null;
  /** `CORSWAY_RATE_LIMIT_BY`. @default 'ip' */
  readonly rateLimitBy: 'ip' | 'origin';
  /** `CORSWAY_REDIS_URL` (Node only). @default null */
  readonly redisUrl: string | null;
  /**
   * `CORSWAY_RATE_LIMIT_FAILURE`: what a request gets while the shared budget
   * store (Redis, Durable Object) cannot be reached. `open` serves it, counted
   * against this instance's own in-memory budget instead; `closed` refuses it
   * with 429. Open by default: an outage of the store should not become an
   * outage of the proxy, and per-instance budgets still bound abuse.
   * @default 'open'
   */
  readonly rateLimitFailure: 'open' | 'closed';
  /** `CORSWAY_TRUST_PROXY` (Node only). @default false */
  readonly trustProxy: boolean;
  /** `CORSWAY_ALLOW_PRIVATE_NETWORK`. @default false */
  readonly allowPrivateNetwork: boolean;
  /** `CORSWAY_MAX_REDIRECTS`. @default 5 */
  readonly maxRedirects: number;
  /** `CORSWAY_TIMEOUT_MS`: until the upstream's response headers arrive. @default 30000 */
  readonly timeoutMs: number;
  /** `CORSWAY_MAX_BODY_BYTES`. @default 10485760 (10 MiB) */
  readonly maxBodyBytes: number;
  /** `CORSWAY_MAX_RESPONSE_BYTES`; 0 is unlimited. @default 0 */
  readonly maxResponseBytes: number;
  /** `CORSWAY_MAX_AGE`: `Access-Control-Max-Age` of preflight answers. @default 86400 */
  readonly maxAge: number;
  /**
   * `CORSWAY_LOG_LEVEL` (Node): the least severe access-log line written. A request
   * answered below 400 logs at `info`, a 4xx refusal at `warn`, a 5xx at `error`.
   * @default 'info'
   */
  readonly logLevel: LogLevel;
  /**
   * `CORSWAY_LOG_TARGET_URL` (Node): log the whole target URL rather than its
   * origin. Off by default because paths and queries often carry tokens.
   * @default false
   */
  readonly logTargetUrl: boolean;
  /** `CORSWAY_METRICS` (Node): serve Prometheus metrics at `/metrics`. @default false */
  readonly metrics: boolean;
  /**
   * `CORSWAY_METRICS_TOKEN`: the bearer token `/metrics` requires; required
   * (16 characters or more) when `CORSWAY_METRICS` is on, so the counters are
   * never public by accident. @default null
   */
  readonly metricsToken: string | null;
  /** `CORSWAY_CACHE`: a shared HTTP cache of target responses (RFC 9111). @default false */
  readonly cache: boolean;
  /** `CORSWAY_CACHE_BYTES` (Node): the cache's memory bound. @default 67108864 (64 MiB) */
  readonly cacheBytes: number;
  /** The list variables as written, for the help page. */
  readonly display: Readonly<Record<string, string>>;
}

/** Thrown when the environment holds malformed values; lists every problem. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, unknown>>;

/** Access-log severities, least severe first; `silent` writes nothing. */
export const LOG_LEVELS = ['info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const BOOLEANS: Record<string, boolean> = {
  '1': true,
  true: true,
  on: true,
  yes: true,
  '0': false,
  false: false,
  off: false,
  no: false,
};

const WINDOW_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Reads the variables one by one, collecting problems instead of stopping at
 * the first, so an operator fixes a bad environment in one go.
 */
class Reader {
  readonly problems: string[] = [];
  readonly #env: Env;
  constructor(env: Env) {
    this.#env = env;
  }

  text(name: string): string {
    const value = this.#env[name];
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') {
      this.problems.push(`${name}: expected a string, got ${typeof value}`);
      return '';
    }
    return value.trim();
  }

  list(name: string): string[] {
    return this.text(name)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** A comma list of header names (RFC 9110 5.1 tokens), lower-cased. */
  headerNames(name: string): string[] {
    const names = this.list(name).map((h) => h.toLowerCase());
    const bad = names.filter((h) => !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h));
    if (bad.length > 0) {
      this.problems.push(`${name}: expected header names such as origin,x-requested-with, got "${bad.join('", "')}"`);
      return [];
    }
    return names;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.text(name).toLowerCase();
    if (!value) return fallback;
    const parsed = BOOLEANS[value];
    if (parsed === undefined) {
      this.problems.push(`${name}: expected one of 1/0, true/false, on/off, yes/no, got "${value}"`);
      return fallback;
    }
    return parsed;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.text(name);
    if (!value) return fallback;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}: expected a whole number from ${min} to ${max}, got "${value}"`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.text(name).toLowerCase();
    if (!value) return fallback;
    if (!(choices as readonly string[]).includes(value)) {
      this.problems.push(`${name}: expected one of ${choices.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  /** A comma list whose entries `parse` turns into patterns, or throws a TypeError about. */
  patterns<P, M>(name: string, parse: (entry: string) => P, build: (patterns: P[]) => M): M | null {
    const patterns: P[] = [];
    for (const entry of this.list(name)) {
      try {
        patterns.push(parse(entry));
      } catch (error) {
        this.problems.push(`${name}: ${(error as Error).message}`);
      }
    }
    return patterns.length > 0 ? build(patterns) : null;
  }

  rateLimit(name: string): RateLimitSpec | null {
    const value = this.text(name);
    if (!value) return null;
    const m = /^(\d+)\s*\/\s*(\d*)\s*([smhd])$/i.exec(value);
    const limit = m ? Number(m[1]) : 0;
    const windowSeconds = m ? Number(m[2] || 1) * (WINDOW_UNITS[(m[3] as string).toLowerCase()] ?? 0) : 0;
    if (!m || limit < 1 || windowSeconds < 1 || !Number.isSafeInteger(limit)) {
      this.problems.push(`${name}: expected <count>/<window> such as 60/1m, 1000/1h or 10/30s, got "${value}"`);
      return null;
    }
    return { limit, windowSeconds };
  }

  url(name: string, protocols: readonly string[]): string | null {
    const value = this.text(name);
    if (!value) return null;
    try {
      if (protocols.includes(new URL(value).protocol)) return value;
    } catch {}
    this.problems.push(`${name}: expected a URL starting with ${protocols.join(' or ')}//, got "${value}"`);
    return null;
  }
}

/**
 * Parses every CORSWAY_ variable of `env` (`process.env` or a Worker's `env`).
 * @throws ConfigError naming each malformed variable.
 */
export function parseConfig(env: Env): Config {
  const read = new Reader(env);
  const config: Config = {
    allowOrigins: read.patterns('CORSWAY_ALLOW_ORIGINS', parseOriginPattern, originMatcher),
    blockOrigins: read.patterns('CORSWAY_BLOCK_ORIGINS', parseOriginPattern, originMatcher),
    allowTargets: read.patterns('CORSWAY_ALLOW_TARGETS', parseHostPattern, hostMatcher),
    requireHeaders: read.headerNames('CORSWAY_REQUIRE_HEADER'),
    rateLimit: read.rateLimit('CORSWAY_RATE_LIMIT'),
    rateLimitBy: read.oneOf('CORSWAY_RATE_LIMIT_BY', ['ip', 'origin'], 'ip'),
    redisUrl: read.url('CORSWAY_REDIS_URL', ['redis:', 'rediss:']),
    rateLimitFailure: read.oneOf('CORSWAY_RATE_LIMIT_FAILURE', ['open', 'closed'], 'open'),
    trustProxy: read.bool('CORSWAY_TRUST_PROXY', false),
    allowPrivateNetwork: read.bool('CORSWAY_ALLOW_PRIVATE_NETWORK', false),
    maxRedirects: read.int('CORSWAY_MAX_REDIRECTS', 5, 0, 20),
    timeoutMs: read.int('CORSWAY_TIMEOUT_MS', 30_000, 1),
    maxBodyBytes: read.int('CORSWAY_MAX_BODY_BYTES', 10 * 1024 * 1024, 0),
    maxResponseBytes: read.int('CORSWAY_MAX_RESPONSE_BYTES', 0, 0),
    maxAge: read.int('CORSWAY_MAX_AGE', 86_400, 0),
    logLevel: read.oneOf('CORSWAY_LOG_LEVEL', LOG_LEVELS, 'info'),
    logTargetUrl: read.bool('CORSWAY_LOG_TARGET_URL', false),
    metrics: read.bool('CORSWAY_METRICS', false),
    metricsToken: read.text('CORSWAY_METRICS_TOKEN') || null,
    cache: read.bool('CORSWAY_CACHE', false),
    cacheBytes: read.int('CORSWAY_CACHE_BYTES', 64 * 1024 * 1024, 1024),
    display: Object.freeze({
      allowOrigins: read.list('CORSWAY_ALLOW_ORIGINS').join(', '),
      blockOrigins: read.list('CORSWAY_BLOCK_ORIGINS').join(', '),
      allowTargets: read.list('CORSWAY_ALLOW_TARGETS').join(', '),
      requireHeaders: read.list('CORSWAY_REQUIRE_HEADER').join(', '),
      rateLimit: read.text('CORSWAY_RATE_LIMIT'),
    }),
  };
  if (config.metrics && (config.metricsToken?.length ?? 0) < 16) {
    read.problems.push(
      'CORSWAY_METRICS_TOKEN: required when CORSWAY_METRICS is on, 16 characters or more (the bearer token your Prometheus sends to read /metrics)',
    );
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

/** How the Node server listens and how many processes serve. */
export interface Listen {
  /**
   * `HOST`. @default '0.0.0.0', or '127.0.0.1' when CORSWAY_ALLOW_PRIVATE_NETWORK
   * is on, so that a development proxy never opens the private network to the LAN
   */
  readonly host: string;
  /** `PORT`; 0 lets the system pick a free port. @default 8080 */
  readonly port: number;
  /**
   * `CORSWAY_WORKERS`: processes serving the one port (node:cluster), one per
   * core at most being useful; 1 serves from the process itself. @default 1
   */
  readonly workers: number;
}

/** The URL of a server listening on `address` (an IPv6 one in brackets) and `port`, for its "listening" line. */
export function listenUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** `HOST`, `PORT` and `CORSWAY_WORKERS` for the Node server, checked like the rest. */
export function parseListen(env: Env): Listen {
  const read = new Reader(env);
  const listen = {
    host: read.text('HOST') || (read.bool('CORSWAY_ALLOW_PRIVATE_NETWORK', false) ? '127.0.0.1' : '0.0.0.0'),
    port: read.int('PORT', 8080, 0, 65535),
    workers: read.int('CORSWAY_WORKERS', 1, 1, 256),
  };
  // What lives in one process's memory would silently split between workers.
  if (listen.workers > 1 && read.text('CORSWAY_RATE_LIMIT') && !read.text('CORSWAY_REDIS_URL')) {
    read.problems.push(
      'CORSWAY_WORKERS: each worker would keep its own CORSWAY_RATE_LIMIT budget, multiplying it; set CORSWAY_REDIS_URL so they share one, or run a single worker',
    );
  }
  if (listen.workers > 1 && read.bool('CORSWAY_METRICS', false)) {
    read.problems.push(
      'CORSWAY_WORKERS: each worker counts its own metrics and a scrape would reach only one of them; run a single worker per process when CORSWAY_METRICS is on',
    );
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(listen);
}
