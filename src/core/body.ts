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

/**
 * What reads a body chunk by chunk: `data` answers false to say "wait for my
 * `resume()`"; nothing more comes until then.
 */
export interface ChunkReader {
  data(chunk: Uint8Array): boolean;
  end(): void;
  error(error: Error): void;
}

/**
 * A body that hands its chunks to one reader as they arrive (Node's client
 * request, read from its `data` events): no promise per chunk, which a pulled
 * source costs at every layer it passes (docs/decisions/upload-iterator.md).
 */
export interface ChunkSource {
  /** Starts the flow to `reader`; called once. */
  read(reader: ChunkReader): void;
  resume(): void;
  /** Stops the body for good; the client is not left sending. */
  cancel(): void;
}

/** How the proxy reads a client's body: a web stream (Fetch runtimes), a Node stream (iterated), or pushed. */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | ChunkSource;

/**
 * One hop's copy of the request body, as an upstream takes it: pushed to a
 * reader (Node writes each chunk as it comes) or as a web stream (for `fetch`).
 */
export interface RequestBody {
  /** Hands the copy to `reader`, once: what was kept at once, then each chunk as the client sends it. */
  read(reader: ChunkReader): void;
  /** Lets chunks flow again after the reader asked to wait. */
  resume(): void;
  /** The upstream no longer reads this copy; the client's body is not ended (a next hop may need it). */
  stop(): void;
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
  /** Ends the current hop's copy (its target has answered) and says whether a new hop can be given every byte. */
  endHop(): boolean;
  /** Reads and drops what the client still sends, once no hop needs it; `settle` waits for it. */
  dropRest(): void;
  /** Waits, at most `ms`, until the rest of the upload was read and dropped. */
  settle(ms: number): Promise<void>;
}

/** Where one hop's copy stands: the chunks it was handed, and who reads it. */
interface Copy {
  readonly generation: number;
  /** How many of the body's chunks this copy has handed on. */
  index: number;
  reader: ChunkReader | null;
}

/**
 * A request body read once from the client and offered to each redirect hop.
 * Bytes are counted as they stream (Content-Length is not trusted) and the
 * first REPLAY_LIMIT bytes are kept, so a 307/308 hop can be sent the same
 * body again while the rest still streams from the client. The client's
 * chunks go straight to the hop that reads them; while no hop does, the
 * client is paused, so at most one chunk past the copy waits for the next
 * hop and none is lost (see hop).
 */
