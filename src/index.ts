import type { Context, Hono } from 'hono';
import { type Capabilities, createApp } from './app.ts';
import { appliesTo, type Config, ConfigError, parseSettings } from './config/config.ts';
import type { OptionType } from './config/kinds.ts';
import { SETTINGS, type SettingOptions } from './config/settings.ts';
import { fetchUpstream } from './core/fetch-upstream.ts';
import type { RequestRecord } from './core/record.ts';
import type { Upstream } from './core/upstream.ts';
import type { RateLimiter } from './limiters/rate-limit.ts';
import type { Metrics } from './observe/metrics.ts';

export type { AccessKeyOption } from './config/kinds.ts';
export type { RequestBody } from './core/body.ts';
export { fetchUpstream } from './core/fetch-upstream.ts';
export type { RequestRecord } from './core/record.ts';
export type { Upstream, UpstreamRequest, UpstreamResponse } from './core/upstream.ts';
export type { RateLimitDecision, RateLimiter } from './limiters/rate-limit.ts';
export { createMetrics, type Metrics } from './observe/metrics.ts';

/**
 * What `corsway()` accepts: every setting that applies to the library, typed
 * (docs/configuration.md lists them with their variables), plus the
 * capabilities the host lends.
 */
export interface CorswayOptions extends SettingOptions {
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

const CAPABILITIES: Record<string, 'object' | 'function'> = {
  upstream: 'function',
  limiter: 'object',
  clientAddress: 'function',
  log: 'function',
  metrics: 'object',
};

const LIBRARY = new Set<string>(SETTINGS.filter((s) => appliesTo(s, 'library')).map((s) => s.name));

function invalidOptions(problems: readonly string[]): TypeError {
  return new TypeError(`corsway(): invalid options:\n  ${problems.join('\n  ')}`);
}

/** The options parsed by the settings table's own rules, each problem named after its option. */
function configOf(options: CorswayOptions): Config {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(options)) {
    const capability = CAPABILITIES[name];
    if (value === undefined || LIBRARY.has(name)) continue;
    if (!capability) problems.push(`${name}: not an option of corsway()`);
    else if (typeof value !== capability)
      problems.push(`${name}: expected ${capability === 'object' ? 'an object' : 'a function'}`);
  }
  const given = options as Readonly<Record<string, unknown>>;
  try {
    const config = parseSettings(
      (setting) => {
        const value = LIBRARY.has(setting.name) ? given[setting.name] : undefined;
        const type = setting.kind.option as OptionType<unknown>;
        if (value === undefined || type.is(value)) return value;
        problems.push(`${setting.name}: expected ${type.expected}, got ${JSON.stringify(value)}`);
        return undefined;
      },
      (name) => name,
    );
    if (problems.length > 0) throw invalidOptions(problems);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) throw invalidOptions([...problems, ...error.problems]);
    throw error;
  }
}

function onWorkers(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
}

/** The peer's address where the runtime tells it (routes.ts applies `trustProxy`); see `CorswayOptions.clientAddress`. */
function defaultClientAddress(workers: boolean): (c: Context) => string {
  return (c) => {
    if (workers) return c.req.header('cf-connecting-ip') ?? '';
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    return env?.incoming?.socket?.remoteAddress ?? '';
  };
}

/**
 * The proxy as a Hono app, to serve on its own or mount under a prefix:
 * `app.route('/proxy', corsway({ allowOrigins: ['https://app.example.com'] }))`.
 * The target is whatever follows the mount point.
 * @throws TypeError naming each invalid option.
 */
export function corsway(options: CorswayOptions = {}): Hono {
  const config = configOf(options);
  const workers = onWorkers();
  const caps: Capabilities = {
    upstream: options.upstream ?? fetchUpstream,
    clientAddress: options.clientAddress ?? defaultClientAddress(workers),
    // Not knowing the runtime, wait for refused uploads as node:http needs; Workers need not.
    drainUploads: !workers,
    ...(options.limiter && { limiter: options.limiter }),
    ...(options.log && { log: options.log }),
    ...(options.metrics && { metrics: options.metrics }),
  };
  return createApp(config, caps);
}
