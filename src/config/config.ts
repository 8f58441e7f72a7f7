import { type AnySetting, type Place, SETTINGS, type SettingName, type SettingValues } from './settings.ts';

export type { AccessKey, AccessKeyOption, Listed, RateLimitSpec, TargetHeaders } from './kinds.ts';
export { LOG_LEVELS, type LogLevel } from './settings.ts';

/** The proxy's settings, parsed once, frozen; `settings.ts` documents each field. */
export type Config = SettingValues;

/** One problem with one setting. */
export interface Problem {
  readonly setting: SettingName;
  readonly message: string;
}

/**
 * Thrown when settings hold malformed values; lists every problem, each
 * prefixed with what the user wrote: the variable, the option or the flag.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  /** The problems by setting, for an entry that names them its own way (a flag, an option). */
  readonly issues: readonly Problem[];
  constructor(problems: readonly string[], issues: readonly Problem[] = []) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.issues = issues;
  }
}

export type Env = Readonly<Record<string, unknown>>;

const BY_NAME = new Map<string, AnySetting>(SETTINGS.map((s) => [s.name, s]));

export function variableOf(name: SettingName): string {
  return (BY_NAME.get(name) as AnySetting).variable;
}

/** Unset, null and blank all mean the default (wrangler.toml ships variables empty). */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/**
 * Parses every setting from `read(setting)` (an environment, or typed options),
 * collecting every problem instead of stopping at the first, so a bad
 * environment is fixed in one go.
 * @throws ConfigError listing each problem, labelled by `label`.
 */
export function parseSettings(
  read: (setting: AnySetting) => unknown,
  label: (setting: SettingName) => string = variableOf,
): Config {
  const issues: Problem[] = [];
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const given = read(setting);
    const kind = setting.kind as { parse(input: unknown): unknown };
    try {
      values[setting.name] = kind.parse(isUnset(given) ? setting.default : given);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      issues.push({ setting: setting.name, message: error.message });
      values[setting.name] = kind.parse(setting.default);
    }
  }
  // A development proxy that reaches private targets never opens them to the LAN unless HOST says so.
  values.host ||= values.allowPrivateNetwork ? '127.0.0.1' : '0.0.0.0';
  const config = values as Config;
  const failed = new Set(issues.map((p) => p.setting));
  for (const rule of TOGETHER) {
    if (rule.reads.some((name) => failed.has(name)) || !rule.wrong(config)) continue;
    issues.push({ setting: rule.setting, message: rule.message });
  }
  if (issues.length > 0)
    throw new ConfigError(
      issues.map((p) => `${label(p.setting)}: ${p.message}`),
      issues,
    );
  return Object.freeze(config);
}

/** A rule over settings that are each well formed but wrong together. */
interface Together {
  /** The settings it reads: a rule over a setting that failed its own check says nothing true. */
  readonly reads: readonly SettingName[];
  readonly setting: SettingName;
  readonly message: string;
  readonly wrong: (c: Config) => boolean;
}

const TOGETHER: readonly Together[] = [
  {
    reads: ['metrics', 'metricsToken'],
    setting: 'metricsToken',
    message:
      'required when CORSWAY_METRICS is on, 16 characters or more (the bearer token your Prometheus sends to read /metrics)',
    wrong: (c) => c.metrics && (c.metricsToken?.length ?? 0) < 16,
  },
  // What lives in one process's memory would silently split between workers.
  {
    reads: ['workers', 'rateLimit', 'redisUrl'],
    setting: 'workers',
    message:
      'each worker would keep its own CORSWAY_RATE_LIMIT budget, multiplying it; set CORSWAY_REDIS_URL so they share one, or run a single worker',
    wrong: (c) => c.workers > 1 && c.rateLimit !== null && !c.redisUrl,
  },
  {
    reads: ['workers', 'bandwidthLimit', 'keys', 'redisUrl'],
    setting: 'workers',
    message:
      'each worker would keep its own bandwidth and access-key budgets (CORSWAY_BANDWIDTH_LIMIT, CORSWAY_KEYS limits), multiplying them; set CORSWAY_REDIS_URL so they share them, or run a single worker',
    wrong: (c) =>
      c.workers > 1 &&
      !c.redisUrl &&
      (c.bandwidthLimit !== null || c.keys.some((k) => k.rateLimit !== null || k.bandwidthLimit !== null)),
  },
  {
    reads: ['workers', 'metrics'],
    setting: 'workers',
    message:
      'each worker counts its own metrics and a scrape would reach only one of them; run a single worker per process when CORSWAY_METRICS is on',
    wrong: (c) => c.workers > 1 && c.metrics,
  },
  {
    reads: ['anonymous', 'keys'],
    setting: 'anonymous',
    message: 'off refuses every request without a key; set CORSWAY_KEYS to the keys your apps present',
    wrong: (c) => !c.anonymous && c.keys.length === 0,
  },
  // Anyone could otherwise spend the operator's secret headers.
  {
    reads: ['targetHeaders', 'allowOrigins', 'keys', 'anonymous'],
    setting: 'targetHeaders',
    message:
      'anyone could send requests carrying these headers: set CORSWAY_ALLOW_ORIGINS, or CORSWAY_KEYS with CORSWAY_ANONYMOUS=off',
    wrong: (c) => c.targetHeaders.length > 0 && !c.allowOrigins && !(c.keys.length > 0 && !c.anonymous),
  },
];

/**
 * Parses every setting of `env` (`process.env` or a Worker's `env`, whose
 * `[vars]` may be numbers, booleans or tables).
 * @throws ConfigError naming each malformed variable.
 */
export function parseConfig(env: Env): Config {
  return parseSettings((setting) => env[setting.variable]);
}

/** Whether `setting` has an effect at `place`. */
export function appliesTo(setting: AnySetting, place: Place): boolean {
  return (setting.where as readonly Place[]).includes(place);
}

/** How the Node server listens and how many processes serve. */
export type Listen = Pick<Config, 'host' | 'port' | 'workers'>;

/** The URL of a server listening on `address` (an IPv6 one in brackets) and `port`, for its "listening" line. */
export function listenUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
