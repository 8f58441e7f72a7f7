import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { errorOf, raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { streaming, Upstream } from '../support/upstream.ts';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const FIFTY_MB = 50 * 1024 * 1024;

/** `length` deterministic pseudo-random bytes, produced in 64 KiB chunks. */
function* pattern(length: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let sent = 0, n = 0; sent < length; n++) {
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + n * 7) & 0xff;
    const size = Math.min(chunk.length, length - sent);
    yield Buffer.from(chunk.subarray(0, size));
    sent += size;
  }
}

function hashOf(chunks: Iterable<Buffer>): string {
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  return hash.digest('hex');
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe.each(RUNTIMES)('%s: methods and bodies', (runtime) => {
  const upstream = new Upstream({
    '/bytes': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': ALL_BYTES.length });
      res.end(ALL_BYTES);
    },
    '/hash': streaming(async (req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ size, sha256: hash.digest('hex') }));
    }),
    '/download': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': FIFTY_MB });
      for (const chunk of pattern(FIFTY_MB)) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    },
  });
  let target: string;

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_MAX_BODY_BYTES: String(64 * 1024 * 1024),
    }),
    upstream,
  );
  beforeAll(() => {
    target = `/${upstream.origin}`;
  });

  test.each(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
    '%s /http://127.0.0.1:<port>/echo with a body -> forwarded with method and body',
    async (method) => {
      const res = await raw(proxy.url, `${target}/echo`, {
        method,
        headers: { 'content-type': 'text/plain', origin: 'https://app.test' },
        body: `a ${method} body`,
      });
      expect(res.status).toBe(200);
      const seen = JSON.parse(res.body.toString()) as Echo;
      expect(seen.method).toBe(method);
      expect(Buffer.from(seen.body, 'base64').toString()).toBe(`a ${method} body`);
      expect(seen.headers['content-type']).toBe('text/plain');
      expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
    },
  );

  test('GET /http://127.0.0.1:<port>/echo with a body -> forwarded as GET, the body dropped as Fetch requires', async () => {
    const res = await raw(proxy.url, `${target}/echo?x=1`, { body: 'ignored' });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as Echo;
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/echo?x=1');
    expect(seen.body).toBe('');
  });

  test('HEAD /http://127.0.0.1:<port>/bytes -> forwarded as HEAD, headers without a body', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/bytes`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-length']).toBe('256');
    expect(upstream.hits.slice(before).map((h) => h.method)).toEqual(['HEAD']);
  });

  test('POST /http://127.0.0.1:<port>/echo with all 256 byte values -> the target gets them byte-exact', async () => {
    const res = await raw(proxy.url, `${target}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: ALL_BYTES,
    });
    const seen = JSON.parse(res.body.toString()) as Echo;
    expect(Buffer.from(seen.body, 'base64').equals(ALL_BYTES)).toBe(true);
  });

  test('GET /http://127.0.0.1:<port>/bytes -> all 256 byte values come back byte-exact', async () => {
    const res = await raw(proxy.url, `${target}/bytes`);
    expect(res.body.equals(ALL_BYTES)).toBe(true);
    const viaFetch = Buffer.from(await (await fetch(`${proxy.url}${target}/bytes`)).arrayBuffer());
    expect(viaFetch.equals(ALL_BYTES)).toBe(true);
  });

  // wrangler dev moves about 2 MB/s on a loaded 2-core machine.
  test('PUT /http://127.0.0.1:<port>/hash with a 50 MB streamed upload -> the target gets the same bytes', {
    timeout: 120_000,
  }, async () => {
    const res = await fetch(`${proxy.url}${target}/hash`, {
      method: 'PUT',
      body: Readable.toWeb(Readable.from(pattern(FIFTY_MB))),
      duplex: 'half',
    } as unknown as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ size: FIFTY_MB, sha256: hashOf(pattern(FIFTY_MB)) });
  });

  test('GET /http://127.0.0.1:<port>/download -> a 50 MB body arrives whole', { timeout: 120_000 }, async () => {
    const res = await fetch(`${proxy.url}${target}/download`);
    expect(res.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    expect(size).toBe(FIFTY_MB);
    expect(hash.digest('hex')).toBe(hashOf(pattern(FIFTY_MB)));
  });

  test('TRACE /http://127.0.0.1:<port>/echo -> 405 method_not_allowed', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/echo`, { method: 'TRACE', headers: { origin: 'https://app.test' } });
    expect(res.status).toBe(405);
    expect(errorOf(res).error).toBe('method_not_allowed');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
    expect(upstream.hits.length).toBe(before);
  });

  // Node's HTTP parser answers 400 and workerd 501 to a method they do not know,
  // before the app runs (TRACE, which both know, gets the app's own 405 above).
  test('TRACK /http://127.0.0.1:<port>/echo -> refused, never forwarded', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/echo`, { method: 'TRACK' });
    expect([400, 405, 501]).toContain(res.status);
    expect(upstream.hits.length).toBe(before);
  });

  test('POST / with a body (no target) -> 400, and the next request on the proxy is served', async () => {
    const res = await raw(proxy.url, '/', { method: 'POST', body: Buffer.alloc(200_000, 1) });
    expect(res.status).toBe(400);
    const next = await raw(proxy.url, `${target}/echo`);
    expect(next.status).toBe(200);
  });
});
