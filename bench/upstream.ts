import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CACHEABLE_JSON, gzipBody, MEDIUM_BYTES, SMALL_JSON } from './payloads.ts';

/*
 * The benchmark's target: a keep-alive node:http server that answers from
 * memory, so what is measured is the proxy in front of it. Run as its own
 * process (run.ts starts it) so it does not share an event loop with anyone.
 * Prints `listening <port>` once ready.
 */

const small = Buffer.from(SMALL_JSON);
const cacheable = Buffer.from(CACHEABLE_JSON);
const medium = Buffer.alloc(MEDIUM_BYTES, 'a');
const gzipped = gzipBody();
const CHUNK = Buffer.alloc(64 * 1024, 'b');

function stream(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let left = total;
  const write = (): void => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', write);
        return;
      }
    }
    res.end();
  };
  write();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const [path, query = ''] = (req.url ?? '/').split('?');
  if (req.method === 'OPTIONS') {
    // The direct baseline for scenario 5: what a CORS-aware target answers.
    res.writeHead(204, {
      'access-control-allow-origin': req.headers.origin ?? '*',
      'access-control-allow-methods': req.headers['access-control-request-method'] ?? 'GET',
      'access-control-max-age': '86400',
      vary: 'Origin',
    });
    res.end();
    return;
  }
  switch (path) {
    case '/small':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': small.length });
      res.end(small);
      return;
    case '/cacheable':
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': cacheable.length,
        'cache-control': 'public, max-age=3600',
      });
      res.end(cacheable);
      return;
    case '/medium':
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': medium.length });
      res.end(medium);
      return;
    case '/gzip':
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': gzipped.length,
        vary: 'Accept-Encoding',
      });
      res.end(gzipped);
      return;
    case '/echo':
      res.writeHead(200, {
        'content-type': req.headers['content-type'] ?? 'application/octet-stream',
        ...(req.headers['content-length'] ? { 'content-length': req.headers['content-length'] } : {}),
      });
      req.pipe(res);
      return;
    case '/sink':
      // Reads an upload and answers with its size: an upload measured without a download.
      {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        req.on('end', () => {
          const json = JSON.stringify({ bytes });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
          res.end(json);
        });
      }
      return;
    case '/stream':
      stream(res, Number(new URLSearchParams(query).get('bytes') ?? 0));
      return;
    default:
      res.writeHead(404, { 'content-length': 0 });
      res.end();
  }
}

const server = createServer(handle);
// Longer than any proxy's idle pool timeout, so pooled connections are never cut mid-reuse.
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => process.exit(0));
