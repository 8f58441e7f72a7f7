import { describe, expect, test } from 'vitest';
import { Broadcast } from '../../src/cache/broadcast.ts';

const CHUNK = 16 * 1024;

/** A source of `count` chunks that records how many were pulled, and whether it was cancelled. */
function source(count: number) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (state.pulled === count) {
          controller.close();
          return;
        }
        controller.enqueue(new Uint8Array(CHUNK).fill(state.pulled++ % 256));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('Broadcast: one target body for every waiting request', () => {
  test('a body within the bound reaches every reader, a late one included, and is handed over whole', async () => {
    const { stream } = source(4);
    let stored: Uint8Array | null = null;
    const broadcast = new Broadcast(stream, 1024 * 1024, async (body) => {
      stored = body;
    });
    const first = broadcast.subscribe();
    const early = readAll(first as ReadableStream<Uint8Array>);
    await settle();
    const late = broadcast.subscribe();
    expect(late).not.toBeNull();
    expect(await Promise.all([early, readAll(late as ReadableStream<Uint8Array>)])).toEqual([4 * CHUNK, 4 * CHUNK]);
    expect((stored as Uint8Array | null)?.byteLength).toBe(4 * CHUNK);
  });

  test('the source is read at the slowest reader’s pace: at most 64 KiB queued ahead of it', async () => {
    const { stream, state } = source(64);
    const broadcast = new Broadcast(stream, 16 * CHUNK, async () => {});
    const fast = broadcast.subscribe() as ReadableStream<Uint8Array>;
    const slow = (broadcast.subscribe() as ReadableStream<Uint8Array>).getReader();
    const fastDone = readAll(fast);
    await settle();
    // The slow reader has read nothing: the fast one cannot pull the target further.
    expect(state.pulled * CHUNK).toBeLessThanOrEqual(64 * 1024 + CHUNK);
    let slowBytes = 0;
    for (;;) {
      const { done, value } = await slow.read();
      if (done) break;
      slowBytes += value.byteLength;
    }
    expect([await fastDone, slowBytes]).toEqual([64 * CHUNK, 64 * CHUNK]);
  });

  test('a body past the bound still streams whole, is not stored, and takes no late reader', async () => {
    const { stream } = source(8);
    const handed: (Uint8Array | null)[] = [];
    const broadcast = new Broadcast(stream, 2 * CHUNK, async (body) => {
      handed.push(body);
    });
    const reader = readAll(broadcast.subscribe() as ReadableStream<Uint8Array>);
    await settle();
    expect(broadcast.subscribe()).toBeNull();
    expect(await reader).toBe(8 * CHUNK);
    expect(handed).toEqual([null]);
  });

  test('when every reader goes away, the target body is cancelled', async () => {
    const { stream, state } = source(1000);
    const broadcast = new Broadcast(stream, 1024 * 1024, async () => {});
    const a = broadcast.subscribe() as ReadableStream<Uint8Array>;
    const b = broadcast.subscribe() as ReadableStream<Uint8Array>;
    await a.cancel();
    await settle();
    expect(state.cancelled).toBe(false);
    await b.cancel();
    await settle();
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(1000);
  });
});
