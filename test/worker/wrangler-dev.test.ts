import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { send } from '../security/traps.ts';
import { type RunningProxy, startWorker } from '../support/runtimes.ts';
import { streaming, Upstream } from '../support/upstream.ts';

/*
 * wrangler dev's local proxy hangs a request for good once the Worker has
 * cancelled an earlier request body before its end (src/worker/dev.ts); it
 * also prints every exception workerd reports as uncaught. Both once made
 * `npm test` fail now and then; these repeat the pattern until it would show.
 */
describe('worker under wrangler dev', () => {
  const upstream = new Upstream({
    // Waits for the whole upload, so the proxy refuses it mid-flight and aborts this request.
    '/sink': streaming((req, res) => {
      req.on('error', () => {});
      req.resume();
      req.on('end', () => res.end('ok'));
    }),
    '/slow': () => new Promise(() => {}),
  });
  let worker: RunningProxy;

  beforeAll(async () => {
    await upstream.start();
    worker = await startWorker({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_MAX_BODY_BYTES: '1024',
      CORSWAY_TIMEOUT_MS: '300',
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await upstream.stop();
  });

  test('30 chunked uploads past CORSWAY_MAX_BODY_BYTES, the rest left unread by the proxy, each followed by a GET -> 413 then 200 every time', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      // 16 KiB against a 1 KiB limit: the proxy reads at most 2 KiB past the limit, then cancels.
      const refused = await send(worker.url, `/${upstream.origin}/sink`, {
        method: 'POST',
        body: 'x'.repeat(16 * 1024),
        chunks: 16,
      });
      const next = await send(worker.url, '/healthz');
      seen.push(`${refused.status} ${next.status}`);
    }
    expect(seen).toEqual(Array(30).fill('413 200'));
  });

  test('an upload refused for its size and a target timing out -> 413 and 504, and wrangler dev prints no uncaught exception', async () => {
    const refused = await send(worker.url, `/${upstream.origin}/sink`, {
      method: 'POST',
      body: 'x'.repeat(3 * 1024),
      chunks: 3,
    });
    const slow = await send(worker.url, `/${upstream.origin}/slow`);
    expect([refused.status, slow.status]).toEqual([413, 504]);
    await send(worker.url, '/healthz');
    expect(worker.output()).not.toMatch(/Uncaught/);
  });
});
