import { afterAll, beforeAll, expect, test } from 'vitest';
import { Abort } from '../../src/core/abort.ts';
import { Fields } from '../../src/core/fields.ts';
import { nodeUpstream, type SocketBody } from '../../src/node/upstream.ts';
import { Upstream } from '../support/upstream.ts';

// undici's own timers, set short here so that a test can outlast them; the app's wait for headers is longer.
const BODY_TIMEOUT_MS = 300;
const APP_TIMEOUT_MS = 10_000;
const HEADERS_AFTER_MS = 1_500;

const upstream = new Upstream({
  '/late-headers': (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('late'), HEADERS_AFTER_MS);
  },
  '/stalled-body': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
    res.write('12345');
  },
});
const { socketUpstream, close } = nodeUpstream({
  allowPrivateNetwork: true,
  timeoutMs: APP_TIMEOUT_MS,
  bodyTimeoutMs: BODY_TIMEOUT_MS,
});

beforeAll(() => upstream.start());
afterAll(async () => {
  await close();
  await upstream.stop();
});

function get(path: string) {
  const abort = new Abort();
  return socketUpstream({
    url: new URL(`${upstream.origin}${path}`),
    method: 'GET',
    headers: new Fields(),
    body: null,
    signal: abort.signal,
    onAbort: (listener) => abort.onAbort(listener),
  });
}

function read(body: SocketBody): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    body.read({
      data: (chunk) => chunks.push(chunk) > 0,
      end: () => resolve(Buffer.concat(chunks).toString()),
      error: reject,
    });
  });
}

test('undici never cuts the wait for headers short of CORSWAY_TIMEOUT_MS, even when its body timeout is shorter', async () => {
  const response = await get('/late-headers');
  expect(response.status).toBe(200);
  expect(await read(response.body as SocketBody)).toBe('late');
});

test('a body that stalls for longer than the body timeout is cut', async () => {
  const response = await get('/stalled-body');
  expect(response.status).toBe(200);
  await expect(read(response.body as SocketBody)).rejects.toThrow(/body timeout/i);
});
