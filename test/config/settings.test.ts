import { describe, expect, test } from 'vitest';
import { type Env, parseConfig } from '../../src/config/config.ts';
import { flagOf, SETTINGS } from '../../src/config/settings.ts';
import { corsway } from '../../src/index.ts';
import { problemsOf } from '../support/config.ts';

/** Every variable the SPEC names, both tables. */
const SPEC_VARIABLES = [
  'CORSWAY_ALLOW_ORIGINS',
  'CORSWAY_BLOCK_ORIGINS',
  'CORSWAY_ALLOW_TARGETS',
  'CORSWAY_REQUIRE_HEADER',
  'CORSWAY_RATE_LIMIT',
  'CORSWAY_RATE_LIMIT_BY',
  'CORSWAY_REDIS_URL',
  'CORSWAY_TRUST_PROXY',
  'CORSWAY_ALLOW_PRIVATE_NETWORK',
  'CORSWAY_MAX_REDIRECTS',
  'CORSWAY_TIMEOUT_MS',
  'CORSWAY_MAX_BODY_BYTES',
  'CORSWAY_MAX_RESPONSE_BYTES',
  'CORSWAY_MAX_AGE',
  'CORSWAY_CACHE',
  'CORSWAY_CACHE_BYTES',
  'CORSWAY_KEYS',
  'CORSWAY_ANONYMOUS',
  'CORSWAY_BANDWIDTH_LIMIT',
  'CORSWAY_ALLOW_CONTENT_TYPES',
  'CORSWAY_BLOCK_CONTENT_TYPES',
  'CORSWAY_TARGET_HEADERS',
];

/** The server's own, beyond the SPEC's tables. */
const NODE_VARIABLES = [
  'HOST',
  'PORT',
  'CORSWAY_WORKERS',
  'CORSWAY_RATE_LIMIT_FAILURE',
  'CORSWAY_RATE_LIMIT_SHARDS',
  'CORSWAY_LOG_LEVEL',
  'CORSWAY_LOG_TARGET_URL',
  'CORSWAY_METRICS',
  'CORSWAY_METRICS_TOKEN',
];

const KEY = 'k-0123456789abcdef';

/**
 * Per variable: a good value with what it parses to (read back through `read`),
 * and a bad value whose problem must name the variable and quote the value.
 */
