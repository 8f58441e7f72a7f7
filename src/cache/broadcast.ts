/** How many bytes each client's copy queues before the target is read more slowly. */
const QUEUE_BYTES = 64 * 1024;

/**
 * One target body streamed to every request that waits for it. The target
 * is read at the pace of the slowest reader, so no copy queues more than
 * `QUEUE_BYTES` ahead; the bytes read are kept for the cache (and for
 * readers that join late) until they pass `maxBytes`, and after that only
 * streamed. `onComplete` gets the whole body when it ended within the bound,
 * before the readers see its end.
 */
export class Broadcast {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxBytes: number;
  readonly #onComplete: (body: Uint8Array | null) => Promise<void>;
  readonly #readers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #kept: Uint8Array[] | null = [];
  #keptBytes = 0;
  #state: 'open' | 'ended' | 'failed' = 'open';
  #reading = false;

  constructor(
    source: ReadableStream<Uint8Array>,
    maxBytes: number,
    onComplete: (body: Uint8Array | null) => Promise<void>,
  ) {
    this.#reader = source.getReader();
    this.#maxBytes = maxBytes;
    this.#onComplete = onComplete;
  }

  /** Whether a new reader can still get the body from its first byte. */
  get joinable(): boolean {
    return this.#kept !== null && this.#state !== 'failed';
  }

  /** A copy of the body from its first byte, or null once that is no longer kept. */
  subscribe(): ReadableStream<Uint8Array> | null {
    if (!this.joinable) return null;
    let self: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          self = controller;
          for (const chunk of this.#kept ?? []) controller.enqueue(chunk);
          if (this.#state === 'ended') controller.close();
          else this.#readers.add(controller);
        },
        pull: () => this.#pump(),
        cancel: () => {
          this.#readers.delete(self);
          if (this.#readers.size === 0 && this.#state === 'open') this.#stop();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
    );
  }

  #stop(): void {
    this.#state = 'failed';
    this.#kept = null;
    this.#reader.cancel().catch(() => {});
    this.#onComplete(null).catch(() => {});
  }

  #allWant(): boolean {
    if (this.#readers.size === 0) return false;
    for (const reader of this.#readers) if ((reader.desiredSize ?? 0) <= 0) return false;
    return true;
  }

  async #pump(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (this.#state === 'open' && this.#allWant()) {
        const { done, value } = await this.#reader.read();
        if (done) {
          await this.#end();
          return;
        }
        if (this.#kept) {
          this.#keptBytes += value.byteLength;
          if (this.#keptBytes <= this.#maxBytes) this.#kept.push(value);
          else this.#kept = null;
        }
        for (const reader of this.#readers) reader.enqueue(value);
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#reading = false;
    }
  }

  async #end(): Promise<void> {
    this.#state = 'ended';
    const kept = this.#kept;
    let body: Uint8Array | null = null;
    if (kept) {
      body = new Uint8Array(this.#keptBytes);
      let at = 0;
      for (const chunk of kept) {
        body.set(chunk, at);
        at += chunk.byteLength;
      }
      this.#kept = [body];
    }
    // Stored before the readers see the end, so a runtime that stops work
    // once the response is sent (workerd) has already stored it.
    await this.#onComplete(body).catch(() => {});
    for (const reader of this.#readers) reader.close();
    this.#readers.clear();
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#kept = null;
    for (const reader of this.#readers) reader.error(error);
    this.#readers.clear();
    this.#onComplete(null).catch(() => {});
  }
}
