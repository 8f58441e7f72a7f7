import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { errorCode, send } from '../support/client.ts';
import { ROOT, type RunningProxy, startWorker } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { sleep } from '../support/wait.ts';

/** Sends each request in turn and returns the statuses. */
async function statuses(url: string, requests: { from?: string; headers?: Record<string, string> }[]) {
  const out: number[] = [];
  for (const r of requests) out.push((await send(url, r)).status);
  return out;
}

describe('node: CORSWAY_TRUST_PROXY=on, CORSWAY_RATE_LIMIT=2/1m', () => {
  const upstream = new Upstream();
  let url: string;
  const xff = (value: string) => ({ from: '127.0.0.60', headers: { 'x-forwarded-for': value } });

  const proxy = suiteProxy(
    freshProxy('node', {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_TRUST_PROXY: 'on',
      CORSWAY_RATE_LIMIT: '2/1m',
    }),
    upstream,
  );
  beforeAll(() => {
    url = `${proxy.url}/${upstream.origin}/data`;
  });

  test('X-Forwarded-For: 203.0.113.1 x3 -> 200, 200, 429; 203.0.113.2 from the same socket -> 200', async () => {
    expect(await statuses(url, [xff('203.0.113.1'), xff('203.0.113.1'), xff('203.0.113.1')])).toEqual([200, 200, 429]);
    expect(await statuses(url, [xff('203.0.113.2')])).toEqual([200]);
  });

  test('hops a client wrote before the last one buy no fresh budget: only the last hop counts', async () => {
    const requests = ['192.0.2.1, 198.51.100.7', '192.0.2.2, 198.51.100.7', '192.0.2.3,198.51.100.7'].map(xff);
    expect(await statuses(url, requests)).toEqual([200, 200, 429]);
  });

  test('IPv6 clients are budgeted by their /64', async () => {
    const same64 = ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:db8:1:2:aaaa:bbbb:cccc:dddd'].map(xff);
    expect(await statuses(url, same64)).toEqual([200, 200, 429]);
    expect(await statuses(url, [xff('2001:db8:1:3::1')])).toEqual([200]);
  });

  test('without X-Forwarded-For the socket address counts', async () => {
    const bare = { from: '127.0.0.61' };
    expect(await statuses(url, [bare, bare, bare])).toEqual([200, 200, 429]);
  });
});

/*
 * On Workers the client address is CF-Connecting-IP. Cloudflare's edge sets it;
 * wrangler dev sets it from the socket when the request has none and passes a
 * client-sent one through, which lets this suite play clients from anywhere.
 */
describe('worker: CF-Connecting-IP, CORSWAY_RATE_LIMIT=2/1m', () => {
  const upstream = new Upstream();
  let url: string;
  const cf = (ip: string, from = '127.0.0.70') => ({
    from,
    headers: { 'cf-connecting-ip': ip, 'x-forwarded-for': `192.0.2.${Math.floor(Math.random() * 250)}` },
  });

  // wrangler dev passes a client-sent CF-Connecting-IP through, as the comment above says.
  const proxy = suiteProxy(
    freshProxy('worker', { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '2/1m' }, { wranglerDev: true }),
    upstream,
  );
  beforeAll(() => {
    url = `${proxy.url}/${upstream.origin}/data`;
  });

  test('CF-Connecting-IP: 203.0.113.1 from three sockets -> one budget; X-Forwarded-For changes nothing', async () => {
    const requests = [
      cf('203.0.113.1', '127.0.0.71'),
      cf('203.0.113.1', '127.0.0.72'),
      cf('203.0.113.1', '127.0.0.73'),
    ];
    expect(await statuses(url, requests)).toEqual([200, 200, 429]);
    expect(await statuses(url, [cf('203.0.113.2', '127.0.0.71')])).toEqual([200]);
  });

  test('IPv6 clients are budgeted by their /64', async () => {
    const same64 = ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:db8:1:2:aaaa:bbbb:cccc:dddd'].map((ip) => cf(ip));
    expect(await statuses(url, same64)).toEqual([200, 200, 429]);
    expect(await statuses(url, [cf('2001:db8:1:3::1')])).toEqual([200]);
  });
});

