#!/usr/bin/env node
/*
 * `npx corsway`: flags become the environment variables they mirror (flags
 * win over the environment), then the Node server starts as `npm start` does.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig, parseListen } from '../config/config.ts';

interface Flag {
  readonly variable: string;
  /** What the value looks like in --help; none for a switch. */
  readonly value?: string;
  readonly default: string;
  readonly help: string;
}

/** Every flag, in --help order; switches take `--no-<name>` too. */
const FLAGS: Record<string, Flag> = {
  host: {
    variable: 'HOST',
    value: '<address>',
    default: '0.0.0.0; 127.0.0.1 with --allow-private-network',
    help: 'address to listen on',
  },
  port: { variable: 'PORT', value: '<number>', default: '8080', help: 'port to listen on (0: any free port)' },
  workers: {
    variable: 'CORSWAY_WORKERS',
    value: '<number>',
    default: '1',
    help: 'processes serving the port, up to one per core',
  },
  'allow-origins': {
    variable: 'CORSWAY_ALLOW_ORIGINS',
    value: '<list>',
    default: 'any',
    help: 'allowed page origins: https://app.example.com,https://*.example.com',
  },
  'block-origins': {
    variable: 'CORSWAY_BLOCK_ORIGINS',
    value: '<list>',
    default: 'none',
    help: 'refused page origins; wins over --allow-origins',
  },
  'allow-targets': {
    variable: 'CORSWAY_ALLOW_TARGETS',
    value: '<list>',
    default: 'any public host',
    help: 'target hosts: api.example.com,*.example.com',
  },
  'require-header': {
    variable: 'CORSWAY_REQUIRE_HEADER',
    value: '<list>',
    default: 'none',
    help: 'a request must carry one of these headers',
  },
  'rate-limit': { variable: 'CORSWAY_RATE_LIMIT', value: '<count/window>', default: 'off', help: 'e.g. 60/1m' },
  'rate-limit-by': { variable: 'CORSWAY_RATE_LIMIT_BY', value: 'ip|origin', default: 'ip', help: 'whose budget' },
  'redis-url': {
    variable: 'CORSWAY_REDIS_URL',
    value: '<url>',
    default: 'none',
    help: 'share budgets between instances: redis://host:6379',
  },
  'trust-proxy': {
    variable: 'CORSWAY_TRUST_PROXY',
    default: 'off',
    help: 'client address from the last X-Forwarded-For hop',
  },
  'allow-private-network': {
    variable: 'CORSWAY_ALLOW_PRIVATE_NETWORK',
    default: 'off',
    help: 'allow loopback/private targets (development only)',
  },
  'max-redirects': { variable: 'CORSWAY_MAX_REDIRECTS', value: '<number>', default: '5', help: 'redirects followed' },
  'timeout-ms': {
    variable: 'CORSWAY_TIMEOUT_MS',
    value: '<ms>',
    default: '30000',
    help: "wait for the target's response headers",
  },
  'max-body-bytes': {
    variable: 'CORSWAY_MAX_BODY_BYTES',
    value: '<bytes>',
    default: '10485760',
    help: 'largest request body forwarded',
  },
  'max-response-bytes': {
    variable: 'CORSWAY_MAX_RESPONSE_BYTES',
    value: '<bytes>',
    default: '0 (unlimited)',
    help: 'largest response body relayed',
  },
  'max-age': { variable: 'CORSWAY_MAX_AGE', value: '<seconds>', default: '86400', help: 'preflight cache time' },
  'log-level': {
    variable: 'CORSWAY_LOG_LEVEL',
    value: 'info|warn|error|silent',
    default: 'info',
    help: 'least severe access-log line written',
  },
  'log-target-url': {
    variable: 'CORSWAY_LOG_TARGET_URL',
    default: 'off',
    help: 'log whole target URLs, not only their origin',
  },
  metrics: { variable: 'CORSWAY_METRICS', default: 'off', help: 'serve Prometheus metrics at /metrics' },
  'metrics-token': {
    variable: 'CORSWAY_METRICS_TOKEN',
    value: '<token>',
    default: 'none',
    help: 'bearer token /metrics requires (16+ characters)',
  },
};

function helpText(): string {
  const rows = Object.entries(FLAGS).map(([name, flag]) => [
    `${name === 'port' ? '-p, ' : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`,
    `${flag.help}\n${flag.variable}, default: ${flag.default}`,
  ]);
  rows.push(['-h, --help', 'show this help'], ['-v, --version', 'show the version']);
  const width = Math.max(...rows.map(([left]) => (left as string).length));
  const indent = `\n  ${' '.repeat(width)}  `;
  return `Usage: corsway [options]

A CORS proxy: GET http://localhost:8080/https://api.example.com/data fetches
the target and answers with CORS headers added.

Every option mirrors an environment variable (named below it); options win.
Lists are comma-separated. Switches also take --no-<name>.
HTTP_PROXY, HTTPS_PROXY and NO_PROXY route upstream requests through a proxy.

Options:
${rows.map(([left, right]) => `  ${(left as string).padEnd(width)}  ${(right as string).replace('\n', indent)}`).join('\n')}
`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** A usage error: bad flags exit 2, as shells and getopt tools do. */
function usageError(message: string): never {
  process.stderr.write(`corsway: ${message}\nRun corsway --help to see the options.\n`);
  process.exit(2);
}

const options = Object.fromEntries(
  Object.entries(FLAGS).map(([name, flag]) => [name, { type: flag.value ? 'string' : 'boolean' } as const]),
);
let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      ...options,
      port: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowNegative: true,
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  // Node's messages are precise but long; the first sentence names the problem.
  usageError(((error as Error).message.split(/\.\s/)[0] ?? '').replace(/^Unknown option/, 'unknown option'));
}

if (values.help) {
  process.stdout.write(helpText());
  process.exit(0);
}
if (values.version) {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}

/** Variable -> the flag that set it. */
const fromFlags = new Map<string, string>();
for (const [name, flag] of Object.entries(FLAGS)) {
  const value = values[name];
  if (value === undefined) continue;
  process.env[flag.variable] = typeof value === 'boolean' ? (value ? 'on' : 'off') : value;
  fromFlags.set(flag.variable, `--${name}`);
}

// Checked here too, so a bad flag value is a usage error named after the flag.
try {
  parseConfig(process.env);
  parseListen(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  const byFlag = error.problems.filter((p) => fromFlags.has(p.slice(0, p.indexOf(':'))));
  if (byFlag.length > 0) {
    usageError(
      byFlag
        .map((p) => {
          const variable = p.slice(0, p.indexOf(':'));
          return `${fromFlags.get(variable)}${p.slice(variable.length)}`;
        })
        .join('\n  '),
    );
  }
  // Problems in the environment itself are reported by the server, exit 1.
}

await import('./main.ts');
