import { describe, expect, test } from 'vitest';
import type { ChunkReader } from '../../src/core/body.ts';
import { BytesBody } from '../../src/node/stream-body.ts';

/* A cache hit's stored bytes as the Node listener reads them (src/node/listener.ts relay). */

function recorder(): ChunkReader & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    data(chunk) {
      events.push(`data ${Buffer.from(chunk).toString()}`);
      return true;
    },
    end() {
      events.push('end');
    },
    error(error) {
      events.push(`error ${error.message}`);
    },
  };
}

describe('BytesBody', () => {
  test('is whole at once: the listener ends the response with these very bytes', () => {
    const stored = new TextEncoder().encode('xx{"a":1}xx').subarray(2, 9);
    const whole = new BytesBody(stored).whole();
    expect(whole.toString()).toBe('{"a":1}');
    // A view of the stored bytes, not a copy.
    expect(whole.buffer).toBe(stored.buffer);
  });

  test('read hands the bytes over, then the end; an empty body only the end', () => {
    const reader = recorder();
    new BytesBody(new TextEncoder().encode('hello')).read(reader);
    expect(reader.events).toEqual(['data hello', 'end']);
    const empty = recorder();
    new BytesBody(new Uint8Array()).read(empty);
    expect(empty.events).toEqual(['end']);
  });

  test('as a web stream, for the portable app: the same bytes', async () => {
    const text = await new Response(new BytesBody(new TextEncoder().encode('stored')).stream()).text();
    expect(text).toBe('stored');
  });
});
