import { once } from 'node:events';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RedisLimiter, redisLimiter } from '../../src/limiters/redis.ts';
import { send } from '../support/client.ts';
import { RedisServer } from '../support/redis-server.ts';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';

const redis = new RedisServer();
const limiters: RedisLimiter[] = [];
const SPEC = { limit: 1000, windowSeconds: 3600 };

/** A limiter as one instance of the proxy holds it; closed, so a store that fails fails the test. */
function instance(): RedisLimiter {
  const limiter = redisLimiter(redis.url, { limit: 60, windowSeconds: 60 }, 'closed');
  limiters.push(limiter);
  return limiter;
}

beforeAll(async () => {
  await redis.start();
});
afterAll(async () => {
  for (const limiter of limiters) limiter.close();
  await redis.stop();
});

describe('bandwidth budgets in Redis', () => {
  test('bytes charged by one instance are spent for another; a check spends nothing; the crossing charge is kept whole', async () => {
    const [a, b] = [instance(), instance()];
    expect(await a.bytes.check('ip:1', SPEC)).toMatchObject({ allowed: true, remaining: 1000, limit: 1000 });
    expect(await a.bytes.check('ip:1', SPEC)).toMatchObject({ remaining: 1000 });
    await a.bytes.charge('ip:1', SPEC, 600);
    expect(await b.bytes.check('ip:1', SPEC)).toMatchObject({ allowed: true, remaining: 400 });
    await b.bytes.charge('ip:1', SPEC, 900);
    const spent = await a.bytes.check('ip:1', SPEC);
    expect(spent).toMatchObject({ allowed: false, remaining: 0 });
    // 500 bytes over a 3.6 s-per-byte budget: 1800 s, and one byte more.
    expect(spent.retryAfter).toBeGreaterThanOrEqual(1803);
    expect(await b.bytes.check('ip:2', SPEC)).toMatchObject({ allowed: true, remaining: 1000 });
  });

  test('request budgets and bandwidth budgets of the same key are apart', async () => {
    const limiter = instance();
    await limiter.bytes.charge('key:abc', SPEC, 1000);
    expect(await limiter.consume('key:abc', { limit: 5, windowSeconds: 60 })).toMatchObject({
      allowed: true,
      remaining: 4,
    });
    expect(await limiter.bytes.check('key:abc', SPEC)).toMatchObject({ allowed: false });
  });

  test("a per-call size replaces the limiter default for request budgets (an access key's own)", async () => {
    const limiter = instance();
    const own = { limit: 2, windowSeconds: 3600 };
    expect((await limiter.consume('key:own', own)).remaining).toBe(1);
    expect((await limiter.consume('key:own', own)).remaining).toBe(0);
    expect((await limiter.consume('key:own', own)).allowed).toBe(false);
  });
});

describe('node: CORSWAY_BANDWIDTH_LIMIT with CORSWAY_REDIS_URL', () => {
  const CHUNK = 4096;
  const CHUNKS = 512;
  const upstream = new Upstream({
    '/stream': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < CHUNKS; i++) {
        if (!res.write(Buffer.alloc(CHUNK, i % 256))) await once(res, 'drain');
      }
      res.end();
    },
  });
  let proxy: RunningProxy;
  let client: ReturnType<typeof createClient>;

  beforeAll(async () => {
    await upstream.start();
    proxy = await startNode({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_REDIS_URL: redis.url,
      CORSWAY_BANDWIDTH_LIMIT: '10485760/1d',
    });
    client = createClient({ url: redis.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.destroy();
    await proxy?.stop();
    await upstream.stop();
  });

  /** Scripts Redis ran so far: one per budget round trip. */
  async function scriptCalls(): Promise<number> {
    const info = await client.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  test('GET /<2 MiB in 512 chunks> -> every byte charged, in batches: a handful of round trips, not one per chunk', async () => {
    const before = await scriptCalls();
    const res = await send(`${proxy.url}/${upstream.origin}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe('"bytes";q=10485760;qu="content-bytes";w=86400');
    let remaining = 0;
    await eventually(async () => {
      const next = await send(`${proxy.url}/${upstream.origin}/stream`, { method: 'HEAD' });
      remaining = Number(/r=(\d+)/.exec(next.headers.get('ratelimit') ?? '')?.[1]);
      return remaining < 10485760 - CHUNK * CHUNKS + 1000;
    });
    // 2 MiB spent and never more; the refill (121 bytes/s) may have given a few back,
    // or none when the check came within a few milliseconds of the last charge.
    expect(remaining).toBeGreaterThanOrEqual(10485760 - CHUNK * CHUNKS);
    const calls = (await scriptCalls()) - before;
    // One check, 2 MiB / 256 KiB = 8 batches, the end, and the HEAD requests' checks.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(20);
  });
});
