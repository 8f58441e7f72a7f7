import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';
import { alive, workerPids } from '../support/workers.ts';

const upstream = new Upstream({
  '/slow': (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('finished');
    }, 1_000);
  },
});

beforeAll(async () => {
  await upstream.start();
});
afterAll(async () => {
  await upstream.stop();
});

describe.each(['1', '2'])('node: SIGTERM with CORSWAY_WORKERS=%s', (workers) => {
  test('a request in flight is finished, then every process exits with 0, without waiting for the client to drop its connection', async () => {
    const proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_WORKERS: workers });
    const children = workerPids(proxy.pid);
    expect(children).toHaveLength(workers === '1' ? 0 : 2);

    const seen = upstream.hits.length;
    // fetch keeps its connection after the response, as browsers do (Keep-Alive: timeout=5).
    let answered = 0;
    const pending = fetch(`${proxy.url}/${upstream.origin}/slow`).then(async (res) => {
      const body = await res.text();
      answered = Date.now();
      return { status: res.status, body };
    });
    await eventually(() => upstream.hits.length > seen, 10_000, 20);

    const [code, res] = await Promise.all([proxy.stop(), pending]);
    const exited = Date.now();
    expect(res).toEqual({ status: 200, body: 'finished' });
    expect(code).toBe(0);
    // The client would hold the idle connection for 3 s more; the server closes it instead.
    expect(exited - answered).toBeLessThan(2_000);
    expect(proxy.output()).toMatch(/SIGTERM received, (workers )?finishing in-flight requests/);
    expect(children.filter(alive)).toEqual([]);
  });
});
