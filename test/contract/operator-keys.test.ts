import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Exchange, errorCode, send } from '../support/client.ts';
import { RUNTIMES, type RunningProxy } from '../support/runtimes.ts';
import { startWithSecrets } from '../support/secrets.ts';
import { Upstream } from '../support/upstream.ts';

const APP = 'app-key-pinned-7f3a9c1e5b';
const TEAM = 'team-key-shared-4d8e2a6c0f';
const OTHER = 'other-key-alone-9b1c3e5a7d';
const METERED = 'metered-key-bytes-2c4e6a8b0d';
const KEYS = [
  { key: APP, origins: ['https://app.example', 'https://*.apps.example'], rateLimit: '100/1h' },
  { key: TEAM, rateLimit: '2/1h' },
  { key: OTHER, rateLimit: '2/1h' },
  { key: METERED, bandwidthLimit: '2500/1h' },
];
const ALL_KEYS = KEYS.map((k) => k.key);

function exposed(res: Exchange): string[] {
  return (res.headers.get('access-control-expose-headers') ?? '').split(',').map((s) => s.trim().toLowerCase());
}

/** A refusal the page can read: its status, code, and the CORS header for its origin. */
function expectRefusal(res: Exchange, status: number, code: string, origin: string | null): void {
  expect(res.status).toBe(status);
  expect(errorCode(res)).toBe(code);
  expect(res.headers.get('access-control-allow-origin')).toBe(origin ?? '*');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
}