export class ReplayableBody implements ClientBody {
  readonly #source: ChunkSource;
  #started = false;
  readonly #maxBytes: number;
  readonly #drains: boolean;
  /** The first chunks read, while they add up to REPLAY_LIMIT bytes or less. */
  readonly #kept: Uint8Array[] = [];
  /** The latest chunk read when it was not kept and no hop took it yet: only the next hop to read can. */
  #spare: Uint8Array | null = null;
  /** Chunks and bytes read from the client so far. */
  #chunks = 0;
  #read = 0;
  #ended = false;
  /** The client's body failed (it went away mid-body). */
  #failure: Error | null = null;
  /** The copy the client's chunks go to as they come: it has handed on every earlier one. */
  #live: Copy | null = null;
  #generation = 0;
  /** Set once no hop needs the rest: it is read (counted against the limit) and dropped. */
  #dropping = false;
  /** Past the limit with `drains`: how many more bytes are read and dropped before the body is cancelled; -1 for none. */
  #budget = -1;
  #drainEnded: (() => void) | null = null;
  /** Set once the body was too large; the hop's error is replaced by a 413. */
  error: ProxyError | null = null;
  /** Settles once the rest of an oversized or no longer needed upload was read and dropped (dropRest, the drain past the limit). */
  drained: Promise<void> = Promise.resolve();
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
    this.#source = isChunkSource(source) ? source : new Pumped(source);
    this.#maxBytes = maxBytes;
    this.#drains = drains;
  }

  /** Lets the client's chunks flow: the first time, by starting the source. */
  #flow(): void {
    if (this.#started) {
      this.#source.resume();
      return;
    }
    this.#started = true;
    this.#source.read({
      data: (chunk) => this.#data(chunk),
      end: () => this.#end(null),
      error: (error) => this.#end(error),
    });
  }

  /** A chunk from the client; answers whether the client may send on. */
  #data(chunk: Uint8Array): boolean {
    if (this.error) return this.#dropPastLimit(chunk.byteLength);
    this.#read += chunk.byteLength;
    if (this.#read > this.#maxBytes) return this.#overflow();
    if (this.#dropping) return true;
    this.#chunks++;
    const live = this.#live;
    if (this.#read <= REPLAY_LIMIT) this.#kept.push(chunk);
    else if (!live) this.#spare = chunk;
    if (!live?.reader) return false;
    live.index++;
    return live.reader.data(chunk);
  }

  #end(error: Error | null): void {
    this.#ended = true;
    this.#failure = error;
    this.#drainEnded?.();
    const reader = this.#live?.reader;
    this.#live = null;
    if (!reader) return;
    if (error) reader.error(error);
    else reader.end();
  }

  #overflow(): boolean {
    const error = tooLarge(this.#maxBytes);
    this.error = error;
    const reader = this.#live?.reader;
    this.#live = null;
    // With `drains`, up to as much again is read and dropped, then the body is cancelled:
    // a client still sending can then read its 413 instead of a reset.
    if (this.#drains) {
      this.#budget = this.#maxBytes;
      this.#waitForDrain();
    } else this.#source.cancel();
    this.onOverflow(error);
    reader?.error(error);
    return this.#drains;
  }

  /** A chunk past the limit: dropped while the drain's budget lasts; then the body is cancelled. */
  #dropPastLimit(bytes: number): boolean {
    if (this.#budget < 0) return false;
    this.#budget -= bytes;
    if (this.#budget >= 0) return true;
    this.#source.cancel();
    this.#drainEnded?.();
    return false;
  }

  /** Makes `drained` wait until the body ended or the drain's budget ran out. */
  #waitForDrain(): void {
    if (this.#drainEnded) return;
    let ended!: () => void;
    this.drained = new Promise<void>((resolve) => {
      ended = resolve;
    });
    this.#drainEnded = ended;
    if (this.#ended) ended();
  }

  /**
   * Ends the current hop's copy (its target has answered) and says whether a
   * new hop can be given every byte: a chunk that arrives after this, kept or
   * not, goes to the next hop.
   */
  endHop(): boolean {
    this.#detach();
    return this.error === null && this.#read <= REPLAY_LIMIT;
  }

  /** Earlier copies get nothing more: the one taking chunks as they come is ended. */
  #detach(): void {
    this.#generation++;
    const reader = this.#live?.reader;
    this.#live = null;
    reader?.end();
  }

  /**
   * A fresh copy of the whole body for the next hop; earlier copies stop.
   * @throws when a byte is no longer there (a hop after endHop said false).
   */
  hop(): RequestBody {
    if (this.#kept.length + (this.#spare ? 1 : 0) !== this.#chunks) {
      throw new Error('ReplayableBody: the whole body is no longer there for another hop');
    }
    this.#detach();
    const copy: Copy = { generation: this.#generation, index: 0, reader: null };
    // One literal, not spread from another: Node 20 copies a spread object in its runtime (docs/decisions/upload-iterator.md).
    const body: RequestBody = {
      read: (reader) => {
        copy.reader = reader;
        this.#catchUp(copy);
      },
      resume: () => {
        if (this.#live === copy) this.#flow();
        else if (copy.reader) this.#catchUp(copy);
      },
      stop: () => {
        copy.reader = null;
        if (this.#live === copy) this.#live = null;
      },
      stream: () => copyStream(body),
    };
    return body;
  }

  /** Hands `copy` what it has not had yet, until it asks to wait or has had all; then it takes chunks as they come. */
  #catchUp(copy: Copy): void {
    let reader = copy.reader;
    while (reader && copy.generation === this.#generation) {
      let chunk = this.#kept[copy.index];
      if (!chunk && copy.index < this.#chunks) {
        // Past the copy, only the chunk read while no hop did is left.
        chunk = this.#spare ?? undefined;
        this.#spare = null;
        if (!chunk || copy.index !== this.#chunks - 1) {
          reader.error(new Error('ReplayableBody: a chunk was lost'));
          return;
        }
      }
      if (!chunk) break;
      copy.index++;
      if (!reader.data(chunk)) return;
      reader = copy.reader;
    }
    if (!reader) return;
    if (copy.generation !== this.#generation) reader.end();
    else if (this.error || this.#failure) reader.error((this.error ?? this.#failure) as Error);
    else if (this.#ended) reader.end();
    else {
      this.#live = copy;
      this.#flow();
    }
  }

  /**
   * Reads and drops the rest of the body (within the limit), for a 307/308
   * relayed to the client while it still sends, or a 301/302/303 that turned
   * the request into a GET; `settle` waits for it.
   */
  dropRest(): void {
    this.#detach();
    if (!this.#drains) {
      this.#source.cancel();
      return;
    }
    // Past the limit the drain is (or was) under way, and `drained` waits for it.
    if (this.#dropping || this.error) return;
    this.#dropping = true;
    this.#waitForDrain();
    if (!this.#ended) this.#flow();
  }

  /** Waits until the rest was dropped, for at most `ms`, so a slow sender cannot hold the answer back for long. */
  async settle(ms: number): Promise<void> {
    if (!this.#drains) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    if (timer) clearTimeout(timer);
  }
}

/**
 * A hop's copy as a web stream. An error past the limit is not passed on:
 * the hop is already aborted (onOverflow), and erroring its body as well makes
 * workerd log it as an uncaught exception, while ending it would send a
 * truncated body as complete. So the abort cancels it. Cancelling it does not
 * end the client's body: the next hop may still need it.
 */
function copyStream(copy: Reading): ReadableStream<Uint8Array> {
  let started = false;
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (started) return copy.resume();
      started = true;
      copy.read({
        data: (chunk) => {
          controller.enqueue(chunk);
          return (controller.desiredSize ?? 0) > 0;
        },
        end: () => controller.close(),
        error: (error) => {
          if (!(error instanceof ProxyError)) controller.error(error);
        },
      });
    },
    cancel: () => copy.stop(),
  });
}

/** How a hop's copy is read, whichever way it is taken. */
type Reading = Pick<RequestBody, 'read' | 'resume' | 'stop'>;

function isChunkSource(source: BodySource): source is ChunkSource {
  return 'read' in source && 'cancel' in source && !('getReader' in source);
}

/** A pulled source (a web stream, a Node stream) read into a ChunkReader: one read at a time, while the reader wants more. */
export class Pumped implements ChunkSource {
  readonly #source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
  #next: (() => Promise<IteratorResult<Uint8Array, unknown>>) | null = null;
  #stop: (() => Promise<unknown>) | null = null;
  #reader: ChunkReader | null = null;
  #waiting = false;
  #pumping = false;
  #done = false;

  constructor(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>) {
    this.#source = source;
  }

  read(reader: ChunkReader): void {
    this.#open();
    this.#reader = reader;
    void this.#pump();
  }

  /** Takes the source's reader (locking a web stream). */
  #open(): void {
    const source = this.#source;
    if ('getReader' in source) {
      const chunks = source.getReader();
      this.#next = () => chunks.read() as Promise<IteratorResult<Uint8Array>>;
      this.#stop = () => chunks.cancel();
    } else {
      const chunks = source[Symbol.asyncIterator]();
      this.#next = () => chunks.next();
      this.#stop = async () => chunks.return?.();
    }
  }

  resume(): void {
    this.#waiting = false;
    void this.#pump();
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    if (!this.#stop) this.#open();
    this.#stop?.().catch(() => {});
  }

  async #pump(): Promise<void> {
    const next = this.#next;
    const reader = this.#reader;
    if (this.#pumping || !next || !reader) return;
    this.#pumping = true;
    try {
      while (!this.#waiting && !this.#done) {
        const { done, value } = await next();
        if (this.#done) return;
        if (done) {
          this.#done = true;
          return reader.end();
        }
        // Set first: a reader may call resume() before it answers.
        this.#waiting = true;
        if (reader.data(value)) this.#waiting = false;
      }
    } catch (error) {
      if (this.#done) return;
      this.#done = true;
      reader.error(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#pumping = false;
    }
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
