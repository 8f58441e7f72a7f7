import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { Abort } from '../../src/core/abort.ts';
import { checkDeclaredLength, REPLAY_LIMIT, ReplayableBody } from '../../src/core/body.ts';
import { ProxyError } from '../../src/core/errors.ts';
import { waitUntil } from '../support/wait.ts';

/** A client body of `sizes` chunks; `pulled` counts the bytes the proxy read. */
function source(sizes: number[]): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
  cancelled: () => boolean;
} {
  let index = 0;
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const size = sizes[index++];
      if (size === undefined) return controller.close();
      pulled += size;
      controller.enqueue(new Uint8Array(size).fill(index));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function readBytes(stream: ReadableStream<Uint8Array>, count: number): Promise<void> {
  const reader = stream.getReader();
  for (let read = 0; read < count; ) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
  }
  reader.releaseLock();
}

describe('ReplayableBody', () => {
  test.each([
    [[10], 10],
    [[1000, 1000, 1], 2001],
    [[REPLAY_LIMIT, 10], REPLAY_LIMIT + 10],
  ])('chunks %j stream whole: %i bytes', async (sizes, total) => {
    const body = new ReplayableBody(source(sizes).stream, 10 * REPLAY_LIMIT);
    expect((await readAll(body.hop().stream())).byteLength).toBe(total);
  });

  test('a second hop after a partial first read gets the whole body again', async () => {
    const body = new ReplayableBody(source([100, 200, 300]).stream, 1_000_000);
    await readBytes(body.hop().stream(), 100);
    expect(await body.endHop(new Abort())).toBe(true);
    const again = await readAll(body.hop().stream());
    expect(again.byteLength).toBe(600);
    expect([again[0], again[100], again[300]]).toEqual([1, 2, 3]);
  });

  test.each([
    [[REPLAY_LIMIT], true],
    [[REPLAY_LIMIT, 1], false],
  ])('after reading chunks %j, endHop says replayable: %s', async (sizes, replayable) => {
    const body = new ReplayableBody(source(sizes).stream, 10 * REPLAY_LIMIT);
    await readAll(body.hop().stream());
    expect(await body.endHop(new Abort())).toBe(replayable);
  });

  /**
   * The target answers 307 while its hop still has a read pending: that read's
   * chunk must reach the next hop, or the redirect must be relayed.
   */
  test.each([
    ['stays within the copy', [REPLAY_LIMIT - 1000, 600, 400, 5000], true],
    ['goes past the copy', [REPLAY_LIMIT - 1000, 1001, 5000], false],
  ])(
    'a read pending when the hop ends %s -> endHop %s, and a next hop gets every byte in order',
    async (_, sizes, replayable) => {
      let open = () => {};
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let index = 0;
      const client = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const size = sizes[index++];
            if (size === undefined) return controller.close();
            // The second chunk arrives only after the target has answered.
            if (index === 2) await gate;
            controller.enqueue(new Uint8Array(size).fill(index));
          },
        },
        { highWaterMark: 0 },
      );
      const body = new ReplayableBody(client, 10 * REPLAY_LIMIT);
      const first = body.hop()[Symbol.asyncIterator]();
      expect((await first.next()).value?.byteLength).toBe(sizes[0]);
      // The first hop's next read is under way when its target answers.
      const stale = first.next();
      const ended = body.endHop(new Abort());
      open();
      expect(await ended).toBe(replayable);
      expect((await stale).done).toBe(true);
      if (!replayable) {
        expect(() => body.hop()).toThrow();
        return;
      }
      const again = await readAll(body.hop().stream());
      const expected = sizes.flatMap((size, i) => Array(size).fill(i + 1));
      expect(again.byteLength).toBe(expected.length);
      expect(Buffer.from(again).equals(Buffer.from(expected))).toBe(true);
    },
  );

  test('endHop gives up waiting for a client that stalls once the request is aborted', async () => {
    const client = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          controller.enqueue(new Uint8Array(10));
        },
      },
      { highWaterMark: 0 },
    );
    const body = new ReplayableBody(client, 1000);
    const first = body.hop()[Symbol.asyncIterator]();
    await first.next();
    void first.next();
    const abort = new Abort();
    const ended = body.endHop(abort);
    abort.abort(new Error('timed out'));
    await expect(ended).rejects.toThrow('timed out');
  });

  test('past maxBytes: onOverflow is told body_too_large; the hop stream neither errors nor ends, its abort cancels it', async () => {
    const body = new ReplayableBody(source([600, 600]).stream, 1000);
    const overflows: unknown[] = [];
    body.onOverflow = (error) => overflows.push(error);
    const reader = body.hop().stream().getReader();
    expect((await reader.read()).value?.byteLength).toBe(600);
    const next = reader.read();
    await new Promise((r) => setTimeout(r, 20));
    expect(overflows).toMatchObject([{ code: 'body_too_large', status: 413 }]);
    expect(body.error).toBe(overflows[0]);
    const settled = await Promise.race([next.then(() => 'settled'), new Promise((r) => setTimeout(r, 20, 'pending'))]);
    expect(settled).toBe('pending');
    await reader.cancel();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  test('exactly maxBytes passes', async () => {
    const body = new ReplayableBody(source([500, 500]).stream, 1000);
    const overflows: unknown[] = [];
    body.onOverflow = (error) => overflows.push(error);
    expect((await readAll(body.hop().stream())).byteLength).toBe(1000);
    expect(overflows).toEqual([]);
  });

  test('a Node stream source, read by iterating the hop, replays on the next hop', async () => {
    const body = new ReplayableBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 1000);
    const first: string[] = [];
    for await (const chunk of body.hop()) first.push(Buffer.from(chunk).toString());
    expect(first).toEqual(['ab', 'cd']);
    expect(Buffer.from(await readAll(body.hop().stream())).toString()).toBe('abcd');
  });

  test('iterating a hop past maxBytes throws body_too_large', async () => {
    const body = new ReplayableBody(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000);
    const read = async () => {
      for await (const _ of body.hop());
    };
    await expect(read()).rejects.toMatchObject({ code: 'body_too_large' });
  });

  test.each([
    // 1,000 bytes read and dropped past the 1,200 that overflowed (and the one chunk the stream queues itself).
    [true, 600 + 600 + 3 * 400, 600 + 600 + 4 * 400],
    // Nothing read past the 1,200 that overflowed, but the one chunk the stream queues itself.
    [false, 600 + 600, 600 + 600 + 400],
  ])('drains %s: an oversized upload is read %i to %i bytes, then cancelled', async (drains, least, most) => {
    const client = source([600, 600, 400, 400, 400, 400, 400]);
    const body = new ReplayableBody(client.stream, 1000, drains);
    const reader = body.hop().stream().getReader();
    // The second read goes past the limit.
    void reader.read().then(() => reader.read());
    await waitUntil(() => body.error !== null, 2_000, 5);
    await body.settle(1_000);
    expect(body.error).toMatchObject({ code: 'body_too_large' });
    expect(client.cancelled()).toBe(true);
    expect(client.pulled()).toBeGreaterThanOrEqual(least);
    expect(client.pulled()).toBeLessThanOrEqual(most);
  });

  test('dropRest(): with drains the rest is read to its end; without, the body is cancelled', async () => {
    for (const drains of [true, false]) {
      const client = source([100, 100, 100, 100]);
      const body = new ReplayableBody(client.stream, 1000, drains);
      await readBytes(body.hop().stream(), 100);
      body.dropRest();
      await body.settle(1_000);
      await new Promise((r) => setTimeout(r, 0));
      expect({ drains, pulled: client.pulled(), cancelled: client.cancelled() }).toEqual(
        drains ? { drains, pulled: 400, cancelled: false } : { drains, pulled: expect.any(Number), cancelled: true },
      );
    }
  });

  test('dropRest() with drains, past the limit, drops up to the limit again, then cancels', async () => {
    const client = source(Array.from({ length: 40 }, () => 100));
    const body = new ReplayableBody(client.stream, 1000, true);
    let overflowed = false;
    body.onOverflow = () => {
      overflowed = true;
    };
    body.dropRest();
    await body.settle(1_000);
    expect(body.error).toMatchObject({ code: 'body_too_large' });
    expect(overflowed).toBe(true);
    expect(client.cancelled()).toBe(true);
    // The limit, as much again, and the chunks the stream pulls ahead: not all 4,000 bytes.
    expect(client.pulled()).toBeLessThanOrEqual(2_400);
  });
});

describe('checkDeclaredLength(headers, maxBytes)', () => {
  test.each<[string | null, boolean]>([
    [null, false],
    ['0', false],
    ['1000', false],
    ['1001', true],
  ])('Content-Length: %s with a 1000-byte limit -> refused %s', (length, refused) => {
    const headers = new Headers(length === null ? {} : { 'content-length': length });
    const run = () => checkDeclaredLength(headers, 1000);
    if (refused) expect(run).toThrow(ProxyError);
    else expect(run).not.toThrow();
  });
});