describe.each(RUNTIMES)('%s: CORSWAY_KEYS with CORSWAY_ANONYMOUS=off', (runtime) => {
  const upstream = new Upstream({
    '/data': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
    '/kilobyte': (_req, res) => {
      // No Content-Length: the bytes are counted as relayed, not taken from a header.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a'.repeat(400));
      res.end('b'.repeat(600));
    },
  });
  let proxy: RunningProxy;
  const client = (n: number) => `127.0.0.${runtime === 'node' ? n : n + 100}`;
  const target = (path = '/data') => `${proxy.url}/${upstream.origin}${path}`;
  const withKey = (key: string, more: Record<string, string> = {}) => ({ 'x-corsway-key': key, ...more });

  beforeAll(async () => {
    await upstream.start();
    proxy = await startWithSecrets(
      runtime,
      { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_ANONYMOUS: 'off', CORSWAY_LOG_LEVEL: 'info' },
      { CORSWAY_KEYS: JSON.stringify(KEYS) },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
  });

  test('GET /<target> without X-Corsway-Key -> 401 key_required, readable by the page', async () => {
    const res = await send(target(), { headers: { origin: 'https://app.example' } });
    expectRefusal(res, 401, 'key_required', 'https://app.example');
    expect(JSON.parse(res.body).message).toContain('X-Corsway-Key');
  });

  test('GET /<target> with an unknown key, or a near miss of a real one -> 401 key_invalid', async () => {
    for (const guess of ['nope-nope-nope-nope-nope', `${TEAM}x`, TEAM.slice(0, -1), TEAM.toUpperCase()]) {
      const res = await send(target(), { headers: withKey(guess, { origin: 'https://x.example' }) });
      expectRefusal(res, 401, 'key_invalid', 'https://x.example');
      expect(res.body).not.toContain(guess);
    }
  });

  test('OPTIONS preflight asking for X-Corsway-Key -> 204 allowing it, no key needed', async () => {
    const res = await send(target(), {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-corsway-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-corsway-key');
  });

  test('a pinned key from its origins -> 200; from another origin or none -> 403 origin_not_allowed', async () => {
    for (const origin of ['https://app.example', 'https://a.b.apps.example']) {
      const res = await send(target(), { headers: withKey(APP, { origin }) });
      expect(res.status).toBe(200);
      expect(res.body).toBe('{"ok":true}');
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    }
    for (const origin of ['https://evil.example', 'https://apps.example', 'http://app.example']) {
      const res = await send(target(), { headers: withKey(APP, { origin }) });
      expectRefusal(res, 403, 'origin_not_allowed', origin);
      expect(res.body).not.toContain(APP);
    }
    expectRefusal(await send(target(), { headers: withKey(APP) }), 403, 'origin_not_allowed', null);
  });

  test('the key never reaches the target', async () => {
    await send(target(), { headers: withKey(OTHER) });
    const hit = upstream.hits.at(-1);
    expect(hit?.headers['x-corsway-key']).toBeUndefined();
    expect(JSON.stringify(upstream.hits)).not.toMatch(new RegExp(ALL_KEYS.join('|')));
  });

  test("one key's budget is shared by two client addresses; another key's budget is its own", async () => {
    const first = await send(target(), { from: client(11), headers: withKey(TEAM) });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"corsway";q=2;w=3600');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    const second = await send(target(), { from: client(12), headers: withKey(TEAM) });
    expect(second.status).toBe(200);
    expect(second.headers.get('ratelimit-remaining')).toBe('0');
    const third = await send(target(), { from: client(13), headers: withKey(TEAM, { origin: 'https://t.example' }) });
    expectRefusal(third, 429, 'rate_limited', 'https://t.example');
    expect(JSON.parse(third.body).message).toMatch(/2 per 3600 s per access key \([0-9a-f]{8}\)/);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(exposed(third)).toEqual(expect.arrayContaining(['retry-after', 'ratelimit', 'ratelimit-policy']));

    // The same addresses with another key: its own, whole budget.
    const other = await send(target(), { from: client(11), headers: withKey(OTHER) });
    expect(other.status).toBe(200);
    // OTHER spent one request in the test before (or none when run alone).
    expect(['0', '1']).toContain(other.headers.get('ratelimit-remaining'));
  });

  test('bandwidth: 2500 bytes/1h spent by real bytes over several requests; the crossing response finishes; then 429', async () => {
    // A refusal after the budget check (port 1 is a bad port) relays no target bytes, so it spends none.
    const failed = await send(`${proxy.url}/http://127.0.0.1:1/`, { headers: withKey(METERED) });
    expect(errorCode(failed)).toBe('target_not_allowed');
    await new Promise((r) => setTimeout(r, 300));
    const seen: Exchange[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await send(target('/kilobyte'), { from: client(20 + i), headers: withKey(METERED) });
      seen.push(res);
      expect(res.status).toBe(200);
      expect(res.body).toBe('a'.repeat(400) + 'b'.repeat(600));
      expect(res.headers.get('ratelimit-policy')).toBe('"bytes";q=2500;qu="content-bytes";w=3600');
      // The charge of the previous body may still be on its way to a shared store; it is never lost.
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(seen.map((r) => r.headers.get('ratelimit'))).toEqual([
      '"bytes";r=2500;t=0',
      expect.stringMatching(/^"bytes";r=1500;t=144[01]$/),
      expect.stringMatching(/^"bytes";r=500;t=288[01]$/),
    ]);
    const refused = await send(target('/kilobyte'), { headers: withKey(METERED, { origin: 'https://m.example' }) });
    expectRefusal(refused, 429, 'rate_limited', 'https://m.example');
    expect(JSON.parse(refused.body).message).toMatch(/^Bandwidth budget spent: this proxy relays 2500 bytes/);
    expect(refused.headers.get('ratelimit-policy')).toBe('"bytes";q=2500;qu="content-bytes";w=3600');
    expect(refused.headers.get('ratelimit')).toMatch(/^"bytes";r=0;t=\d+$/);
    // 500 bytes over the budget: back after 500 bytes' worth of the window (720 s), and a byte.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(720);
  });

  test('no key appears in the log; a request with a key is logged by its 8-hex-digit fingerprint', async () => {
    const output = proxy.output();
    for (const key of ALL_KEYS) expect(output).not.toContain(key);
    if (runtime === 'node') expect(output).toMatch(/"key":"[0-9a-f]{8}"/);
  });
});
