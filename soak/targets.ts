import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { gzipBody, SMALL_JSON } from '../bench/payloads.ts';
import { streaming, Upstream } from '../test/support/upstream.ts';

/** 2 MiB of random bytes served by /blob, and their SHA-256, known to the checks. */
export const BLOB = randomBytes(2 * 1024 * 1024);
export const BLOB_SHA = sha256(BLOB);
export const GZIP = gzipBody();
export const GZIP_SHA = sha256(GZIP);
export const SSE_EVENTS = 5;

/** How long /stall-body holds the rest of its body: beneath the proxy's header timeout, so it must wait. */
export const STALL_BODY_MS = 1_500;

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Half of BLOB, then the rest after `ms` (or never, when the socket is destroyed instead). */
function halfThen(res: ServerResponse, then: (res: ServerResponse) => void, ms: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BLOB.length });
  res.write(BLOB.subarray(0, BLOB.length / 2));
  const timer = setTimeout(() => then(res), ms);
  res.on('close', () => clearTimeout(timer));
}

/**
 * The soak's target: a real server on 127.0.0.1 with the clean answers
 * (JSON, 2 MiB blob, echo, gzip, SSE, redirect) and the broken ones (reset
 * mid-body, stall before headers, stall mid-body, malformed).
 */
export function soakUpstream(): Upstream {
  return new Upstream({
    '/json': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(SMALL_JSON);
    },
    '/blob': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BLOB.length });
      res.end(BLOB);
    },
    '/echo': streaming((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      req.on('error', () => res.destroy());
    }),
    '/gzip': (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': GZIP.length,
      });
      res.end(GZIP);
    },
    '/sse': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`data: ${sent++}\n\n`);
        if (sent === SSE_EVENTS) {
          clearInterval(timer);
          res.end();
        }
      }, 20);
      res.on('close', () => clearInterval(timer));
    },
    '/redirect': (_req, res) => {
      res.writeHead(302, { location: '/json' });
      res.end();
    },
    '/reset': (_req, res) => halfThen(res, (r) => r.socket?.destroy(), 50),
    '/stall-body': (_req, res) => halfThen(res, (r) => r.end(BLOB.subarray(BLOB.length / 2)), STALL_BODY_MS),
    // Never answers: the proxy's CORSWAY_TIMEOUT_MS must fire (the proxy closes the socket).
    '/stall-headers': () => {},
    '/malformed': (req) => {
      req.socket.end('HTTP/1.1 2OO NOT-A-STATUS\r\nContent-Length: banana\r\n\r\nhello');
    },
  });
}
