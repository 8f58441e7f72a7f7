import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Abort } from '../../src/core/abort.ts';
import { Fields } from '../../src/core/fields.ts';
import { nodeUpstream, type SocketBody } from '../../src/node/upstream.ts';
import { Upstream } from '../support/upstream.ts';

const CHUNK = 64 * 1024;
const CHUNKS = 64;
const body = Buffer.alloc(CHUNK * CHUNKS);
for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);

const upstream = new Upstream({
  '/big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    res.end(body);
  },
});
const { socketUpstream, close } = nodeUpstream({ allowPrivateNetwork: true });

beforeAll(() => upstream.start());
afterAll(async () => {
  await close();
  await upstream.stop();
});

/** Reads `socket` as the Node server's relay does when its client is slow: wait after every chunk. */
function readSlowly(socket: SocketBody): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    socket.read({
      data(chunk) {
        chunks.push(chunk);
        setImmediate(() => socket.resume());
        return false;
      },
      end: () => resolve(chunks),
      error: reject,
    });
  });
}

test('a reader that waits after every chunk gets the whole body, in order, and never an empty chunk', async () => {
  const abort = new Abort();
  const response = await socketUpstream({
    url: new URL(`${upstream.origin}/big`),
    method: 'GET',
    headers: new Fields(),
    body: null,
    signal: abort.signal,
    onAbort: (listener) => abort.onAbort(listener),
  });
  expect(response.status).toBe(200);
  const chunks = await readSlowly(response.body as SocketBody);
  expect(chunks.length).toBeGreaterThan(1);
  expect(chunks.filter((chunk) => chunk.length === 0)).toHaveLength(0);
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  expect(digest(Buffer.concat(chunks))).toBe(digest(body));
});