const CASES: Record<string, { good: unknown; read?: (v: unknown) => unknown; expected: unknown; bad: unknown }> = {
  HOST: { good: '127.0.0.1', expected: '127.0.0.1', bad: 8080 },
  PORT: { good: '3000', expected: 3000, bad: '65536' },
  CORSWAY_WORKERS: { good: '2', expected: 2, bad: '0' },
  CORSWAY_ALLOW_ORIGINS: {
    good: 'https://app.example.com,https://*.example.org',
    read: (m) => [(m as (o: string) => boolean)('https://a.b.example.org'), (m as { entries: unknown }).entries],
    expected: [true, ['https://app.example.com', 'https://*.example.org']],
    bad: 'app.example.com',
  },
  CORSWAY_BLOCK_ORIGINS: {
    good: 'null',
    read: (m) => (m as (o: string) => boolean)('null'),
    expected: true,
    bad: 'not an origin',
  },
  CORSWAY_ALLOW_TARGETS: {
    good: '*.example.org',
    read: (m) => (m as (h: string) => boolean)('api.example.org'),
    expected: true,
    bad: 'https://api.example.com',
  },
  CORSWAY_REQUIRE_HEADER: { good: 'Origin, X-Requested-With', expected: ['origin', 'x-requested-with'], bad: 'x:y' },
  CORSWAY_RATE_LIMIT: { good: '60/1m', expected: { limit: 60, windowSeconds: 60 }, bad: '60/1y' },
  CORSWAY_RATE_LIMIT_BY: { good: 'origin', expected: 'origin', bad: 'user' },
  CORSWAY_REDIS_URL: { good: 'redis://127.0.0.1:6379', expected: 'redis://127.0.0.1:6379', bad: 'http://x.test' },
  CORSWAY_RATE_LIMIT_FAILURE: { good: 'closed', expected: 'closed', bad: 'ajar' },
  CORSWAY_RATE_LIMIT_SHARDS: { good: '16', expected: 16, bad: '0' },
  CORSWAY_TRUST_PROXY: { good: 'yes', expected: true, bad: 'maybe' },
  CORSWAY_ALLOW_PRIVATE_NETWORK: { good: 'on', expected: true, bad: 'enabled' },
  CORSWAY_MAX_REDIRECTS: { good: '0', expected: 0, bad: '21' },
  CORSWAY_TIMEOUT_MS: { good: '2500', expected: 2500, bad: '30s' },
  CORSWAY_MAX_BODY_BYTES: { good: '1048576', expected: 1_048_576, bad: '-5' },
  CORSWAY_MAX_RESPONSE_BYTES: { good: '1024', expected: 1024, bad: '1.5' },
  CORSWAY_MAX_AGE: { good: '600', expected: 600, bad: 'forever' },
  CORSWAY_CACHE: { good: 'on', expected: true, bad: 'sometimes' },
  CORSWAY_CACHE_BYTES: { good: '1048576', expected: 1_048_576, bad: '64MB' },
  CORSWAY_KEYS: {
    good: JSON.stringify([{ key: KEY, origins: ['https://app.example.com'], rateLimit: '600/1m' }]),
    read: (keys) =>
      (keys as { key: string; origins: (o: string) => boolean; rateLimit: unknown; bandwidthLimit: unknown }[]).map(
        (k) => [
          k.key,
          k.origins('https://app.example.com'),
          k.origins('https://evil.test'),
          k.rateLimit,
          k.bandwidthLimit,
        ],
      ),
    expected: [[KEY, true, false, { limit: 600, windowSeconds: 60 }, null]],
    bad: `[{"key": "${KEY}", "rateLimit": "lots"}]`,
  },
  CORSWAY_ANONYMOUS: { good: 'off', expected: false, bad: 'perhaps' },
  CORSWAY_BANDWIDTH_LIMIT: {
    good: '1073741824/1d',
    expected: { limit: 1_073_741_824, windowSeconds: 86_400 },
    bad: '1GB/1d',
  },
  CORSWAY_ALLOW_CONTENT_TYPES: {
    good: 'Application/JSON, text/*',
    expected: ['application/json', 'text/*'],
    bad: 'json',
  },
  CORSWAY_BLOCK_CONTENT_TYPES: { good: 'video/*', expected: ['video/*'], bad: 'video/mp4/x' },
  CORSWAY_TARGET_HEADERS: {
    good: '{"*.Example.org": {"Authorization": "Bearer s3cret"}}',
    read: (entries) =>
      (entries as { host: string; matches: (h: string) => boolean; headers: unknown }[]).map((t) => [
        t.host,
        t.matches('api.example.org'),
        t.matches('example.org'),
        t.headers,
      ]),
    expected: [['*.example.org', true, false, [['authorization', 'Bearer s3cret']]]],
    bad: '{"api.example.com": {"Authorization": 42}}',
  },
  CORSWAY_LOG_LEVEL: { good: 'warn', expected: 'warn', bad: 'debug' },
  CORSWAY_LOG_TARGET_URL: { good: '1', expected: true, bad: '2' },
  CORSWAY_METRICS: { good: 'off', expected: false, bad: 'prometheus' },
  CORSWAY_METRICS_TOKEN: { good: 'a-token-of-16-characters', expected: 'a-token-of-16-characters', bad: 16 },
};

/** What makes the cases valid together: target headers not open to anyone, a key for CORSWAY_ANONYMOUS=off. */
const CONTEXT: Env = { CORSWAY_ALLOW_ORIGINS: 'https://app.example.com', CORSWAY_KEYS: `[{"key":"${KEY}"}]` };

