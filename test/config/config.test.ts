import { describe, expect, test } from 'vitest';
import { type Env, parseConfig } from '../../src/config/config.ts';
import { problemsOf } from '../support/config.ts';

/** HOST, PORT and CORSWAY_WORKERS, parsed with the rest of the settings. */
function parseListen(env: Env) {
  const { host, port, workers } = parseConfig(env);
  return { host, port, workers };
}

describe('parseConfig({}) -> the SPEC defaults', () => {
  test('every default', () => {
    const c = parseConfig({});
    expect({
      allowOrigins: c.allowOrigins,
      blockOrigins: c.blockOrigins,
      allowTargets: c.allowTargets,
      requireHeader: c.requireHeader,
      rateLimit: c.rateLimit,
      rateLimitBy: c.rateLimitBy,
      redisUrl: c.redisUrl,
      trustProxy: c.trustProxy,
      allowPrivateNetwork: c.allowPrivateNetwork,
      maxRedirects: c.maxRedirects,
      timeoutMs: c.timeoutMs,
      maxBodyBytes: c.maxBodyBytes,
      maxResponseBytes: c.maxResponseBytes,
      maxAge: c.maxAge,
    }).toEqual({
      allowOrigins: null,
      blockOrigins: null,
      allowTargets: null,
      requireHeader: [],
      rateLimit: null,
      rateLimitBy: 'ip',
      redisUrl: null,
      trustProxy: false,
      allowPrivateNetwork: false,
      maxRedirects: 5,
      timeoutMs: 30_000,
      maxBodyBytes: 10_485_760,
      maxResponseBytes: 0,
      maxAge: 86_400,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('empty and blank strings mean the default (wrangler.toml ships them empty)', () => {
    expect(
      parseConfig({ CORSWAY_MAX_REDIRECTS: '', CORSWAY_ALLOW_ORIGINS: '  ', CORSWAY_RATE_LIMIT: '' }).maxRedirects,
    ).toBe(5);
  });
});

describe('parseConfig(good values)', () => {
  test.each<[string, string, (c: ReturnType<typeof parseConfig>) => unknown, unknown]>([
    [
      'CORSWAY_ALLOW_ORIGINS',
      'https://app.example.com, https://*.example.org',
      (c) => c.allowOrigins?.('https://a.b.example.org'),
      true,
    ],
    ['CORSWAY_ALLOW_ORIGINS', 'https://app.example.com', (c) => c.allowOrigins?.('https://evil.example.com'), false],
    ['CORSWAY_BLOCK_ORIGINS', 'null,https://bad.example', (c) => c.blockOrigins?.('null'), true],
    ['CORSWAY_ALLOW_TARGETS', 'api.example.com,*.example.org', (c) => c.allowTargets?.('x.example.org'), true],
    ['CORSWAY_REQUIRE_HEADER', 'Origin, X-Requested-With', (c) => c.requireHeader, ['origin', 'x-requested-with']],
    ['CORSWAY_RATE_LIMIT', '60/1m', (c) => c.rateLimit, { limit: 60, windowSeconds: 60 }],
    ['CORSWAY_RATE_LIMIT', '10/30s', (c) => c.rateLimit, { limit: 10, windowSeconds: 30 }],
    ['CORSWAY_RATE_LIMIT', '1000/1h', (c) => c.rateLimit, { limit: 1000, windowSeconds: 3600 }],
    ['CORSWAY_RATE_LIMIT', '5/m', (c) => c.rateLimit, { limit: 5, windowSeconds: 60 }],
    ['CORSWAY_RATE_LIMIT_BY', 'origin', (c) => c.rateLimitBy, 'origin'],
    ['CORSWAY_RATE_LIMIT_BY', 'IP', (c) => c.rateLimitBy, 'ip'],
    ['CORSWAY_REDIS_URL', 'redis://127.0.0.1:6379', (c) => c.redisUrl, 'redis://127.0.0.1:6379'],
    ['CORSWAY_REDIS_URL', 'rediss://cache.example:6380/0', (c) => c.redisUrl, 'rediss://cache.example:6380/0'],
    ['CORSWAY_TRUST_PROXY', 'yes', (c) => c.trustProxy, true],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'on', (c) => c.allowPrivateNetwork, true],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'TRUE', (c) => c.allowPrivateNetwork, true],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', '1', (c) => c.allowPrivateNetwork, true],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'off', (c) => c.allowPrivateNetwork, false],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'no', (c) => c.allowPrivateNetwork, false],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', '0', (c) => c.allowPrivateNetwork, false],
    ['CORSWAY_MAX_REDIRECTS', '0', (c) => c.maxRedirects, 0],
    ['CORSWAY_MAX_REDIRECTS', '20', (c) => c.maxRedirects, 20],
    ['CORSWAY_TIMEOUT_MS', '1', (c) => c.timeoutMs, 1],
    ['CORSWAY_TIMEOUT_MS', ' 2500 ', (c) => c.timeoutMs, 2500],
    ['CORSWAY_TIMEOUT_MS', '2147483647', (c) => c.timeoutMs, 2147483647],
    ['CORSWAY_MAX_BODY_BYTES', '0', (c) => c.maxBodyBytes, 0],
    ['CORSWAY_MAX_BODY_BYTES', '104857600', (c) => c.maxBodyBytes, 104_857_600],
    ['CORSWAY_MAX_RESPONSE_BYTES', '1048576', (c) => c.maxResponseBytes, 1_048_576],
    ['CORSWAY_MAX_AGE', '0', (c) => c.maxAge, 0],
    ['CORSWAY_MAX_AGE', '7200', (c) => c.maxAge, 7200],
  ])('%s=%s', (name, value, read, expected) => {
    expect(read(parseConfig({ [name]: value }))).toEqual(expected);
  });
});

describe('parseConfig(bad values) -> ConfigError naming the variable', () => {
  test.each([
    ['CORSWAY_ALLOW_ORIGINS', 'app.example.com'],
    ['CORSWAY_ALLOW_ORIGINS', 'https://app.example.com/path'],
    ['CORSWAY_ALLOW_ORIGINS', 'ftp://app.example.com'],
    ['CORSWAY_BLOCK_ORIGINS', 'not an origin'],
    ['CORSWAY_ALLOW_TARGETS', 'https://api.example.com'],
    ['CORSWAY_ALLOW_TARGETS', 'api.example.com/x'],
    ['CORSWAY_REQUIRE_HEADER', 'x requested with'],
    ['CORSWAY_REQUIRE_HEADER', 'origin,x:y'],
    ['CORSWAY_RATE_LIMIT', '60'],
    ['CORSWAY_RATE_LIMIT', '60/1y'],
    ['CORSWAY_RATE_LIMIT', '0/1m'],
    ['CORSWAY_RATE_LIMIT', 'sixty/1m'],
    ['CORSWAY_RATE_LIMIT', '60/0s'],
    ['CORSWAY_RATE_LIMIT_BY', 'user'],
    ['CORSWAY_REDIS_URL', 'http://127.0.0.1:6379'],
    ['CORSWAY_REDIS_URL', 'not a url'],
    ['CORSWAY_TRUST_PROXY', 'maybe'],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 'enabled'],
    ['CORSWAY_MAX_REDIRECTS', 'many'],
    ['CORSWAY_MAX_REDIRECTS', '-1'],
    ['CORSWAY_MAX_REDIRECTS', '21'],
    ['CORSWAY_MAX_REDIRECTS', '2.5'],
    ['CORSWAY_TIMEOUT_MS', '0'],
    ['CORSWAY_TIMEOUT_MS', '30s'],
    ['CORSWAY_TIMEOUT_MS', '1e3'],
    ['CORSWAY_TIMEOUT_MS', '2147483648'],
    ['CORSWAY_MAX_BODY_BYTES', '10MB'],
    ['CORSWAY_MAX_BODY_BYTES', '99999999999999999999'],
    ['CORSWAY_MAX_RESPONSE_BYTES', '-5'],
    ['CORSWAY_MAX_AGE', 'forever'],
  ])('%s=%s', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
    expect(problems[0]).toContain(value.split(',').at(-1));
  });

  test('a binding of the wrong type (a Worker var set to a table where a number belongs) is named too', () => {
    expect(problemsOf({ CORSWAY_MAX_AGE: { seconds: 60 } })).toEqual([
      expect.stringMatching(/^CORSWAY_MAX_AGE: expected a string, got \{"seconds":60\}/),
    ]);
  });

  test('every problem is reported at once, in one error message', () => {
    const env = {
      CORSWAY_ALLOW_ORIGINS: 'nope',
      CORSWAY_RATE_LIMIT: 'lots',
      CORSWAY_RATE_LIMIT_BY: 'user',
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'maybe',
      CORSWAY_MAX_REDIRECTS: 'many',
      CORSWAY_TIMEOUT_MS: '0',
      CORSWAY_MAX_BODY_BYTES: 'big',
    };
    const problems = problemsOf(env);
    expect(problems.map((p) => p.split(':')[0])).toEqual(Object.keys(env));
    expect(() => parseConfig(env)).toThrow(/CORSWAY_ALLOW_ORIGINS[\s\S]*CORSWAY_MAX_BODY_BYTES/);
  });
});

