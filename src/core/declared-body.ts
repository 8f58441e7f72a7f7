import { type BodySource, type ClientBody, Pumped, REPLAY_LIMIT, ReplayableBody, type RequestBody } from './body.ts';
import type { ProxyError } from './errors.ts';

/** The Content-Length of a request, when it is one exact byte count. */
export function declaredLength(header: string | null): number | null {
  return header !== null && /^\d{1,15}$/.test(header) ? Number(header) : null;
}

/**
 * A client's body whose length was declared (and checked against
 * CORSWAY_MAX_BODY_BYTES before anything was read), for a runtime whose
 * upstream sends `RequestBody.declared` with that length, so the target gets
 * the client's Content-Length instead of a chunked upload. Up to REPLAY_LIMIT the body is a ReplayableBody whose
 * hops carry the length; past it, the client's own stream is sent once
 * without JS touching it (the HTTP framing of the client's request guarantees
 * the count), and a 307/308 is relayed as for any body past the copy (SPEC).
 */
export function declaredBody(source: ReadableStream<Uint8Array>, length: number, maxBytes: number): ClientBody {
  return length <= REPLAY_LIMIT ? new KeptWithLength(source, length, maxBytes) : new SentOnce(source, length);
}

/*
 * Not a native tee for the copy: workerd reads a teed stream at the pace of
 * its slower branch, so once a target answered a 307 mid-upload and stopped
 * reading, the copy never completed (test/security/replay.test.ts).
 */
class KeptWithLength extends ReplayableBody {
  readonly #length: number;

  constructor(source: BodySource, length: number, maxBytes: number) {
    super(source, maxBytes);
    this.#length = length;
  }

  override hop(): RequestBody {
    const copy = super.hop();
    return Object.assign(copy, { declared: { length: this.#length, source: null } });
  }
}

class SentOnce implements ClientBody {
  readonly error: ProxyError | null = null;
  onOverflow: ClientBody['onOverflow'] = () => {};
  readonly #source: ReadableStream<Uint8Array>;
  readonly #length: number;

  constructor(source: ReadableStream<Uint8Array>, length: number) {
    this.#source = source;
    this.#length = length;
  }

  /** The client's stream as the hop's copy: pushed to a reader, or handed over whole as `stream()`. */
  hop(): RequestBody {
    const stream = this.#source;
    const pumped = new Pumped(stream);
    return {
      read: (reader) => pumped.read(reader),
      resume: () => pumped.resume(),
      stop: () => {},
      stream: () => stream,
      declared: { length: this.#length, source: stream },
    };
  }

  /** Past REPLAY_LIMIT nothing is kept: a 307/308 goes to the client. */
  endHop(): boolean {
    return false;
  }

  /** The stream went to the target's fetch, which reads it; nothing is left here to drop. */
  dropRest(): void {}

  /** Nothing to wait for: a declared length over the limit was refused before any byte was read. */
  async settle(): Promise<void> {}
}
