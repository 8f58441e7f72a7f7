import type { Answer } from './proxy.ts';
import type { Cancellable } from './upstream.ts';

/** A target's body a Fetch runtime can relay: a web stream, or a body that becomes one (the Node proxy's socket body). */
export type Relayable = ReadableStream<Uint8Array> | (Cancellable & { stream(): ReadableStream<Uint8Array> });

/**
 * The proxy's answer as a WHATWG Response: the Hono app's and the Worker's
 * front door's. `counts`: a log or metrics wait for the bytes sent, so the
 * body is counted even without a bandwidth budget.
 */
export function answerResponse(answer: Answer<Relayable>, counts: boolean): Response {
  if (answer.body === null || typeof answer.body === 'string') {
    answer.sent(answer.body === null ? 0 : new TextEncoder().encode(answer.body).byteLength);
    return new Response(answer.body, { status: answer.status, headers: answer.headers.record() });
  }
  let body = 'getReader' in answer.body ? answer.body : answer.body.stream();
  // A declared length over the limit was refused before sending: only bodies of unknown length are counted.
  if (answer.limit && !answer.headers.has('content-length')) body = body.pipeThrough(byteLimit(answer.limit));
  if (counts || answer.progress) body = counted(body, answer.sent, answer.progress);
  return new Response(body, { status: answer.status, headers: answer.headers.record() });
}

/**
 * The body as it is read by the client, counted; `done` is called once, when
 * it ended, failed or was cancelled (the client went away).
 */
function counted(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number) => void,
  progress: ((bytes: number) => void) | null,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let bytes = 0;
  let ended = false;
  const end = (sent: number) => {
    if (ended) return;
    ended = true;
    done(sent);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= body.getReader();
        try {
          const { done: last, value } = await reader.read();
          if (last) {
            end(bytes);
            controller.close();
            return;
          }
          bytes += value.byteLength;
          progress?.(bytes);
          controller.enqueue(value);
        } catch (error) {
          end(bytes);
          controller.error(error);
        }
      },
      cancel(reason) {
        end(bytes);
        return reader ? reader.cancel(reason) : body.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Errors the body once more than `max` bytes passed, so the client sees the cut. */
function byteLimit(max: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > max) controller.error(new Error('response larger than CORSWAY_MAX_RESPONSE_BYTES'));
      else controller.enqueue(chunk);
    },
  });
}
