import type { Abort } from './abort.ts';
import { ProxyError } from './errors.ts';
import type { HeaderMap } from './fields.ts';

/** How much of a request body is kept to replay it on a 307/308 redirect (SPEC). */
export const REPLAY_LIMIT = 1024 * 1024;

function tooLarge(max: number): ProxyError {
  return new ProxyError(
    'body_too_large',
    `The request body is larger than this proxy forwards (${max} bytes, CORSWAY_MAX_BODY_BYTES).`,
  );
}

/** How the proxy reads a client's body: a web stream (Fetch runtimes) or a Node stream (its async iterator). */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** One read at a time, and a way to stop: what both kinds of source offer. */
interface Reader {
  read(): Promise<IteratorResult<Uint8Array, unknown>>;
  cancel(): Promise<unknown>;
}

function readerOf(source: BodySource): Reader {
  if ('getReader' in source) {
    const reader = source.getReader();
    return { read: () => reader.read() as Promise<IteratorResult<Uint8Array>>, cancel: () => reader.cancel() };
  }
  const chunks = source[Symbol.asyncIterator]();
  return { read: () => chunks.next(), cancel: async () => chunks.return?.() };
}

/**
 * One hop's copy of the request body, as an upstream takes it: iterated (a
 * Node client writes chunks as they come) or as a web stream (for `fetch`).
 */
export interface RequestBody extends AsyncIterable<Uint8Array> {
  stream(): ReadableStream<Uint8Array>;
  /** Set when the client declared the body's length: a runtime that can send it natively takes it from here. */
  readonly declared?: DeclaredCopy;
}

/** A body of known length, as a runtime sends it with its Content-Length. */
export interface DeclaredCopy {
  readonly length: number;
  /**
   * The client's own stream, whose length the runtime knows, sent once (past
   * REPLAY_LIMIT); null when the hop's `stream()` is the kept copy, which the
   * runtime must frame with `length` itself.
   */
  readonly source: ReadableStream<Uint8Array> | null;
}

/** What forward() needs of a client's body across redirect hops (ReplayableBody, DeclaredBody). */
export interface ClientBody {
  /** Set once the body was too large; the hop's error is replaced by a 413. */
  readonly error: ProxyError | null;
  /** Called once the body is too large, to abort the hop. */
  onOverflow: (error: ProxyError) => void;
  hop(): RequestBody;
  /** Ends the current hop's copy and says whether a new hop can be given every byte. */
  endHop(abort: Abort): Promise<boolean>;
  /** Reads and drops what the client still sends, once no hop needs it; `settle` waits for it. */
  dropRest(): void;
  /** Waits, at most `ms`, until the rest of the upload was read and dropped. */
  settle(ms: number): Promise<void>;
}

/**
 * A request body read once from the client and offered to each redirect hop.
 * Bytes are counted as they stream (Content-Length is not trusted) and the
 * first REPLAY_LIMIT bytes are kept, so a 307/308 hop can be sent the same
 * body again while the rest still streams from the client. Reads from the
 * client are shared, one at a time: a chunk read for a hop the target has
 * already answered is never lost to the next one (see endHop).
 */
export class ReplayableBody implements ClientBody {
  readonly #source: BodySource;
  /** Taken on the first read, so a request refused before any hop leaves its body unlocked. */
  #lockedReader: Reader | null = null;
  readonly #maxBytes: number;
  readonly #drains: boolean;
  /** The first chunks read, while they add up to REPLAY_LIMIT bytes or less. */
  readonly #kept: Uint8Array[] = [];
  /** The latest chunk read when it was not kept: only the current hop can still take it. */
  #spare: Uint8Array | null = null;
  /** Chunks and bytes read from the client so far. */
  #chunks = 0;
  #read = 0;
  #ended = false;
  /** The read from the client under way, if any; every hop waiting for the next chunk waits on it. */
  #pending: Promise<void> | null = null;
  #generation = 0;
  /** Set once the body was too large; the hop's error is replaced by a 413. */
  error: ProxyError | null = null;
  /** Settles once the rest of an oversized or no longer needed upload was read and dropped (#drain, dropRest). */
  drained: Promise<void> = Promise.resolve();
  /** The drain of an oversized upload (#drain), which a dropRest under way hands over to. */
  #draining: Promise<void> = Promise.resolve();
  /**
   * Called once the body is too large. The hop must be aborted, not merely
   * its body errored: workerd ends an upload whose stream errors as if it
   * were complete, and the target would take the truncated body.
   */
  onOverflow: (error: ProxyError) => void = () => {};

  /**
   * @param drains read the rest of an upload the proxy answers early (a 413,
   * a relayed 307/308) and let `settle` wait for it, as node:http needs (see
   * ProxyCapabilities.drainUploads); otherwise it is cancelled at once. @default false
   */
  constructor(source: BodySource, maxBytes: number, drains = false) {
    this.#source = source;
    this.#maxBytes = maxBytes;
    this.#drains = drains;
  }

