/**
 * What the Worker does to the app's response before workerd sends it.
 * `devDrain`: under wrangler dev only (see drain); `cutsResponses`: CORSWAY_MAX_RESPONSE_BYTES is set.
 */
export async function respond(
  request: Request,
  response: Response,
  options: { readonly devDrain: boolean; readonly cutsResponses: boolean },
): Promise<Response> {
  if (options.devDrain && request.body && !request.bodyUsed && !request.body.locked) await drain(request.body);
  // Only a body of unknown length is counted by the app (byteLimit) and can be errored by it;
  // every other body keeps workerd's native pass-through and its Content-Length.
  if (!options.cutsResponses || !response.body || response.headers.has('content-length')) return response;
  return new Response(endOnError(response.body), response);
}

/**
 * Ends the body cleanly where the app errored it past CORSWAY_MAX_RESPONSE_BYTES.
 * workerd ends an errored response stream as if complete anyway (a clean last
 * chunk: cloudflare/workerd#6818, open), but first reports the error
 * as uncaught, and under load wrangler dev then stalled the next requests for
 * over 20 s. The client sees the same bytes either way.
 */
function endOnError(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Up to this much of a request body left unread is drained; a longer one is cancelled. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * wrangler dev only: a refusal leaves the request body unread, and wrangler
 * dev's local proxy then sometimes fails the connection's next request
 * ("restarted mid-request"); reading it to its end avoids that. Plain workerd
 * and a deployed Worker do not need it (test/worker/workerd.test.ts).
 */
async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  try {
    for (let read = 0; read <= DRAIN_LIMIT; ) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {}
}
