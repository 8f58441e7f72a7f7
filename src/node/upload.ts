import { Readable } from 'node:stream';
import type { RequestBody } from '../core/body.ts';

/**
 * A hop's copy of the client's body as the Readable undici sends: undici
 * writes a stream's chunks from its `data` events and pauses it when the
 * socket is full, where an async iterable cost a promise per chunk in undici
 * and one more in each layer beneath (docs/decisions/upload-iterator.md).
 * Destroying it (undici does, once the request is written or failed) stops the
 * copy, not the client's body: a next hop may still need it.
 */
export class Upload extends Readable {
  readonly #body: RequestBody;
  #started = false;

  constructor(body: RequestBody) {
    super();
    this.#body = body;
  }

  override _read(): void {
    if (this.#started) {
      this.#body.resume();
      return;
    }
    this.#started = true;
    this.#body.read({
      data: (chunk) => this.push(chunk),
      end: () => this.push(null),
      error: (error) => this.destroy(error),
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#body.stop();
    done(error);
  }
}
