import { describe, expect, test } from 'vitest';
import { type Exchange, errorCode, send } from '../support/client.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { sleep } from '../support/wait.ts';

/** The SPEC's rate-limit fields, as a client reads them. */
function fields(res: Exchange) {
  const h = res.headers;
  return {
    policy: h.get('ratelimit-policy'),
    ratelimit: h.get('ratelimit'),
    limit: h.get('ratelimit-limit'),
    remaining: h.get('ratelimit-remaining'),
    reset: h.get('ratelimit-reset'),
  };
}

function exposed(res: Exchange): string[] {
  return (res.headers.get('access-control-expose-headers') ?? '').split(',').map((s) => s.trim().toLowerCase());
}

/*
 * Each test plays its own client from its own loopback address (127.0.0.x): on
 * Node that is the socket address; wrangler dev turns it into CF-Connecting-IP.
 */
describe.each(RUNTIMES)('%s: CORSWAY_RATE_LIMIT=3/2s by client address', (runtime) => {
  const upstream = new Upstream({
    '/own-limits': (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        ratelimit: '"api";r=9;t=50',
        'ratelimit-policy': '"api";q=10;w=60',
        'ratelimit-limit': '10',
        'ratelimit-remaining': '9',
        'ratelimit-reset': '50',
      });
      res.end('ok');
    },
    '/missing': (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such thing');
    },
  });
  const client = (n: number) => `127.0.0.${runtime === 'node' ? n : n + 100}`;
  const target = (path = '/data') => `${proxy.url}/${upstream.origin}${path}`;

  // wrangler dev sets CF-Connecting-IP from each client's socket; plain workerd has no socket address to give.
  const proxy = suiteProxy(
    freshProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '3/2s' }, { wranglerDev: true }),
    upstream,
  );

  /*
   * A request's worth comes back every 667 ms, so on a busy machine one request
   * after another may never run dry: budgets are spent in concurrent bursts.
   */
  const burst = (n: number, from: string, headers: (i: number) => Record<string, string> = () => ({})) =>
    Promise.all(Array.from({ length: n }, (_, i) => send(target(), { from, headers: headers(i) })));
  const statusesOf = (res: Exchange[]) => res.map((r) => r.status).sort();

  test('GET x8 at once from one client -> 3 pass with the RateLimit fields, the rest 429 rate_limited with Retry-After', async () => {
    const origin = 'https://app.test';
    const before = upstream.hits.length;
    const res = await burst(8, client(2), () => ({ origin }));
    const ok = res.filter((r) => r.status === 200);
    const refused = res.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(8);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(ok.map((r) => fields(r).remaining)).toEqual(expect.arrayContaining(['2', '1', '0']));
    expect(fields(ok.find((r) => fields(r).remaining === '2') as Exchange)).toEqual({
      policy: '"corsway";q=3;w=2',
      ratelimit: '"corsway";r=2;t=1',
      limit: '3',
      remaining: '2',
      reset: '1',
    });
    expect(exposed(ok[0] as Exchange)).toEqual(
      expect.arrayContaining(['ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining']),
    );

    for (const r of refused) {
      expect(errorCode(r)).toBe('rate_limited');
      // One request's worth (667 ms) comes back first.
      expect(r.headers.get('retry-after')).toBe('1');
      expect(fields(r)).toMatchObject({ policy: '"corsway";q=3;w=2', limit: '3', remaining: '0' });
      expect(r.headers.get('access-control-allow-origin')).toBe(origin);
      expect(exposed(r)).toEqual(
        expect.arrayContaining([
          'retry-after',
          'ratelimit',
          'ratelimit-policy',
          'ratelimit-limit',
          'ratelimit-remaining',
          'ratelimit-reset',
        ]),
      );
    }
    // Refused requests never reached the target.
    expect(upstream.hits.length - before).toBe(ok.length);
  });

  test('GET after the budget is spent -> 429; 2 s later -> 200 again with the whole budget back', async () => {
    expect(statusesOf(await burst(8, client(3)))).toContain(429);
    await sleep(2_200);
    const again = await send(target(), { from: client(3) });
    expect(again.status).toBe(200);
    expect(fields(again).remaining).toBe('2');
  });

  test('another client address has its own budget', async () => {
    expect(statusesOf(await burst(8, client(4)))).toContain(429);
    const other = await send(target(), { from: client(5) });
    expect(other.status).toBe(200);
    expect(fields(other).remaining).toBe('2');
  });

  test('GET x8 at once, each with its own spoofed X-Forwarded-For -> still one budget, 429s', async () => {
    const spoofed = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i + 1}`, 'x-real-ip': `198.51.100.${i + 1}` });
    const res = await burst(8, client(6), spoofed);
    expect(res.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(res.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(1);
  });

  test('preflights, GET / and GET /healthz spend nothing', async () => {
    const preflight = { origin: 'https://app.test', 'access-control-request-method': 'PUT' };
    for (let i = 0; i < 4; i++) {
      expect((await send(target(), { from: client(7), method: 'OPTIONS', headers: preflight })).status).toBe(204);
      expect((await send(`${proxy.url}/`, { from: client(7) })).status).toBe(200);
      expect((await send(`${proxy.url}/healthz`, { from: client(7) })).status).toBe(200);
    }
    const first = await send(target(), { from: client(7) });
    expect(first.status).toBe(200);
    expect(fields(first).remaining).toBe('2');
  });

  test("GET /own-limits -> the target's RateLimit fields relayed beside ours", async () => {
    const res = await send(target('/own-limits'), { from: client(8) });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toBe('"api";r=9;t=50, "corsway";r=2;t=1');
    expect(res.headers.get('ratelimit-policy')).toBe('"api";q=10;w=60, "corsway";q=3;w=2');
    // The older single-valued fields cannot hold two budgets: the target's stay whole.
    expect(fields(res)).toMatchObject({ limit: '10', remaining: '9', reset: '50' });
  });

  test('GET /missing (target answers 404) -> 404 carrying the RateLimit fields too', async () => {
    const res = await send(target('/missing'), { from: client(9) });
    expect(res.status).toBe(404);
    expect(fields(res)).toMatchObject({ limit: '3', remaining: '2' });
  });

  test('GET / -> help page names the rate limit', async () => {
    const res = await send(`${proxy.url}/`, { from: client(10) });
    expect(res.body).toContain('Rate limit: 3 requests per 2 s per client address');
  });
});

describe.each(RUNTIMES)('%s: CORSWAY_RATE_LIMIT=2/1m, CORSWAY_RATE_LIMIT_BY=origin', (runtime) => {
  const upstream = new Upstream();
  const client = (n: number) => `127.0.0.${runtime === 'node' ? n + 30 : n + 130}`;

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_RATE_LIMIT: '2/1m',
      CORSWAY_RATE_LIMIT_BY: 'origin',
      CORSWAY_ALLOW_ORIGINS: 'https://a.test, https://b.test, null',
    }),
    upstream,
  );

  const get = (origin: string, from: string) =>
    send(`${proxy.url}/${upstream.origin}/data`, { from, headers: { origin } });

  test('GET with Origin: https://a.test from three addresses -> one budget: 200, 200, 429', async () => {
    const res = [];
    for (const n of [1, 2, 3]) res.push(await get('https://a.test', client(n)));
    expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(res.map((r) => fields(r).remaining)).toEqual(['1', '0', '0']);
    expect(res.map((r) => fields(r).ratelimit)).toEqual([
      '"corsway";r=1;t=30',
      '"corsway";r=0;t=60',
      expect.stringMatching(/^"corsway";r=0;t=(59|60)$/),
    ]);
    // One request's worth (60 s / 2) comes back first.
    expect(['29', '30']).toContain(res[2]?.headers.get('retry-after'));
  });

  test('GET with Origin: https://b.test from the same address -> its own budget', async () => {
    const res = await get('https://b.test', client(1));
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-remaining')).toBe('1');
  });

  test('GET with Origin: null -> 200 (the list has a null entry), budgeted like any origin', async () => {
    const statuses = [];
    for (const n of [4, 5, 6]) statuses.push((await get('null', client(n))).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  test('GET / -> help page names the rate limit per origin', async () => {
    const res = await send(`${proxy.url}/`);
    expect(res.body).toContain('Rate limit: 2 requests per 60 s per origin');
    expect(res.body).toContain('Allowed origins: https://a.test, https://b.test, null');
  });
});
