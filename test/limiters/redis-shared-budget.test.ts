import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { send } from '../support/client.ts';
import { RedisServer } from '../support/redis-server.ts';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { admitted, onePerPart, spendParts } from '../support/shards.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';
import { pidsHoldingConnections, workerPids } from '../support/workers.ts';

const BUDGET = 6;
const METRICS_TOKEN = 'scrape-token-for-tests';

/** Sends `count` proxied GETs at once, alternating between the instances. */
async function burst(proxies: readonly RunningProxy[], target: string, count: number): Promise<Response[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => fetch(`${(proxies[i % proxies.length] as RunningProxy).url}/${target}`)),
  );
}

function statuses(responses: readonly Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.status] = (counts[res.status] ?? 0) + 1;
  return counts;
}

async function health(proxy: RunningProxy): Promise<{ status: number; text: string }> {
  const res = await fetch(`${proxy.url}/healthz`);
  return { status: res.status, text: await res.text() };
}

/** A Node instance with a budget of BUDGET per hour kept in `redis`, plus `extra`. */
function budgetEnv(redis: RedisServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_RATE_LIMIT: `${BUDGET}/1h`,
    CORSWAY_REDIS_URL: redis.url,
    ...extra,
  };
}

/** Retries `check` until it holds, as long as Redis reconnects may take (they back off up to 2 s). */
const afterReconnect = (check: () => Promise<boolean>) => eventually(check, 15_000, 200);

describe('two Node instances sharing one Redis, CORSWAY_RATE_LIMIT_FAILURE=open (the default)', () => {
  const redis = new RedisServer();
  const upstream = new Upstream();
  let proxies: RunningProxy[] = [];
  let target = '';

  beforeAll(async () => {
    await Promise.all([redis.start(), upstream.start()]);
    target = `${upstream.origin}/shared`;
    proxies = await Promise.all([startNode(budgetEnv(redis)), startNode(budgetEnv(redis))]);
  });
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([redis.stop(), upstream.stop()]);
  });

  test(`GET /<target> x${2 * BUDGET} at once across both instances with ${BUDGET}/1h -> exactly ${BUDGET} x 200, the rest 429 rate_limited`, async () => {
    const responses = await burst(proxies, target, 2 * BUDGET);
    expect(statuses(responses)).toEqual({ 200: BUDGET, 429: BUDGET });
    expect(upstream.hits.length).toBe(BUDGET);

    const allowed = responses.filter((r) => r.status === 200);
    // One budget, one timeline: every Remaining from BUDGET-1 down to 0 appears exactly once.
    const remaining = allowed.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: BUDGET }, (_, i) => i));
    for (const res of allowed) {
      const left = Number(res.headers.get('ratelimit-remaining'));
      // GCRA: the whole budget is back (BUDGET - left) emission intervals (600 s each) from now.
      expect(Number(res.headers.get('ratelimit-reset'))).toBe((BUDGET - left) * 600);
    }

    for (const res of responses.filter((r) => r.status === 429)) {
      expect(await res.json()).toMatchObject({ error: 'rate_limited' });
      expect(res.headers.get('ratelimit-remaining')).toBe('0');
      // The next request fits once one emission interval (1h / 6 = 600 s) has passed.
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(590);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    }
    await Promise.all(allowed.map((r) => r.arrayBuffer()));
  });

  test('GET /healthz while Redis answers -> 200 ok on both instances', async () => {
    for (const proxy of proxies) expect(await health(proxy)).toEqual({ status: 200, text: 'ok' });
  });

  test(`Redis killed: GET /<target> -> 200 from each instance's own memory budget, then 429 after ${BUDGET}; /healthz 200 degraded`, async () => {
    await redis.kill();
    const hitsBefore = upstream.hits.length;
    for (const proxy of proxies) {
      const responses: Response[] = [];
      // One at a time: the first meets the dead connection, the rest the failover.
      for (let i = 0; i <= BUDGET; i++) responses.push(await fetch(`${proxy.url}/${target}`));
      expect(responses.map((r) => r.status)).toEqual([...Array(BUDGET).fill(200), 429]);
      await Promise.all(responses.map((r) => r.arrayBuffer()));

      const h = await health(proxy);
      expect(h).toEqual({ status: 200, text: 'degraded: rate-limit store unreachable' });
      expect(proxy.output()).toMatch(/rate-limit store Redis unreachable .*failing open/);
    }
    expect(upstream.hits.length - hitsBefore).toBe(2 * BUDGET);
  });

  test('Redis back (empty): budgets are shared again, /healthz ok, neither instance restarted', async () => {
    await redis.start();
    for (const proxy of proxies) {
      await afterReconnect(async () => {
        // A request that reaches Redis clears the degraded state.
        await (await fetch(`${proxy.url}/${target}`)).arrayBuffer();
        return (await health(proxy)).text === 'ok';
      });
      expect(proxy.output()).toMatch(/rate-limit store Redis reachable again/);
      expect(proxy.output().match(/listening on/g)).toHaveLength(1);
    }
    // The restarted Redis holds only what the probes above spent; the rest is shared as before.
    const responses = await burst(proxies, target, 2 * BUDGET);
    const ok = statuses(responses)[200] ?? 0;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(BUDGET - 2);
    expect(statuses(responses)[429]).toBe(2 * BUDGET - ok);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
  });
});

