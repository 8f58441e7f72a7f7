import type { Bodies } from '../cache/layer.ts';
import { bytesStream, type ChunkReader, Pumped } from '../core/body.ts';
import type { SocketBody } from './upstream.ts';

/** What the Node listener reads of a body: a target's socket body, a StreamBody or a BytesBody. */
export type NodeBody = Pick<SocketBody, 'read' | 'whole' | 'resume' | 'cancel' | 'stream'>;

/**
 * A web stream read the way the listener reads a target's socket body: the
 * cache's answers (stored bytes, or a body shared by waiting requests) on
 * Node's fast path.
 */
export class StreamBody implements NodeBody {
  readonly #stream: ReadableStream<Uint8Array>;
  readonly #pumped: Pumped;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#stream = stream;
    this.#pumped = new Pumped(stream);
  }

  read(reader: ChunkReader): void {
    this.#pumped.read(reader);
  }

  /** A stream's body is never known whole before it is read. */
  whole(): null {
    return null;
  }

  resume(): void {
    this.#pumped.resume();
  }

  async cancel(): Promise<void> {
    this.#pumped.cancel();
  }

  stream(): ReadableStream<Uint8Array> {
    return this.#stream;
  }
}

/**
 * A cache hit's stored bytes, whole: the listener ends the response with
 * them in one write, as it does a small target body that arrived whole.
 * Through a StreamBody, a hit cost a web stream and a second write (the
 * head flushed before the first chunk came), and was slower than asking
 * the target (docs/decisions/cache.md).
 */
export class BytesBody implements NodeBody {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  read(reader: ChunkReader): void {
    if (this.#bytes.length > 0) reader.data(this.#bytes);
    reader.end();
  }

  whole(): Buffer {
    return this.#bytes;
  }

  resume(): void {}

  async cancel(): Promise<void> {}

  stream(): ReadableStream<Uint8Array> {
    return bytesStream(this.#bytes);
  }
}

/** The cache's view of Node bodies. */
export const NODE_BODIES: Bodies<NodeBody> = {
  toStream: (body) => body.stream(),
  fromStream: (stream) => new StreamBody(stream),
  fromBytes: (bytes) => new BytesBody(bytes),
};
