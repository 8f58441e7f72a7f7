import type { Context, Hono } from 'hono';
import { type Capabilities, createApp } from './app.ts';
import { ConfigError, parseConfig } from './config/config.ts';
import { socketClientAddress } from './core/address.ts';
import { fetchUpstream } from './core/fetch-upstream.ts';
import type { RequestRecord } from './core/proxy.ts';
import type { Upstream } from './core/upstream.ts';
import type { RateLimiter } from './limiters/rate-limit.ts';
import type { Metrics } from './observe/metrics.ts';

export type { RequestBody } from './core/body.ts';
export { fetchUpstream } from './core/fetch-upstream.ts';
export type { RequestRecord } from './core/proxy.ts';
export type { Upstream, UpstreamRequest, UpstreamResponse } from './core/upstream.ts';
export type { RateLimitDecision, RateLimiter } from './limiters/rate-limit.ts';
export { createMetrics, type Metrics } from './observe/metrics.ts';

/**
 * What `corsway()` accepts: the environment variables of the README as typed
 * options (lists as arrays), plus the capabilities the host lends.
 */
export interface CorswayOptions {
  /** `CORSWAY_ALLOW_ORIGINS`: exact origins or `https://*.example.com`. @default [] (any origin) */
  readonly allowOrigins?: readonly string[];
  /** `CORSWAY_BLOCK_ORIGINS`; wins over `allowOrigins`. @default [] */
  readonly blockOrigins?: readonly string[];
  /** `CORSWAY_ALLOW_TARGETS`: hosts such as `api.example.com` or `*.example.com`. @default [] (any public host) */
  readonly allowTargets?: readonly string[];
  /** `CORSWAY_REQUIRE_HEADER`: a request must carry one of these headers. @default [] */
  readonly requireHeader?: readonly string[];
  /** `CORSWAY_RATE_LIMIT`: `<count>/<window>`, e.g. `60/1m`. @default undefined (off) */
  readonly rateLimit?: string;
  /** `CORSWAY_RATE_LIMIT_BY`. @default 'ip' */
  readonly rateLimitBy?: 'ip' | 'origin';
  /**
   * `CORSWAY_TRUST_PROXY`: take the client address from the last
   * `X-Forwarded-For` hop (only behind your own reverse proxy). @default false
   */
  readonly trustProxy?: boolean;
  /** `CORSWAY_ALLOW_PRIVATE_NETWORK`: allow loopback/private targets (development only). @default false */
  readonly allowPrivateNetwork?: boolean;
  /** `CORSWAY_MAX_REDIRECTS`. @default 5 */
  readonly maxRedirects?: number;
  /** `CORSWAY_TIMEOUT_MS`: until the target's response headers arrive. @default 30000 */
  readonly timeoutMs?: number;
  /** `CORSWAY_MAX_BODY_BYTES`. @default 10485760 */
  readonly maxBodyBytes?: number;
  /** `CORSWAY_MAX_RESPONSE_BYTES`; 0 is unlimited. @default 0 */
  readonly maxResponseBytes?: number;
  /** `CORSWAY_MAX_AGE`: `Access-Control-Max-Age` of preflight answers. @default 86400 */
  readonly maxAge?: number;
  /** `CORSWAY_LOG_TARGET_URL`: records carry the whole target URL, not its origin. @default false */
  readonly logTargetUrl?: boolean;
  /**
   * How requests reach targets. @default the global `fetch` (spelling checks
   * only; on Node use `corsway` from `corsway/node` for the connect-time guard)
   */
  readonly upstream?: Upstream;
  /** Where rate-limit budgets live. @default in memory, when `rateLimit` is set */
  readonly limiter?: RateLimiter;
  /**
   * The client's address. @default the socket's address on Node
   * (@hono/node-server), `CF-Connecting-IP` on Cloudflare Workers, else none:
   * every client shares one budget
   */
  readonly clientAddress?: (c: Context) => string;
  /** Called once per proxied request, when its response ended. @default none */
  readonly log?: (record: RequestRecord) => void;
  /** Counters to update; render them with `metrics.render()` where you choose. @default none */
  readonly metrics?: Metrics;
}

type Kind = 'list' | 'text' | 'bool' | 'int';