describe('the settings table', () => {
  test('holds every SPEC variable and the Node server’s own, once each', () => {
    const variables = SETTINGS.map((s) => s.variable);
    expect([...variables].sort()).toEqual([...SPEC_VARIABLES, ...NODE_VARIABLES].sort());
    expect(new Set(SETTINGS.map((s) => s.name)).size).toBe(SETTINGS.length);
  });

  test('every setting has a one-line doc, and a value hint unless it is a switch', () => {
    for (const s of SETTINGS) {
      expect(s.doc, s.variable).toMatch(/^[^\n]{10,}$/);
      expect(s.kind.hint === '', s.variable).toBe(s.kind.option.expected === 'true or false');
    }
  });

  test('flags: one per Node setting, kebab-case of the option, none for secrets', () => {
    expect(Object.fromEntries(SETTINGS.map((s) => [s.variable, flagOf(s)]))).toMatchObject({
      PORT: '--port',
      CORSWAY_ALLOW_PRIVATE_NETWORK: '--allow-private-network',
      CORSWAY_MAX_BODY_BYTES: '--max-body-bytes',
      CORSWAY_KEYS: null,
      CORSWAY_TARGET_HEADERS: null,
    });
  });
});

describe('parseConfig(one variable)', () => {
  test.each(SETTINGS.filter((s) => s.name !== 'host').map((s) => [s.variable, s] as const))(
    '%s: unset -> its documented default',
    (_, setting) => {
      const kind = setting.kind as { parse(v: unknown): unknown };
      expect(parseConfig({})[setting.name]).toEqual(kind.parse(setting.default));
    },
  );

  test('HOST: unset -> 0.0.0.0, or 127.0.0.1 with private targets allowed, as its documented meaning says', () => {
    const host = SETTINGS.find((s) => s.variable === 'HOST');
    expect(host && 'meaning' in host && host.meaning).toBe(
      '0.0.0.0; 127.0.0.1 when CORSWAY_ALLOW_PRIVATE_NETWORK is on',
    );
    expect(parseConfig({}).host).toBe('0.0.0.0');
    expect(parseConfig({ CORSWAY_ALLOW_PRIVATE_NETWORK: true }).host).toBe('127.0.0.1');
    expect(parseConfig({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', HOST: '::' }).host).toBe('::');
  });

  test.each(Object.entries(CASES))('%s=<good> parses', (variable, { good, read, expected }) => {
    const setting = SETTINGS.find((s) => s.variable === variable);
    const value = parseConfig({ ...CONTEXT, [variable]: good })[setting?.name as keyof ReturnType<typeof parseConfig>];
    expect(read ? read(value) : value).toEqual(expected);
  });

  test.each(Object.entries(CASES))('%s=<bad> -> ConfigError naming it and quoting the value', (variable, { bad }) => {
    const problems = problemsOf({ ...CONTEXT, [variable]: bad });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}: `));
    if (typeof bad === 'string' && !bad.startsWith('[') && !bad.startsWith('{')) expect(problems[0]).toContain(bad);
  });

  test('every variable has a case above', () => {
    expect(Object.keys(CASES).sort()).toEqual(SETTINGS.map((s) => s.variable).sort());
  });
});

describe('typed Workers [vars] (TOML numbers, booleans, arrays and tables)', () => {
  test.each<[string, unknown, string, unknown]>([
    ['CORSWAY_MAX_REDIRECTS', 3, 'maxRedirects', 3],
    ['CORSWAY_MAX_AGE', 0, 'maxAge', 0],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', true, 'allowPrivateNetwork', true],
    ['CORSWAY_TRUST_PROXY', false, 'trustProxy', false],
    ['CORSWAY_CACHE', 1, 'cache', true],
    ['CORSWAY_REQUIRE_HEADER', ['Origin', 'X-Requested-With'], 'requireHeader', ['origin', 'x-requested-with']],
    ['CORSWAY_ALLOW_CONTENT_TYPES', ['application/json'], 'allowContentTypes', ['application/json']],
  ])('%s = %j', (variable, value, name, expected) => {
    expect(parseConfig({ [variable]: value })[name as 'maxAge']).toEqual(expected);
  });

  test('a table for CORSWAY_TARGET_HEADERS and an array for CORSWAY_KEYS, as JSON vars', () => {
    const c = parseConfig({
      CORSWAY_KEYS: [{ key: KEY }],
      CORSWAY_ANONYMOUS: false,
      CORSWAY_TARGET_HEADERS: { 'api.example.com': { 'X-Api-Key': 'abc' } },
    });
    expect(c.keys.map((k) => k.key)).toEqual([KEY]);
    expect(c.targetHeaders[0]?.headers).toEqual([['x-api-key', 'abc']]);
  });

  test.each<[string, unknown, RegExp]>([
    ['CORSWAY_MAX_REDIRECTS', 2.5, /^CORSWAY_MAX_REDIRECTS: expected a whole number from 0 to 20, got 2.5$/],
    ['CORSWAY_MAX_REDIRECTS', -1, /^CORSWAY_MAX_REDIRECTS: expected a whole number from 0 to 20, got -1$/],
    ['CORSWAY_ALLOW_PRIVATE_NETWORK', 2, /^CORSWAY_ALLOW_PRIVATE_NETWORK: expected one of 1\/0, true\/false/],
    ['CORSWAY_RATE_LIMIT', 60, /^CORSWAY_RATE_LIMIT: expected a string, got 60$/],
    [
      'CORSWAY_ALLOW_ORIGINS',
      ['https://a.test,https://b.test'],
      /^CORSWAY_ALLOW_ORIGINS: expected an array of strings/,
    ],
  ])('%s = %j -> named', (variable, value, message) => {
    expect(problemsOf({ [variable]: value })).toEqual([expect.stringMatching(message)]);
  });
});

describe('parseConfig(operator variables together)', () => {
  test('CORSWAY_TARGET_HEADERS without an origin list, or keys with anonymous access on -> refused', () => {
    const headers = '{"api.example.com": {"Authorization": "Bearer s3cret"}}';
    const expected = [expect.stringMatching(/^CORSWAY_TARGET_HEADERS: anyone could send requests carrying/)];
    expect(problemsOf({ CORSWAY_TARGET_HEADERS: headers })).toEqual(expected);
    expect(problemsOf({ CORSWAY_TARGET_HEADERS: headers, CORSWAY_KEYS: `[{"key":"${KEY}"}]` })).toEqual(expected);
    expect(
      problemsOf({ CORSWAY_TARGET_HEADERS: headers, CORSWAY_KEYS: `[{"key":"${KEY}"}]`, CORSWAY_ANONYMOUS: 'off' }),
    ).toEqual([]);
  });

  test('CORSWAY_ANONYMOUS=off without CORSWAY_KEYS -> refused: every request would be', () => {
    expect(problemsOf({ CORSWAY_ANONYMOUS: 'off' })).toEqual([
      expect.stringMatching(/^CORSWAY_ANONYMOUS: off refuses every request without a key; set CORSWAY_KEYS/),
    ]);
  });

  test('a rule over settings together stays quiet when one of them failed its own check', () => {
    expect(problemsOf({ CORSWAY_ANONYMOUS: 'off', CORSWAY_KEYS: '[{"key": ""}]' })).toEqual([
      expect.stringMatching(/^CORSWAY_KEYS: entry 1: "key" must be a non-empty string/),
    ]);
  });

  test('a secret value never appears in a problem', () => {
    const problems = problemsOf({
      ...CONTEXT,
      CORSWAY_TARGET_HEADERS: '{"api.example.com": {"Authorization": "Bearer s3cret\\n"}}',
      CORSWAY_KEYS: `[{"key":"${KEY}"},{"key":"${KEY}"}]`,
    });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toMatch(/s3cret|k-0123/);
  });

  test.each([
    ['not JSON', '[{key:', /expected JSON/],
    ['an object', '{"key": "x"}', /expected a JSON array/],
    ['an unknown field', `[{"key": "${KEY}", "limit": 5}]`, /entry 1: unknown field "limit"/],
    ['an empty key', '[{"key": ""}]', /entry 1: "key" must be a non-empty string/],
    ['a key of 15 characters', '[{"key": "abcdefghijklmno"}]', /entry 1: "key" must be 16 characters or more$/],
    ['a key with a space', '[{"key": "abcdefgh ijklmnopq"}]', /entry 1: "key" must be .* of visible ASCII/],
    ['a key outside ASCII', '[{"key": "abcdefghijklmnopé"}]', /entry 1: "key" must be .* of visible ASCII/],
    ['bad origins', `[{"key": "${KEY}", "origins": ["app.example.com"]}]`, /entry 1: "origins": .*not an origin/],
  ])('CORSWAY_KEYS with %s -> named', (_, value, message) => {
    const problems = problemsOf({ CORSWAY_KEYS: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CORSWAY_KEYS: /);
    expect(problems[0]).toMatch(message);
  });
});

describe('corsway(options): typed options, parsed by the same rules, named after the option', () => {
  test('good typed options take effect', async () => {
    const app = corsway({ maxAge: 7, allowOrigins: ['https://app.test'], requireHeader: ['X-Requested-With'] });
    const res = await app.fetch(
      new Request('http://proxy.test/https://api.example.com/', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.test', 'access-control-request-method': 'GET' },
      }),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-max-age')).toBe('7');
  });

  test.each<[Record<string, unknown>, RegExp]>([
    [{ maxRedirects: '3' }, /^ {2}maxRedirects: expected a number, got "3"$/m],
    [{ maxAge: -1 }, /^ {2}maxAge: expected a whole number from 0 to \d+, got -1$/m],
    [{ allowOrigins: 'https://a.test' }, /^ {2}allowOrigins: expected an array of strings, got "https:\/\/a.test"$/m],
    [{ rateLimit: 'lots' }, /^ {2}rateLimit: expected <count>\/<window>/m],
    [{ trustProxy: 'yes' }, /^ {2}trustProxy: expected true or false, got "yes"$/m],
    [{ port: 8080 }, /^ {2}port: not an option of corsway\(\)$/m],
    [{ upstream: 'fetch' }, /^ {2}upstream: expected a function$/m],
  ])('%j -> TypeError', (options, message) => {
    expect(() => corsway(options as never)).toThrow(TypeError);
    expect(() => corsway(options as never)).toThrow(message);
  });
});

describe('CORSWAY_TARGET_HEADERS', () => {
  test.each([
    'Host',
    'Content-Length',
    'Transfer-Encoding',
    'Connection',
    'Keep-Alive',
    'Upgrade',
    'TE',
    'Trailer',
    'Expect',
    'Proxy-Connection',
    'Proxy-Authorization',
    'Proxy-Authenticate',
    'X-Corsway-Key',
  ])('setting %s -> refused at start-up, naming the variable, the host and the header', (name) => {
    const value = JSON.stringify({ 'api.example.com': { [name]: 'fixed' } });
    expect(problemsOf({ ...CONTEXT, CORSWAY_ANONYMOUS: 'off', CORSWAY_TARGET_HEADERS: value })).toEqual([
      `CORSWAY_TARGET_HEADERS: "api.example.com": "${name}" is reserved: the proxy sets it itself or never forwards it`,
    ]);
  });

  test.each(['Authorization', 'X-Api-Key', 'Cookie', 'Origin'])('setting %s -> accepted', (name) => {
    const value = JSON.stringify({ 'api.example.com': { [name]: 'fixed' } });
    expect(problemsOf({ ...CONTEXT, CORSWAY_ANONYMOUS: 'off', CORSWAY_TARGET_HEADERS: value })).toEqual([]);
  });
});
