import { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Http2Bindings, HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { uncount } from './app.ts';
import { isPreflight } from './cors.ts';
import { nodeSource } from './node-upstream.ts';

type Fetch = (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;

/**
 * Wraps the app's fetch so that a target's body the app passed on untouched
 * is piped from undici's socket stream straight into the client's, instead of
 * through a web stream read chunk by chunk (promises, copies, a separate write
 * for the headers). Every other response is left to @hono/node-server.
 */
export function relayBodies(fetch: Fetch): Fetch {
  return async (request, env) => {
    const response = await fetch(request, env);
    // The app answers preflights itself; their headers are left unread, as a
    // plain record that @hono/node-server writes out directly.
    if (isPreflight(request.method, request.headers)) return response;
    // Only relayed target responses carry X-Final-URL (app.ts); others are not
    // looked into, since reading `body` builds a full Response.
    const headers = response.headers;
    if (!headers.has('x-final-url') || !(env.outgoing instanceof ServerResponse)) return response;
    const body = response.body;
    // With access logs or metrics on, the app hands out a counting wrapper;
    // piping the body inside, this counts the bytes instead.
    const counted = body ? uncount(body) : undefined;
    const source = body && nodeSource(counted?.body ?? body);
    if (!source) return response;
    send(response.status, headers, source, env.outgoing, counted?.end);
    return RESPONSE_ALREADY_SENT;
  };
}

function send(
  status: number,
  headers: Headers,
  source: Readable,
  out: ServerResponse,
  sent?: (bytes: number) => void,
): void {
  const head: string[] = [];
  headers.forEach((value, name) => {
    head.push(name, value);
  });
  out.writeHead(status, head);
  // The headers leave with the first body bytes when those are already here
  // (one write), else at once, so that the client of an event stream sees
  // them before the first event.
  if (source.readableLength === 0) out.flushHeaders();
  // An upstream failure mid-body destroys the client's response, so the client
  // sees the cut; a client that goes away ends the upstream request. (Not
  // stream.pipeline, which costs an AbortController per response.)
  let bytes = 0;
  source.once('error', (error) => out.destroy(error));
  out.once('close', () => {
    if (!source.readableEnded) source.destroy();
    sent?.(bytes);
  });
  // A second 'data' listener sees the same chunks; pipe's backpressure still holds.
  if (sent) source.on('data', (chunk: Buffer) => (bytes += chunk.length));
  source.pipe(out);
}
