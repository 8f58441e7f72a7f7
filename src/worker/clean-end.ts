/**
 * What the Worker does to the app's response before workerd sends it, when
 * CORSWAY_MAX_RESPONSE_BYTES is set.
 */
export function withCleanEnd(response: Response): Response {
  // Only a body of unknown length is counted by the app (byteLimit) and can be errored by it;
  // every other body keeps workerd's native pass-through and its Content-Length.
  if (!response.body || response.headers.has('content-length')) return response;
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