describe('a Node instance with CORSWAY_RATE_LIMIT_FAILURE=closed', () => {
  const redis = new RedisServer();
  const upstream = new Upstream();
  let proxy: RunningProxy;
  let target = '';

  beforeAll(async () => {
    await upstream.start();
    target = `${upstream.origin}/closed`;
    // Redis is not running yet: the proxy must start anyway.
    await redis.start();
    await redis.kill();
    proxy = await startNode(
      budgetEnv(redis, {
        CORSWAY_RATE_LIMIT_FAILURE: 'closed',
        CORSWAY_METRICS: 'on',
        CORSWAY_METRICS_TOKEN: METRICS_TOKEN,
      }),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([redis.stop(), upstream.stop()]);
  });

  test('started without Redis: GET /<target> -> 429 rate_limited with Retry-After, target never contacted; /healthz 200 degraded', async () => {
    const res = await fetch(`${proxy.url}/${target}`, { headers: { origin: 'https://app.test' } });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
    expect(upstream.hits.length).toBe(0);
    const h = await health(proxy);
    // Public: that it is degraded, never the store's address or the error.
    expect(h).toEqual({ status: 200, text: 'degraded: rate-limit store unreachable' });
    expect(h.text).not.toContain(String(redis.port));
    // The operator's: the log and, behind the token, /metrics.
    expect(proxy.output()).toMatch(/rate-limit store Redis unreachable .*failing closed/);
    expect(proxy.output()).toMatch(/rate-limit store Redis: .*ECONNREFUSED/);
    const scrape = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(await scrape.text()).toMatch(
      /^corsway_rate_limit_store_up\{detail="Redis unreachable \(.*ECONNREFUSED.*"\} 0$/m,
    );
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(401);
  });

  test('Redis started: GET /<target> -> 200 with the shared budget, /healthz ok', async () => {
    await redis.start();
    let res: Response | undefined;
    await afterReconnect(async () => {
      res = await fetch(`${proxy.url}/${target}`);
      await res.arrayBuffer();
      return res.status === 200;
    });
    expect(res?.headers.get('ratelimit-remaining')).toBe(String(BUDGET - 1));
    expect(await health(proxy)).toEqual({ status: 200, text: 'ok' });
    const scrape = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(await scrape.text()).toMatch(/^corsway_rate_limit_store_up 1$/m);
  });

  test('Redis killed mid-use: GET /<target> -> 429 rate_limited, the process keeps serving', async () => {
    await redis.kill();
    const res = await fetch(`${proxy.url}/${target}`);
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: 'rate_limited' });
    expect((await health(proxy)).text).toMatch(/^degraded/);
    // Paths that spend no budget are unaffected.
    expect((await fetch(`${proxy.url}/`)).status).toBe(200);
  });
});

