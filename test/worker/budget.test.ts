import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy as RunningWorker, startWorker } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';

const BUDGET = 4;
/** 1 h / 4: one request's worth of budget comes back every 900 s. */
const INTERVAL_S = 900;

// wrangler dev passes a client's CF-Connecting-IP through (Cloudflare's edge sets it in production),
// so each test is its own client with its own budget object.
function get(worker: RunningWorker, target: string, client: string): Promise<Response> {
  return fetch(`${worker.url}/${target}`, { headers: { 'cf-connecting-ip': client } });
}

describe(`worker: CORSWAY_RATE_LIMIT=${BUDGET}/1h with the CORSWAY_BUDGETS Durable Object of wrangler.toml`, () => {
  const upstream = new Upstream();
  const env = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: `${BUDGET}/1h` };
  let state = '';
  let worker: RunningWorker;
  let target = '';

  beforeAll(async () => {
    await upstream.start();
    target = `${upstream.origin}/budget`;
    // Our own state directory, kept across the restart below.
    state = await mkdtemp(join(tmpdir(), 'corsway-budgets-'));
    worker = await startWorker(env, ['--persist-to', state]);
  });
  afterAll(async () => {
    await worker?.stop();
    await upstream.stop();
    if (state) await rm(state, { recursive: true, force: true });
  });

  test(`GET /<target> x${2 * BUDGET} at once from one client -> exactly ${BUDGET} x 200 with Remaining ${BUDGET - 1}..0, the rest 429 rate_limited`, async () => {
    const responses = await Promise.all(Array.from({ length: 2 * BUDGET }, () => get(worker, target, '198.51.100.10')));
    const allowed = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    expect(allowed).toHaveLength(BUDGET);
    expect(refused).toHaveLength(BUDGET);
    const remaining = allowed.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: BUDGET }, (_, i) => i));
    for (const res of allowed) {
      const left = Number(res.headers.get('ratelimit-remaining'));
      expect(Number(res.headers.get('ratelimit-reset'))).toBe((BUDGET - left) * INTERVAL_S);
      await res.arrayBuffer();
    }
    for (const res of refused) {
      expect(await res.json()).toMatchObject({ error: 'rate_limited' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(INTERVAL_S - 10);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(INTERVAL_S);
    }
    expect(upstream.hits.length).toBe(BUDGET);
  });

  test('GET /<target> one after another from another client -> its own budget: RateLimit r=3,2,1,0 with t=900,1800,2700,3600, then 429', async () => {
    // The budget refills while the test runs: on a loaded machine a second or more can pass
    // between the first request and the last, so each `t` is checked against the time that passed.
    const started = Date.now();
    const expected = [
      [200, 3, 900],
      [200, 2, 1800],
      [200, 1, 2700],
      [200, 0, 3600],
      [429, 0, 3600],
    ] as const;
    for (const [status, remaining, full] of expected) {
      const res = await get(worker, target, '198.51.100.11');
      const elapsed = Math.ceil((Date.now() - started) / 1000);
      const [, r, t] = /^"corsway";r=(\d+);t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '') ?? [];
      expect([res.status, Number(r)]).toEqual([status, remaining]);
      expect(Number(t)).toBeLessThanOrEqual(full);
      expect(Number(t)).toBeGreaterThanOrEqual(full - elapsed);
      await res.arrayBuffer();
    }
  });

  test('GET /healthz -> 200 ok while the Durable Object answers', async () => {
    const res = await fetch(`${worker.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  test('Worker restarted: a spent budget is still spent (it lives in the Durable Object, not the isolate); a new client starts whole', async () => {
    await worker.stop();
    worker = await startWorker(env, ['--persist-to', state]);
    const spent = await get(worker, target, '198.51.100.10');
    expect(spent.status).toBe(429);
    expect(spent.headers.get('ratelimit-remaining')).toBe('0');
    await spent.arrayBuffer();
    const fresh = await get(worker, target, '198.51.100.12');
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('ratelimit')).toBe(`"corsway";r=${BUDGET - 1};t=${INTERVAL_S}`);
    await fresh.arrayBuffer();
  });
});
