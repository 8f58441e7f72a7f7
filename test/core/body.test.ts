import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  type ChunkReader,
  type ChunkSource,
  checkDeclaredLength,
  REPLAY_LIMIT,
  ReplayableBody,
  type RequestBody,
} from '../../src/core/body.ts';
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

/** A client body pushed by the test: `send` answers what the proxy said (false: wait for resume). */
function pushSource(): {
  source: ChunkSource;
  send: (size: number) => boolean;
  end: () => void;
  resumed: () => number;
} {
  let reader: ChunkReader | null = null;
  let resumed = 0;
  return {
    source: {
      read: (r) => {
        reader = r;
      },
      resume: () => {
        resumed++;
      },
      cancel: () => {},
    },
    send: (size) => reader?.data(new Uint8Array(size)) ?? false,
    end: () => reader?.end(),
    resumed: () => resumed,
  };
}

/** Every chunk of a hop's copy, read as pushed; `sizes` sees them as they come. */
function collect(hop: RequestBody, sizes: number[] = []): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  return new Promise((resolve, reject) =>
    hop.read({
      data: (chunk) => {
        chunks.push(chunk);
        sizes.push(chunk.byteLength);
        return true;
      },
      end: () => resolve(chunks),
      error: reject,
    }),
  );
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
    expect(body.endHop()).toBe(true);
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
    expect(body.endHop()).toBe(replayable);
  });

  /**
   * The target answers 307 while its hop still waits for the client's next
   * chunk: that chunk, kept or past the copy, must reach the next hop.
   */
  test.each([
    ['stays within the copy', [REPLAY_LIMIT - 1000, 600, 400, 5000]],
    ['goes past the copy', [REPLAY_LIMIT - 1000, 1001, 5000]],
  ])('a chunk that arrives after the hop ended %s: the next hop gets every byte in order', async (_, sizes) => {
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
    const first = body.hop().stream().getReader();
    expect((await first.read()).value?.byteLength).toBe(sizes[0]);
    // The first hop waits for the client's next chunk when its target answers.
    const stale = first.read();
    expect(body.endHop()).toBe(true);
    expect(await stale).toEqual({ done: true, value: undefined });
    const again = readAll(body.hop().stream());
    open();
    const expected = sizes.flatMap((size, i) => Array(size).fill(i + 1));
    expect(Buffer.from(await again).equals(Buffer.from(expected))).toBe(true);
  });

  test('a chunk past the copy that arrives between hops waits for the next hop, and the client waits with it', async () => {
    const pushed = pushSource();
    const body = new ReplayableBody(pushed.source, 10 * REPLAY_LIMIT);
    const first = collect(body.hop());
    pushed.send(REPLAY_LIMIT);
    expect(body.endHop()).toBe(true);
    await first;
    // Nobody reads now: the chunk is held, and the client told to wait.
    expect(pushed.send(10)).toBe(false);
    const next = collect(body.hop());
    expect(pushed.resumed()).toBe(1);
    pushed.end();
    expect((await next).map((chunk) => chunk.byteLength)).toEqual([REPLAY_LIMIT, 10]);
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

  test('a Node stream source, pushed to the hop, replays on the next hop', async () => {
    const body = new ReplayableBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 1000);
    const first = await collect(body.hop());
    expect(first.map((chunk) => Buffer.from(chunk).toString())).toEqual(['ab', 'cd']);
    expect(body.endHop()).toBe(true);
    expect(Buffer.from(await readAll(body.hop().stream())).toString()).toBe('abcd');
  });

  test('a hop read past maxBytes fails with body_too_large, and gets none of the chunk that went past', async () => {
    const body = new ReplayableBody(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000);
    const got: number[] = [];
    await expect(collect(body.hop(), got)).rejects.toMatchObject({ code: 'body_too_large' });
    expect(got).toEqual([600]);
  });

  test('a reader that resumes before it answers "wait" is not left waiting', async () => {
    const body = new ReplayableBody(source([10, 20, 30]).stream, 1000);
    const hop = body.hop();
    const got: number[] = [];
    await new Promise<void>((resolve) =>
      hop.read({
        data: (chunk) => {
          got.push(chunk.byteLength);
          hop.resume();
          return false;
        },
        end: resolve,
        error: () => {},
      }),
    );
    expect(got).toEqual([10, 20, 30]);
  });

  test('a pushed source is told to wait while the hop waits, and resumed when it reads on', async () => {
    const pushed = pushSource();
    const body = new ReplayableBody(pushed.source, 1000);
    let resume = () => {};
    const got: number[] = [];
    const hop = body.hop();
    hop.read({
      data: (chunk) => {
        got.push(chunk.byteLength);
        resume = () => hop.resume();
        return false;
      },
      end: () => got.push(-1),
      error: () => {},
    });
    expect(pushed.send(100)).toBe(false);
    expect(pushed.resumed()).toBe(0);
    resume();
    expect(pushed.resumed()).toBe(1);
    expect(pushed.send(200)).toBe(false);
    pushed.end();
    expect(got).toEqual([100, 200, -1]);
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
