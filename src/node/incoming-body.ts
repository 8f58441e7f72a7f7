import type { IncomingMessage } from 'node:http';
import type { ChunkReader, ChunkSource } from '../core/body.ts';

/**
 * A client's request body for the proxy core (ReplayableBody), pushed from
 * its `data` events: the request flows, each chunk goes on as it arrives, and
 * the request is paused while the reader asks to wait. Readable's own async
 * iterator read in paused mode, where each `read()` joins everything buffered
 * into a new Buffer, and cost a promise per chunk at each layer
 * (docs/decisions/upload-iterator.md).
 */
export function incomingBody(req: IncomingMessage): ChunkSource {
  return new IncomingChunks(req);
}

class IncomingChunks implements ChunkSource {
  readonly #req: IncomingMessage;
  #reader: ChunkReader | null = null;
  /** Chunks that came after the reader asked to wait (a paused request may still hand over what it had). */
  readonly #queue: Buffer[] = [];
  #waiting = false;
  #ended = false;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  read(reader: ChunkReader): void {
    this.#reader = reader;
    const req = this.#req;
    req.on('data', (chunk: Buffer) => {
      if (this.#waiting || this.#queue.length > 0) this.#queue.push(chunk);
      else this.#hand(chunk);
    });
    req.on('end', () => {
      this.#ended = true;
      if (this.#queue.length === 0) this.#finish(null);
    });
    req.on('error', (error: Error) => this.#finish(error));
    // A client that goes away mid-body: as Readable's iterator reports it.
    req.on('close', () => {
      if (!this.#ended) {
        this.#finish(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      }
    });
  }

  /** Hands a chunk on; pauses the request when the reader asks to wait. Says whether it may go on. */
  #hand(chunk: Buffer): boolean {
    // Set first: a reader may call resume() before it answers.
    this.#waiting = true;
    if (this.#reader?.data(chunk)) this.#waiting = false;
    else if (this.#waiting) this.#req.pause();
    return !this.#waiting;
  }

  #finish(error: Error | null): void {
    const reader = this.#reader;
    this.#reader = null;
    if (!reader) return;
    if (error) reader.error(error);
    else reader.end();
  }

  resume(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    const queue = this.#queue;
    while (queue.length > 0) {
      if (!this.#hand(queue.shift() as Buffer)) return;
    }
    if (this.#ended) this.#finish(null);
    else this.#req.resume();
  }

  /** Destroys the request, as Readable's iterator does when its reader stops: the client is not left sending. */
  cancel(): void {
    this.#reader = null;
    this.#req.destroy();
  }
}
