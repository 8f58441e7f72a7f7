import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';
import { pidsHoldingConnections, workerPids } from '../support/workers.ts';

const ORIGIN = 'https://app.example';

const upstream = new Upstream();

function port(proxy: RunningProxy): number {
  return Number(new URL(proxy.url).port);
}

beforeAll(async () => {
  await upstream.start();
});
afterAll(async () => {
  await upstream.stop();
});

describe('node: CORSWAY_WORKERS=2 serves one port from two processes', () => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_WORKERS: '2' });
  });
  afterAll(async () => {
    await proxy.stop();
  });

  test('one "listening" line for both; 12 requests at once are all proxied, over connections both workers hold', async () => {
    expect(
      proxy
        .output()
        .match(
          /listening on http:\/\/127\.0\.0\.1:\d+ with 2 workers \(loopback only: private targets are allowed\)\n/g,
        ),
    ).toHaveLength(1);
    const workers = workerPids(proxy.pid);
    expect(workers).toHaveLength(2);

    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${proxy.url}/${upstream.origin}/spread/${i}`, { headers: { origin: ORIGIN } }),
      ),
    );
    for (const [i, res] of responses.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(((await res.json()) as { url: string }).url).toBe(`/spread/${i}`);
    }
    // fetch keeps the 12 connections open for reuse: the primary handed them out round-robin.
    expect(pidsHoldingConnections(workers, port(proxy))).toEqual(new Set(workers));
  });

  test('a worker that dies is replaced, and the other answers meanwhile', async () => {
    const [victim, survivor] = workerPids(proxy.pid) as [number, number];
    process.kill(victim, 'SIGKILL');
    await eventually(() => proxy.output().includes(`worker ${victim} exited with signal SIGKILL; starting another`));
    const res = await fetch(`${proxy.url}/${upstream.origin}/meanwhile`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    await eventually(() => {
      const now = workerPids(proxy.pid);
      return now.length === 2 && !now.includes(victim) && now.includes(survivor);
    });
    const again = await fetch(`${proxy.url}/healthz`, { headers: { connection: 'close' } });
    expect(again.status).toBe(200);
    await again.arrayBuffer();
  });
});

describe('node: CORSWAY_WORKERS refusals at startup (exit code 1, the variable named)', () => {
  test('CORSWAY_WORKERS=2 with CORSWAY_RATE_LIMIT and no CORSWAY_REDIS_URL: the budget would be per worker', async () => {
    await expect(startNode({ CORSWAY_WORKERS: '2', CORSWAY_RATE_LIMIT: '10/1m' })).rejects.toThrow(
      /exited with 1:\n[\s\S]*CORSWAY_WORKERS: each worker would keep its own CORSWAY_RATE_LIMIT budget/,
    );
  });

  test('CORSWAY_WORKERS=2 with CORSWAY_METRICS on: a scrape would see one worker', async () => {
    await expect(
      startNode({ CORSWAY_WORKERS: '2', CORSWAY_METRICS: 'on', CORSWAY_METRICS_TOKEN: 'scrape-me-0123456789' }),
    ).rejects.toThrow(/exited with 1:\n[\s\S]*CORSWAY_WORKERS: each worker counts its own metrics/);
  });

  test('a worker that cannot start (bad HTTP_PROXY) stops the primary too, with the reason', async () => {
    await expect(startNode({ CORSWAY_WORKERS: '2', http_proxy: 'socks5://proxy.example:1080' })).rejects.toThrow(
      /exited with 1:\n[\s\S]*HTTP_PROXY: expected a proxy URL[\s\S]*a worker exited with code 1 before it could listen; stopping/,
    );
  });
});
