import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, type RunningProxy as RunningWorker, startWorker } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';

const BUDGET = 4;

/*
 * Two Workers in two `wrangler dev` processes stand for two Cloudflare
 * locations: the first defines the RateLimitBudget class, the second reaches
 * the same objects through wrangler's local dev registry (`script_name`).
 */
describe(`two workers sharing the CORSWAY_BUDGETS Durable Objects, ${BUDGET}/1h`, () => {
  const upstream = new Upstream();
  // A name of our own, so that other wrangler dev sessions on this machine cannot answer for it.
  const name = `corsway-budgets-${crypto.randomUUID().slice(0, 8)}`;
  let dir = '';
  let workers: RunningWorker[] = [];
  let target = '';

  beforeAll(async () => {
    await upstream.start();
    target = `${upstream.origin}/shared`;
    dir = await mkdtemp(join(tmpdir(), 'corsway-second-worker-'));
    const config = join(dir, 'wrangler.toml');
    await writeFile(
      config,
      [
        `name = "${name}-second"`,
        `main = ${JSON.stringify(join(ROOT, 'src/worker/main.ts'))}`,
        'compatibility_date = "2026-04-26"',
        '[[durable_objects.bindings]]',
        'name = "CORSWAY_BUDGETS"',
        'class_name = "RateLimitBudget"',
        `script_name = "${name}"`,
        '',
      ].join('\n'),
    );
    const env = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: `${BUDGET}/1h` };
    const first = await startWorker(env, ['--name', name]);
    workers = [first, await startWorker(env, ['--config', config])];
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await upstream.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(`GET /<target> x${2 * BUDGET} at once from one client, alternating workers -> exactly ${BUDGET} x 200 with Remaining ${BUDGET - 1}..0, the rest 429`, async () => {
    const responses = await Promise.all(
      Array.from({ length: 2 * BUDGET }, (_, i) =>
        fetch(`${(workers[i % 2] as RunningWorker).url}/${target}`, {
          headers: { 'cf-connecting-ip': '198.51.100.20' },
        }),
      ),
    );
    const allowed = responses.filter((r) => r.status === 200);
    expect(allowed).toHaveLength(BUDGET);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(BUDGET);
    const remaining = allowed.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: BUDGET }, (_, i) => i));
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(upstream.hits.length).toBe(BUDGET);
  });

  test('GET /<target> on the second worker after the first spent a client budget -> 429 there too', async () => {
    const [first, second] = workers as [RunningWorker, RunningWorker];
    const client = { 'cf-connecting-ip': '198.51.100.21' };
    for (let i = 0; i < BUDGET; i++) {
      const res = await fetch(`${first.url}/${target}`, { headers: client });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const res = await fetch(`${second.url}/${target}`, { headers: client });
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit')).toBe('"corsway";r=0;t=3600');
    expect(await res.json()).toMatchObject({ error: 'rate_limited' });
  });
});
