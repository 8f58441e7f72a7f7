/** How many bytes each client's copy queues before the target is read more slowly. */
const QUEUE_BYTES = 64 * 1024;
/** How often the timer that keeps a waiting reader's request alive on workerd fires. */
const KEEP_ALIVE_MS = 1000;

/**
 * One target body streamed to every request that waits for it. The target
 * is read at the pace of the slowest reader, so no copy queues more than
 * `QUEUE_BYTES` ahead; the bytes read are kept for the cache (and for
 * readers that join late) until they pass `maxBytes`, and after that only
 * streamed. `onComplete` gets the whole body when it ended within the bound,
 * before the readers see its end (null when it will not be stored).
 *
 * One loop, started where the target was asked, does all the reading:
 * workerd lets only the request that made a fetch read its body, and a
 * reader's pull only wakes the loop.
 */
export class Broadcast {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxBytes: number;
  readonly #onComplete: (body: Uint8Array | null) => Promise<void>;
  readonly #readers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #kept: Uint8Array[] | null = [];
  #keptBytes = 0;
  #state: 'open' | 'ended' | 'failed' = 'open';
  #wake: (() => void) | null = null;
  #arrived: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    source: ReadableStream<Uint8Array>,
    maxBytes: number,
    onComplete: (body: Uint8Array | null) => Promise<void>,
  ) {
    this.#reader = source.getReader();
    this.#maxBytes = maxBytes;
    this.#onComplete = onComplete;
    void this.#run();
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
        pull: () => {
          this.#nudge();
          return this.#arrival();
        },
        cancel: () => {
          this.#readers.delete(self);
          if (this.#readers.size === 0 && this.#state === 'open') this.#stop();
          else this.#nudge();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
    );
  }

  #nudge(): void {
    if (this.#state !== 'open' || this.#allWant()) {
      const wake = this.#wake;
      this.#wake = null;
      wake?.();
    }
  }

  /**
   * Until the next chunk, the end or a failure. A timer runs meanwhile:
   * workerd cancels a request as hung when it waits with nothing of its own
   * pending, and the bytes it waits for come from another request's fetch.
   */
  #arrival(): Promise<void> | undefined {
    if (this.#state !== 'open') return undefined;
    if (!this.#arrived) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      const alive = setInterval(() => {}, KEEP_ALIVE_MS);
      this.#arrived = {
        promise,
        resolve: () => {
          clearInterval(alive);
          resolve();
        },
      };
    }
    return this.#arrived.promise;
  }

  #arrive(): void {
    const arrived = this.#arrived;
    this.#arrived = null;
    arrived?.resolve();
  }

  #allWant(): boolean {
    if (this.#readers.size === 0) return false;
    for (const reader of this.#readers) if ((reader.desiredSize ?? 0) <= 0) return false;
    return true;
  }

  /** Until every reader wants more, or the body was dropped. */
  #demand(): Promise<void> | null {
    if (this.#state !== 'open' || this.#allWant()) return null;
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        await this.#demand();
        if (this.#state !== 'open') return;
        const { done, value } = await this.#reader.read();
        if (done) {
          await this.#end();
          return;
        }
        if (this.#kept) {
          this.#keptBytes += value.byteLength;
          if (this.#keptBytes <= this.#maxBytes) this.#kept.push(value);
          else this.#drop();
        }
        for (const reader of this.#readers) reader.enqueue(value);
        this.#arrive();
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Stops keeping the body: it will not be stored. */
  #drop(): void {
    this.#kept = null;
    this.#onComplete(null).catch(() => {});
  }

  #stop(): void {
    this.#state = 'failed';
    this.#reader.cancel().catch(() => {});
    if (this.#kept) this.#drop();
    this.#nudge();
    this.#arrive();
  }

  async #end(): Promise<void> {
    this.#state = 'ended';
    const kept = this.#kept;
    if (kept) {
      const body = new Uint8Array(this.#keptBytes);
      let at = 0;
      for (const chunk of kept) {
        body.set(chunk, at);
        at += chunk.byteLength;
      }
      this.#kept = [body];
      // Stored before the readers see the end, so a runtime that stops work
      // once the response is sent (workerd) has already stored it.
      await this.#onComplete(body).catch(() => {});
    }
    for (const reader of this.#readers) reader.close();
    this.#readers.clear();
    this.#arrive();
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    for (const reader of this.#readers) reader.error(error);
    this.#readers.clear();
    this.#arrive();
    if (this.#kept) this.#drop();
  }
}
