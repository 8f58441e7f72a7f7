import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';

let held = 0;
let released = 0;
const upstream = new Upstream({
  // Never answers: only the proxy closing the request ends it.
  '/hold': (_req, res) => {
    held++;
    res.on('close', () => released++);
  },
});

beforeAll(async () => {
  await upstream.start();
});
afterAll(async () => {
  await upstream.stop();
});

test('node: a client that goes away before the target answers ends the upstream request, long before CORSWAY_TIMEOUT_MS', async () => {
  const proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_TIMEOUT_MS: '600000' });
  try {
    const controller = new AbortController();
    const pending = fetch(`${proxy.url}/${upstream.origin}/hold`, { signal: controller.signal }).catch(() => null);
    await eventually(() => held === 1, 10_000, 20);
    expect(released).toBe(0);
    controller.abort();
    await pending;
    await eventually(() => released === 1, 10_000, 20);
  } finally {
    await proxy.stop();
  }
});
