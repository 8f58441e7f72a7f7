import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { drainedOrClosed, sleep } from '../support/wait.ts';

const CHUNK = 64 * 1024;
const CHUNKS = 2048;
/** 128 MiB: far more than every buffer between the target and a client that stopped reading. */
const TOTAL = CHUNK * CHUNKS;

/** Chunk `i` of the body: filled with a byte derived from `i`, and `i` itself up front, so no two chunks are alike. */
function chunk(i: number): Buffer {
  const buf = Buffer.alloc(CHUNK, (i * 31 + 7) & 0xff);
  buf.writeUInt32BE(i, 0);
  return buf;
}

function expectedDigest(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) hash.update(chunk(i));
  return hash.digest('hex');
}

/** Bytes the target's socket accepted so far (each write waits for 'drain', so at most one chunk is queued). */
let written = 0;
let targetDone = false;

const upstream = new Upstream({
  '/big': async (_req, res) => {
    written = 0;
    targetDone = false;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) });
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    for (let i = 0; i < CHUNKS && !closed; i++) {
      written += CHUNK;
      if (!res.write(chunk(i))) {
        await drainedOrClosed(res);
      }
    }
    if (!closed) res.end();
    targetDone = true;
  },
});

/** Rejects after `ms` with `message()`, without keeping the process alive. */
const timeout = (ms: number, message: () => string) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message())), ms).unref());

describe('node: a client that stops reading holds the target back', () => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    await upstream.start();
    proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
  });

  test('GET /http://127.0.0.1:<port>/big (128 MiB), client paused -> the target stalls well short of the body; resumed -> every byte arrives intact', async () => {
    const { hostname, port } = new URL(proxy.url);
    const socket = connect({ host: hostname, port: Number(port) });
    try {
      const digest = createHash('sha256');
      let head = Buffer.alloc(0);
      let headers: string | null = null;
      let received = 0;
      let onHead: () => void = () => {};
      let onBody: () => void = () => {};
      const failed = new Promise<never>((_, reject) => {
        socket.on('error', reject);
        socket.on('close', () => reject(new Error(`connection closed after ${received} body bytes`)));
      });
      failed.catch(() => {});
      const body = (data: Buffer) => {
        received += data.length;
        digest.update(data);
        if (received >= TOTAL) onBody();
      };
      socket.on('data', (data: Buffer) => {
        if (headers !== null) {
          body(data);
          return;
        }
        head = Buffer.concat([head, data]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        headers = head.subarray(0, end).toString('latin1');
        // Stop reading as soon as the headers are in: from here on, nothing is taken off the socket.
        socket.pause();
        body(head.subarray(end + 4));
        onHead();
      });
      const headed = new Promise<void>((resolve) => {
        onHead = resolve;
      });
      const bodied = new Promise<void>((resolve) => {
        onBody = resolve;
      });
      socket.write(
        `GET /${upstream.origin}/big HTTP/1.1\r\nHost: ${hostname}:${port}\r\nOrigin: https://app.test\r\nConnection: close\r\n\r\n`,
      );
      await Promise.race([headed, failed, timeout(5_000, () => 'no response headers within 5 s')]);
      expect(headers).toMatch(/^HTTP\/1\.1 200 /);
      expect(headers).toMatch(new RegExp(`\r\ncontent-length: ${TOTAL}\r\n`, 'i'));
      expect(headers).toMatch(/\r\naccess-control-allow-origin: https:\/\/app\.test\r\n/i);

      // Wait until the target can write no more: no progress for 500 ms (at most 6 s).
      // Were the proxy to read on regardless, it would take all 128 MiB off the target
      // in well under a second on loopback, buffering it in memory.
      const deadline = Date.now() + 6_000;
      let last = -1;
      let still = 0;
      while (Date.now() < deadline && still < 5) {
        await sleep(100);
        still = written === last ? still + 1 : 0;
        last = written;
      }
      expect(still, 'the target never stopped writing while the client was paused').toBe(5);
      // While paused, the body can only sit in the kernel's socket buffers (target's send,
      // proxy's receive, proxy's send, client's receive: a few MiB each on loopback, even
      // with autotuning), undici's chunk in hand and the proxy response's small write
      // buffer: about 8.5 MiB in all on Linux when this test was written. 48 MiB leaves a
      // clear margin above that and far below the 128 MiB the target writes when the
      // proxy ignores backpressure.
      expect(written).toBeLessThan(48 * 1024 * 1024);
      expect(targetDone).toBe(false);
      expect(received).toBeLessThan(written);

      socket.resume();
      await Promise.race([
        bodied,
        failed,
        timeout(15_000, () => `only ${received} of ${TOTAL} body bytes after resuming`),
      ]);
      expect(received).toBe(TOTAL);
      expect(digest.digest('hex')).toBe(expectedDigest());
      expect(targetDone).toBe(true);
    } finally {
      socket.destroy();
    }
  }, 30_000);
});
