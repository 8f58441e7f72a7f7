import { declaredLength } from '../core/declared-body.ts';

/**
 * wrangler dev only (WRANGLER_DEV=1 from .dev.vars). Its local proxy hangs a
 * later request, for good, once the Worker has cancelled a request body before
 * its end (akin to cloudflare/workers-sdk#15709), and the app cancels uploads it
 * refuses or no longer needs. So the app gets a body whose cancel is not
 * passed on: the rest of the client's body is read and dropped instead, and
 * `settled` waits for that before the answer goes out. A deployed Worker, and
 * plain workerd, take the cancel as it is (test/worker/workerd.test.ts).
 */
export function devRequest(request: Request): { request: Request; settled: () => Promise<void> } {
  if (!request.body) return { request, settled: async () => {} };
  const reader = request.body.getReader();
  // The app never reads the body of a GET or HEAD (and a Request cannot be given one).
  if (request.method === 'GET' || request.method === 'HEAD') {
    return { request: new Request(request, { body: null }), settled: () => dropAll(reader) };
  }
  let rest: Promise<void> | null = null;
  const dropRest = (): Promise<void> => {
    rest ??= dropAll(reader);
    return rest;
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: dropRest,
      // A declared length still reaches the target as Content-Length, as when deployed.
      expectedLength: declaredLength(request.headers.get('content-length')) ?? undefined,
    },
    { highWaterMark: 0 },
  );
  const wrapped = new Request(request, { body });
  return {
    request: wrapped,
    // A body the app never touched is dropped too; one it still reads is its own.
    settled: () => (wrapped.body && !wrapped.body.locked ? wrapped.body.cancel() : (rest ?? Promise.resolve())),
  };
}

async function dropAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (;;) if ((await reader.read()).done) return;
  } catch {}
}