  get #reader(): Reader {
    this.#lockedReader ??= readerOf(this.#source);
    return this.#lockedReader;
  }

  /** Reads the next chunk from the client into #kept or #spare; one read at a time. */
  #pull(): Promise<void> {
    this.#pending ??= this.#reader.read().then(
      ({ done, value }) => {
        this.#pending = null;
        if (done) {
          this.#ended = true;
          return;
        }
        this.#read += value.byteLength;
        if (this.#read > this.#maxBytes) {
          this.error = tooLarge(this.#maxBytes);
          if (this.#drains) this.#drain();
          else this.#reader.cancel().catch(() => {});
          this.onOverflow(this.error);
          throw this.error;
        }
        this.#chunks++;
        if (this.#read <= REPLAY_LIMIT) this.#kept.push(value);
        else this.#spare = value;
      },
      (error: unknown) => {
        this.#pending = null;
        throw error;
      },
    );
    return this.#pending;
  }

  /**
   * Ends the current hop's copy (its target has answered) and says whether a
   * new hop can be given every byte. A read under way for the old hop is
   * waited for first: its chunk may be the one that goes past the copy.
   * @throws the reason of `abort` when it fires first (the client left, the target took too long).
   */
  async endHop(abort: Abort): Promise<boolean> {
    this.#generation++;
    const pending = this.#pending;
    if (pending) {
      await new Promise<void>((resolve, reject) => {
        pending.then(resolve, resolve);
        abort.onAbort(reject);
      });
    }
    return this.error === null && this.#read <= REPLAY_LIMIT;
  }

  /**
   * A fresh copy of the whole body for the next hop; earlier copies stop.
   * @throws when a byte is no longer there (a hop after endHop said false).
   */
  hop(): RequestBody {
    if (this.#pending !== null || this.#kept.length !== this.#chunks) {
      throw new Error('ReplayableBody: the whole body is no longer there for another hop');
    }
    const generation = ++this.#generation;
    let index = 0;
    // The next chunk of this hop's copy, or null at its end (or once a newer hop began).
    const next = async (): Promise<Uint8Array | null> => {
      for (;;) {
        if (generation !== this.#generation) return null;
        const kept = this.#kept[index];
        if (kept) {
          index++;
          return kept;
        }
        if (index < this.#chunks) {
          // Past the copy, only the chunk just read for this hop is left.
          const spare = this.#spare;
          this.#spare = null;
          if (!spare || index !== this.#chunks - 1) throw new Error('ReplayableBody: a chunk was lost');
          index++;
          return spare;
        }
        if (this.#ended) return null;
        await this.#pull();
      }
    };
    return {
      // A plain iterator, not an async generator: docs/decisions/upload-iterator.md.
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Uint8Array, undefined>> => {
          const chunk = await next();
          return chunk ? { done: false, value: chunk } : { done: true, value: undefined };
        },
      }),
      stream: () =>
        new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            let chunk: Uint8Array | null;
            try {
              chunk = await next();
            } catch (error) {
              // Past the limit the hop is already aborted (onOverflow). Erroring its body
              // as well makes workerd log the error as an uncaught exception; ending it
              // would send a truncated body as complete. So the abort cancels it.
              if (error === this.error) return new Promise<void>(() => {});
              throw error;
            }
            if (chunk) controller.enqueue(chunk);
            else controller.close();
          },
          // A hop that ends early (an answer before the whole upload) must not end
          // the client's body: the next hop may still need it.
          cancel: () => {},
        }),
    };
  }

  /**
   * Reads and drops the rest of the body (within the limit), for a 307/308
   * relayed to the client while it still sends, or a 301/302/303 that turned
   * the request into a GET; `settle` waits for it.
   */
  dropRest(): void {
    this.#generation++;
    if (!this.#drains) {
      (this.#lockedReader ?? readerOf(this.#source)).cancel().catch(() => {});
      return;
    }
    this.drained = (async () => {
      try {
        while (!this.#ended && this.error === null) await this.#pull();
      } catch {}
      // Past the limit #drain took over; the rest is dropped once it is done.
      await this.#draining;
    })();
  }

  /**
   * Reads and drops the rest of an oversized upload, up to as much again as
   * the limit, then cancels it: a client still sending can then read its 413
   * instead of a reset.
   */
  #drain(): void {
    const reader = this.#reader;
    const budget = this.#maxBytes;
    this.drained = this.#draining = (async () => {
      for (let dropped = 0; dropped <= budget; ) {
        const { done, value } = await reader.read();
        if (done) return;
        dropped += value.byteLength;
      }
      await reader.cancel();
    })().catch(() => {});
  }

  /** Waits until the rest was dropped, for at most `ms`, so a slow sender cannot hold the answer back for long. */
  async settle(ms: number): Promise<void> {
    if (!this.#drains) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    if (timer) clearTimeout(timer);
  }
}

/** Refuses a declared Content-Length over the limit before reading anything. */
export function checkDeclaredLength(headers: HeaderMap, maxBytes: number): void {
  const declared = headers.get('content-length');
  if (declared && Number(declared) > maxBytes) throw tooLarge(maxBytes);
}

/** Bytes in memory as a web stream of one chunk (none for no bytes). */
export function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}
