import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { beforeAll, describe, expect, test } from 'vitest';
import { errorOf, type RawResponse, raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

const MIB = 1024 * 1024;
const LIMIT = 100_000;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A chunked upload (no Content-Length) of `body` in three writes. */
function chunked(base: string, path: string, body: Buffer): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'POST', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    const third = Math.ceil(body.length / 3);
    req.write(body.subarray(0, third));
    req.write(body.subarray(third, 2 * third));
    req.end(body.subarray(2 * third));
  });
}

/*
 * Lengths survive the proxy: a declared upload reaches the target with the
 * client's Content-Length (servers such as S3 presigned PUTs refuse chunked
 * uploads), and a download of known length keeps its Content-Length even
 * with CORSWAY_MAX_RESPONSE_BYTES set (it was checked before sending).
 */
describe.each(RUNTIMES)('%s: Content-Length of uploads and downloads', (runtime) => {
  const payload = Buffer.alloc(LIMIT / 2, 9);
  const upstream = new Upstream({
    '/known': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': payload.length });
      res.end(payload);
    },
    // /status/<code>?to=<location>
    '/status/': (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(Number(url.pathname.split('/')[2]), { location: url.searchParams.get('to') ?? '/echo' });
      res.end();
    },
    '/put': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('stored');
    },
    '/unknown': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(payload.subarray(0, 1000));
      res.end(payload.subarray(1000));
    },
  });
  let target: string;

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_MAX_BODY_BYTES: String(4 * MIB),
      CORSWAY_MAX_RESPONSE_BYTES: String(LIMIT),
    }),
    upstream,
  );
  beforeAll(() => {
    target = `/${upstream.origin}`;
  });

  /** The target's record of the newest request. */
  const lastHit = () => upstream.hits.at(-1);

  test.each([
    ['an 11-byte', Buffer.from('hello world')],
    ['a 512 KiB (kept for a 307/308 replay)', Buffer.alloc(512 * 1024, 3)],
    ['a 3 MiB (past the replay copy)', Buffer.alloc(3 * MIB, 4)],
  ])(
    'PUT /http://127.0.0.1:<port>/put with %s body and Content-Length -> the target gets that Content-Length, not chunked',
    async (_, body) => {
      const res = await raw(proxy.url, `${target}/put`, { method: 'PUT', body });
      expect(res.status, res.body.toString().slice(0, 200)).toBe(200);
      const hit = lastHit();
      expect(hit?.headers['content-length']).toBe(String(body.length));
      expect(hit?.headers['transfer-encoding']).toBeUndefined();
      expect(sha256(hit?.body ?? Buffer.alloc(0))).toBe(sha256(body));
    },
  );

  test('POST /http://127.0.0.1:<port>/status/307?to=/put with a 200 KiB body and Content-Length -> both hops get the whole body with its length', async () => {
    const body = Buffer.alloc(200 * 1024, 6);
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/status/307?to=/put`, { method: 'POST', body });
    expect(res.status).toBe(200);
    const hops = upstream.hits.slice(before);
    expect(hops.map((h) => h.url)).toEqual(['/status/307?to=/put', '/put']);
    for (const hop of hops) {
      expect(hop.headers['content-length']).toBe(String(body.length));
      expect(sha256(hop.body)).toBe(sha256(body));
    }
  });

  test('POST /http://127.0.0.1:<port>/put chunked, no Content-Length -> the whole body reaches the target', async () => {
    const body = Buffer.alloc(300_000, 8);
    const res = await chunked(proxy.url, `${target}/put`, body);
    expect(res.status).toBe(200);
    expect(sha256(lastHit()?.body ?? Buffer.alloc(0))).toBe(sha256(body));
  });

  test(`GET /http://127.0.0.1:<port>/known (Content-Length ${LIMIT / 2}, under CORSWAY_MAX_RESPONSE_BYTES) -> 200 with that Content-Length`, async () => {
    const res = await raw(proxy.url, `${target}/known`);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(payload.length));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.body.equals(payload)).toBe(true);
  });

  test(`GET /http://127.0.0.1:<port>/unknown (chunked, ${LIMIT / 2} bytes, under CORSWAY_MAX_RESPONSE_BYTES) -> 200 with the whole body`, async () => {
    const res = await raw(proxy.url, `${target}/unknown`);
    expect(res.status).toBe(200);
    expect(res.body.equals(payload)).toBe(true);
  });

  test('GET /http://127.0.0.1:<port>/echo with Upgrade: websocket -> 405 method_not_allowed, the target never asked', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/echo`, {
      headers: {
        origin: 'https://app.test',
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    expect(res.status).toBe(405);
    expect(errorOf(res).error).toBe('method_not_allowed');
    expect(errorOf(res).message).toMatch(/WebSocket/);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
    expect(upstream.hits.length).toBe(before);
  });
});