/** A wrangler config in `dir` for the repository's Worker: its settings, with `bindings` instead of its own. */
async function wranglerConfig(dir: string, bindings: string[]): Promise<string> {
  const base = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  const setting = (key: string) => new RegExp(`^${key} = .*$`, 'm').exec(base)?.[0] ?? '';
  const config = join(dir, 'wrangler.toml');
  const lines = [
    'name = "corsway"',
    `main = ${JSON.stringify(join(ROOT, 'src/worker/main.ts'))}`,
    setting('compatibility_date'),
    setting('compatibility_flags'),
    ...bindings,
    '',
  ];
  await writeFile(config, lines.join('\n'));
  return config;
}

describe('worker without rate-limit bindings: budgets in the isolate, CORSWAY_RATE_LIMIT=2/1m', () => {
  const upstream = new Upstream();
  let proxy: RunningProxy;
  let dir: string;

  beforeAll(async () => {
    await upstream.start();
    dir = await mkdtemp(join(tmpdir(), 'corsway-memory-'));
    proxy = await startWorker({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '2/1m' }, [
      '--config',
      await wranglerConfig(dir, []),
    ]);
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('GET x3 from one client -> 200 (Remaining 1), 200 (Remaining 0), 429 rate_limited', async () => {
    const res = [];
    for (let i = 0; i < 3; i++) res.push(await send(`${proxy.url}/${upstream.origin}/data`, { from: '127.0.0.90' }));
    expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(res.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['1', '0', '0']);
    expect(res[2] && errorCode(res[2])).toBe('rate_limited');
  });
});

describe('worker: Rate Limiting binding CORSWAY_RATE_LIMITER (2 per 10 s), CORSWAY_RATE_LIMIT=3/10s', () => {
  const upstream = new Upstream();
  let proxy: RunningProxy;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    await upstream.start();
    // The binding the repository's wrangler.toml describes (wrangler dev simulates it locally).
    dir = await mkdtemp(join(tmpdir(), 'corsway-ratelimit-'));
    const config = await wranglerConfig(dir, [
      '[[ratelimits]]',
      'name = "CORSWAY_RATE_LIMITER"',
      'namespace_id = "1001"',
      'simple = { limit = 2, period = 10 }',
    ]);
    proxy = await startWorker({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '3/10s' }, [
      '--config',
      config,
    ]);
    url = `${proxy.url}/${upstream.origin}/data`;
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * wrangler dev simulates the binding with fixed windows aligned to the period
   * (Cloudflare's own is not documented as such): start a sequence early in a
   * window so it cannot straddle a reset.
   */
  async function earlyInWindow(): Promise<void> {
    const into = Date.now() % 10_000;
    if (into > 5_000) await sleep(10_000 - into + 100);
  }

  test('GET x3 -> the binding refuses the third though 3/10s in memory would allow it: 429 with the fields', async () => {
    const origin = 'https://app.test';
    await earlyInWindow();
    const res = [];
    for (let i = 0; i < 3; i++) res.push(await send(url, { from: '127.0.0.80', headers: { origin } }));
    expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
    // The header numbers are this isolate's own count: approximate, as the README says.
    expect(res.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0']);
    const refused = res[2];
    expect(refused && errorCode(refused)).toBe('rate_limited');
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused?.headers.get('ratelimit-policy')).toBe('"corsway";q=3;w=10');
    expect(refused?.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
  });

  test('another client address has its own budget in the binding', async () => {
    expect(await statuses(url, [{ from: '127.0.0.81' }, { from: '127.0.0.81' }])).toEqual([200, 200]);
  });

  test('after the binding period the client is served again', async () => {
    const c = { from: '127.0.0.82' };
    await earlyInWindow();
    expect(await statuses(url, [c, c, c])).toEqual([200, 200, 429]);
    await sleep(10_500);
    expect(await statuses(url, [c])).toEqual([200]);
  }, 40_000);
});