describe('parseListen(HOST, PORT, CORSWAY_WORKERS)', () => {
  test.each<[Env, { host: string; port: number; workers: number }]>([
    [{}, { host: '0.0.0.0', port: 8080, workers: 1 }],
    // Private targets allowed: a development proxy stays on loopback unless HOST says otherwise.
    [{ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }, { host: '127.0.0.1', port: 8080, workers: 1 }],
    [
      { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', HOST: '0.0.0.0' },
      { host: '0.0.0.0', port: 8080, workers: 1 },
    ],
    [
      { HOST: '127.0.0.1', PORT: '3000' },
      { host: '127.0.0.1', port: 3000, workers: 1 },
    ],
    [
      { HOST: '::', PORT: '0', CORSWAY_WORKERS: '4' },
      { host: '::', port: 0, workers: 4 },
    ],
    // Shared budgets and a rate limit: fine with several workers.
    [
      { CORSWAY_WORKERS: '2', CORSWAY_RATE_LIMIT: '60/1m', CORSWAY_REDIS_URL: 'redis://127.0.0.1:6379' },
      { host: '0.0.0.0', port: 8080, workers: 2 },
    ],
    // One worker keeps everything in its own memory, as without the variable.
    [
      {
        CORSWAY_WORKERS: '1',
        CORSWAY_RATE_LIMIT: '60/1m',
        CORSWAY_METRICS: 'on',
        CORSWAY_METRICS_TOKEN: 'a-token-of-16-characters',
      },
      { host: '0.0.0.0', port: 8080, workers: 1 },
    ],
  ])('%j -> %j', (env, listen) => {
    expect(parseListen(env)).toEqual(listen);
  });
  test.each(['65536', 'http', '-1'])('PORT=%s -> ConfigError naming PORT', (port) => {
    expect(() => parseListen({ PORT: port })).toThrow(/PORT: expected/);
  });
  test.each(['0', '257', 'auto', '1.5'])('CORSWAY_WORKERS=%s -> ConfigError naming it', (workers) => {
    expect(() => parseListen({ CORSWAY_WORKERS: workers })).toThrow(
      /CORSWAY_WORKERS: expected a whole number from 1 to 256/,
    );
  });
  test.each<[Env, RegExp]>([
    [
      { CORSWAY_WORKERS: '2', CORSWAY_RATE_LIMIT: '60/1m' },
      /CORSWAY_WORKERS: .*CORSWAY_RATE_LIMIT budget.*CORSWAY_REDIS_URL/,
    ],
    [{ CORSWAY_WORKERS: '3', CORSWAY_METRICS: 'on' }, /CORSWAY_WORKERS: each worker counts its own metrics/],
    [
      { CORSWAY_WORKERS: '2', CORSWAY_BANDWIDTH_LIMIT: '1048576/1d' },
      /CORSWAY_WORKERS: each worker would keep its own bandwidth and access-key budgets.*CORSWAY_REDIS_URL/,
    ],
    [
      { CORSWAY_WORKERS: '2', CORSWAY_KEYS: '[{"key": "app-key-0123456789", "rateLimit": "60/1m"}]' },
      /CORSWAY_WORKERS: each worker would keep its own bandwidth and access-key budgets/,
    ],
  ])('%j -> ConfigError: what one process keeps would split between workers', (env, message) => {
    expect(() => parseListen(env)).toThrow(message);
  });
});