describe('a Node instance whose Redis hangs (connected, never answering)', () => {
  const redis = new RedisServer();
  const upstream = new Upstream();
  let proxy: RunningProxy;
  let target = '';

  beforeAll(async () => {
    await Promise.all([redis.start(), upstream.start()]);
    target = `${upstream.origin}/hung`;
    proxy = await startNode(budgetEnv(redis));
  });
  afterAll(async () => {
    redis.resume();
    await proxy?.stop();
    await Promise.all([redis.stop(), upstream.stop()]);
  });

  test('Redis frozen: GET /<target> -> 200 all the same (fail open), /healthz 200 degraded: no answer', async () => {
    const first = await fetch(`${proxy.url}/${target}`);
    expect(first.headers.get('ratelimit-remaining')).toBe(String(BUDGET - 1));
    await first.arrayBuffer();
    redis.pause();
    // A request must not wait on the frozen Redis for good; the signal only turns a hang into a failure.
    const responses: Response[] = [];
    for (let i = 0; i < 3; i++) {
      responses.push(await fetch(`${proxy.url}/${target}`, { signal: AbortSignal.timeout(10_000) }));
    }
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(await health(proxy)).toEqual({ status: 200, text: 'degraded: rate-limit store unreachable' });
    expect(proxy.output()).toMatch(/rate-limit store Redis unreachable \(no answer within \d+ ms\)/);
  });

  test('Redis thawed: a request is answered from Redis again and /healthz is ok', async () => {
    redis.resume();
    // /healthz turns ok only once a budget check has succeeded in Redis.
    await afterReconnect(async () => {
      const res = await fetch(`${proxy.url}/${target}`);
      await res.arrayBuffer();
      return res.status === 200 && (await health(proxy)).text === 'ok';
    });
  });
});

describe('one Node instance with CORSWAY_WORKERS=2 and Redis', () => {
  const redis = new RedisServer();
  const upstream = new Upstream();
  let proxy: RunningProxy;
  let target = '';

  beforeAll(async () => {
    await Promise.all([redis.start(), upstream.start()]);
    target = `${upstream.origin}/workers`;
    proxy = await startNode(budgetEnv(redis, { CORSWAY_WORKERS: '2' }));
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([redis.stop(), upstream.stop()]);
  });

  test(`GET /<target> x${2 * BUDGET} at once, served by both workers -> exactly ${BUDGET} x 200: one budget, not one each`, async () => {
    const responses = await burst([proxy], target, 2 * BUDGET);
    expect(statuses(responses)).toEqual({ 200: BUDGET, 429: BUDGET });
    expect(upstream.hits.length).toBe(BUDGET);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    const workers = workerPids(proxy.pid);
    expect(workers).toHaveLength(2);
    expect(pidsHoldingConnections(workers, Number(new URL(proxy.url).port))).toEqual(new Set(workers));
  });
});

describe('two Node instances sharing one Redis, 10/1h by origin in 4 parts (CORSWAY_RATE_LIMIT_SHARDS)', () => {
  const redis = new RedisServer();
  const upstream = new Upstream();
  let proxies: RunningProxy[] = [];
  /** A budget of 10 over 4 parts. */
  const sizes = [3, 3, 2, 2];
  const clients = onePerPart(
    Array.from({ length: 60 }, (_, i) => `127.0.5.${i + 1}`),
    4,
  );

  beforeAll(async () => {
    await Promise.all([redis.start(), upstream.start()]);
    const env = {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_RATE_LIMIT: '10/1h',
      CORSWAY_RATE_LIMIT_BY: 'origin',
      CORSWAY_RATE_LIMIT_SHARDS: '4',
      CORSWAY_REDIS_URL: redis.url,
    };
    proxies = await Promise.all([startNode(env), startNode(env)]);
  });
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([redis.stop(), upstream.stop()]);
  });

  test('GET with one Origin from one client per part, alternating instances, until refused -> 3, 3, 2, 2: each part is one budget across both', async () => {
    const seen = await spendParts(clients, sizes, (from, nth) =>
      send(`${(proxies[nth % 2] as RunningProxy).url}/${upstream.origin}/data`, {
        from,
        headers: { origin: 'https://a.test' },
      }),
    );
    for (const answers of seen) expect(answers.at(-1)?.status).toBe(429);
    expect(admitted(seen)).toEqual(sizes);
  });
});
