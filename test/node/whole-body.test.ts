import { afterAll, beforeAll, expect, test } from 'vitest';
import { raw } from '../support/raw-http.ts';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';

/*
 * A small body usually arrives whole with its target's headers, and the Node
 * listener ends the client's response with it in one write. These bodies
 * arrive so, in one write of the target: the limit and the bytes must be
 * those of the chunk-by-chunk relay.
 */

const LIMIT = 4096;
const upstream = new Upstream({
  // Chunked: no Content-Length for the proxy to refuse it by before relaying.
  '/over': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('o'.repeat(2 * LIMIT));
  },
  '/at': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('a'.repeat(LIMIT));
  },
  '/small': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}');
  },
});
let proxy: RunningProxy;

beforeAll(async () => {
  await upstream.start();
  proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_MAX_RESPONSE_BYTES: String(LIMIT) });
});
afterAll(async () => {
  await proxy?.stop();
  await upstream.stop();
});

test('GET /http://127.0.0.1:<port>/over (8 KiB chunked, written at once, CORSWAY_MAX_RESPONSE_BYTES 4 KiB) -> never a complete response', async () => {
  for (let i = 0; i < 5; i++) {
    const outcome = await raw(proxy.url, `/${upstream.origin}/over`).then(
      (res) => res,
      (error: Error) => error,
    );
    expect(outcome, 'a body past the limit must not end cleanly').toBeInstanceOf(Error);
  }
  expect((await raw(proxy.url, `/${upstream.origin}/small`)).status).toBe(200);
});

test('GET /http://127.0.0.1:<port>/at (exactly CORSWAY_MAX_RESPONSE_BYTES, chunked, at once) -> 200 with every byte', async () => {
  const res = await raw(proxy.url, `/${upstream.origin}/at`);
  expect(res.status).toBe(200);
  expect(res.body.toString()).toBe('a'.repeat(LIMIT));
});

test('GET /http://127.0.0.1:<port>/small -> 200, the body and its Content-Length as the target sent them', async () => {
  const res = await raw(proxy.url, `/${upstream.origin}/small`, { headers: { origin: 'https://app.test' } });
  expect(res.status).toBe(200);
  expect(res.headers['content-length']).toBe('11');
  expect(res.body.toString()).toBe('{"ok":true}');
  expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
});
