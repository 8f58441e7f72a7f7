import type { IncomingMessage } from 'node:http';

/**
 * A client's request body, one chunk per read, for the proxy core
 * (ReplayableBody). The request flows and is paused only while a chunk waits
 * for its reader. Readable's own async iterator reads in paused mode, where
 * each `read()` joins everything buffered into a new Buffer: a copy of most
 * of every upload (docs/decisions/upload-iterator.md).
 */
export function incomingBody(req: IncomingMessage): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => new IncomingChunks(req) };
}

class IncomingChunks implements AsyncIterator<Uint8Array, undefined> {
  readonly #req: IncomingMessage;
  readonly #queue: Buffer[] = [];
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(req: IncomingMessage) {
    this.#req = req;
    req.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      if (this.#wake) this.#woken();
      else if (!this.#paused) {
        this.#paused = true;
        req.pause();
      }
    });
    req.on('end', () => {
      this.#ended = true;
      this.#woken();
    });
    req.on('error', (error: Error) => {
      this.#error ??= error;
      this.#woken();
    });
    // A client that goes away mid-body: as Readable's iterator reports it.
    req.on('close', () => {
      if (this.#ended) return;
      this.#error ??= Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      this.#woken();
    });
  }

  #woken(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        if (this.#paused && this.#queue.length === 0) {
          this.#paused = false;
          this.#req.resume();
        }
        return { done: false, value: chunk };
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stopping early destroys the request, as Readable's iterator does. */
  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#req.destroy();
    return { done: true, value: undefined };
  }
}