/** Each configuration option, with the variable it stands for. */
const VARIABLES: Record<string, [variable: string, kind: Kind]> = {
  allowOrigins: ['CORSWAY_ALLOW_ORIGINS', 'list'],
  blockOrigins: ['CORSWAY_BLOCK_ORIGINS', 'list'],
  allowTargets: ['CORSWAY_ALLOW_TARGETS', 'list'],
  requireHeader: ['CORSWAY_REQUIRE_HEADER', 'list'],
  rateLimit: ['CORSWAY_RATE_LIMIT', 'text'],
  rateLimitBy: ['CORSWAY_RATE_LIMIT_BY', 'text'],
  trustProxy: ['CORSWAY_TRUST_PROXY', 'bool'],
  allowPrivateNetwork: ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'bool'],
  maxRedirects: ['CORSWAY_MAX_REDIRECTS', 'int'],
  timeoutMs: ['CORSWAY_TIMEOUT_MS', 'int'],
  maxBodyBytes: ['CORSWAY_MAX_BODY_BYTES', 'int'],
  maxResponseBytes: ['CORSWAY_MAX_RESPONSE_BYTES', 'int'],
  maxAge: ['CORSWAY_MAX_AGE', 'int'],
  logTargetUrl: ['CORSWAY_LOG_TARGET_URL', 'bool'],
};

const CAPABILITIES = new Set(['upstream', 'limiter', 'clientAddress', 'log', 'metrics']);

const EXPECTED: Record<Kind, string> = {
  list: 'an array of strings',
  text: 'a string',
  bool: 'true or false',
  int: 'a whole number',
};

function fits(kind: Kind, value: unknown): boolean {
  if (kind === 'list') return Array.isArray(value) && value.every((v) => typeof v === 'string' && !v.includes(','));
  if (kind === 'text') return typeof value === 'string';
  if (kind === 'bool') return typeof value === 'boolean';
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** The options as the variables they mirror, so `parseConfig` checks both alike. */
function toEnv(options: CorswayOptions): Record<string, string> {
  const problems: string[] = [];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const entry = VARIABLES[name];
    if (!entry) {
      if (!CAPABILITIES.has(name)) problems.push(`${name}: not an option of corsway()`);
      else if (typeof value !== (name === 'limiter' || name === 'metrics' ? 'object' : 'function')) {
        problems.push(`${name}: expected ${name === 'limiter' || name === 'metrics' ? 'an object' : 'a function'}`);
      }
      continue;
    }
    const [variable, kind] = entry;
    if (!fits(kind, value)) {
      problems.push(`${name}: expected ${EXPECTED[kind]}, got ${JSON.stringify(value)}`);
      continue;
    }
    env[variable] = Array.isArray(value) ? value.join(',') : String(value);
  }
  if (problems.length > 0) throw invalidOptions(problems);
  return env;
}

function invalidOptions(problems: readonly string[]): TypeError {
  return new TypeError(`corsway(): invalid options:\n  ${problems.join('\n  ')}`);
}

/** Problems name the variable; a library user wrote an option. */
function renameProblem(problem: string): string {
  for (const [option, [variable]] of Object.entries(VARIABLES)) {
    if (problem.startsWith(`${variable}:`)) return `${option}${problem.slice(variable.length)}`;
  }
  return problem;
}

/** The client's address where the runtime tells it; see `CorswayOptions.clientAddress`. */
function defaultClientAddress(trustProxy: boolean): (c: Context) => string {
  const onWorkers =
    (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
  return (c) => {
    if (onWorkers) return c.req.header('cf-connecting-ip') ?? '';
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    return socketClientAddress(env?.incoming?.socket?.remoteAddress ?? '', c.req.header('x-forwarded-for'), trustProxy);
  };
}

/**
 * The proxy as a Hono app, to serve on its own or mount under a prefix:
 * `app.route('/proxy', corsway({ allowOrigins: ['https://app.example.com'] }))`.
 * The target is whatever follows the mount point.
 * @throws TypeError naming each invalid option.
 */
export function corsway(options: CorswayOptions = {}): Hono {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(toEnv(options));
  } catch (error) {
    if (error instanceof ConfigError) throw invalidOptions(error.problems.map(renameProblem));
    throw error;
  }
  const caps: Capabilities = {
    upstream: options.upstream ?? fetchUpstream,
    clientAddress: options.clientAddress ?? defaultClientAddress(config.trustProxy),
    ...(options.limiter && { limiter: options.limiter }),
    ...(options.log && { log: options.log }),
    ...(options.metrics && { metrics: options.metrics }),
  };
  return createApp(config, caps);
}
