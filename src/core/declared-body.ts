import { type ClientBody, type DeclaredCopy, REPLAY_LIMIT, type RequestBody } from './body.ts';

/** The Content-Length of a request, when it is one exact byte count. */
export function declaredLength(header: string | null): number | null {
  return header !== null && /^\d{1,15}$/.test(header) ? Number(header) : null;
}

/**
 * A client's body whose length was declared (and checked against
 * CORSWAY_MAX_BODY_BYTES before anything was read), for a runtime whose
 * upstream sends `declared` natively: no JS touches the bytes, and the target
 * gets the client's Content-Length. The HTTP framing of the client's request
 * guarantees the count, so nothing is counted here. Up to REPLAY_LIMIT the
 * bytes are read once and resent on a 307/308; a longer body is the client's
 * own stream, sent once, and such a redirect is relayed (SPEC).
 */
export class DeclaredBody implements ClientBody {
  readonly error = null;
  onOverflow: ClientBody['onOverflow'] = () => {};
  readonly #source: ReadableStream<Uint8Array>;
  readonly #length: number;
  #bytes: Promise<Uint8Array> | null = null;

  constructor(source: ReadableStream<Uint8Array>, length: number) {
    this.#source = source;
    this.#length = length;
  }

  get replayable(): boolean {
    return this.#length <= REPLAY_LIMIT;
  }

  hop(): RequestBody {
    const declared: DeclaredCopy = {
      length: this.#length,
      native: async () => (this.replayable ? this.#read() : this.#source),
    };
    const stream = (): ReadableStream<Uint8Array> => (this.replayable ? streamOf(this.#read()) : this.#source);
    return {
      declared,
      stream,
      [Symbol.asyncIterator]: () => {
        const reader = stream().getReader();
        return { next: () => reader.read() as Promise<IteratorResult<Uint8Array, undefined>> };
      },
    };
  }

  /** The whole body, read natively once (`Response.arrayBuffer()`). */
  #read(): Promise<Uint8Array> {
    this.#bytes ??= new Response(this.#source).arrayBuffer().then((buffer) => new Uint8Array(buffer));
    return this.#bytes;
  }

  /** Nothing to wait for: a declared length over the limit was refused before any byte was read. */
  async settle(): Promise<void> {}

  discard(): void {
    if (!this.#bytes) this.#source.cancel().catch(() => {});
  }
}

function streamOf(bytes: Promise<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(await bytes);
      controller.close();
    },
  });
}
