import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';
import { raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { sharedProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

const ORIGINAL = Buffer.from(
  Array.from({ length: 4000 }, (_, i) => `line ${i}: ${'payload '.repeat(i % 7)}\n`).join(''),
  'utf8',
);
const ENCODED: Record<string, Buffer> = {
  gzip: gzipSync(ORIGINAL),
  br: brotliCompressSync(ORIGINAL),
  deflate: deflateSync(ORIGINAL),
};
const DECODE: Record<string, (b: Buffer) => Buffer> = {
  gzip: gunzipSync,
  br: brotliDecompressSync,
  deflate: inflateSync,
};

/** Routes `/<encoding>` (with Content-Length) and `/<encoding>-chunked` (without). */
const routes = Object.fromEntries(
  Object.entries(ENCODED).flatMap(([encoding, bytes]) => [
    [
      `/${encoding}`,
      (_req: unknown, res: import('node:http').ServerResponse) => {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-encoding': encoding,
          'content-length': bytes.length,
        });
        res.end(bytes);
      },
    ],
    [
      `/${encoding}-chunked`,
      (_req: unknown, res: import('node:http').ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': encoding });
        res.write(bytes.subarray(0, 100));
        res.end(bytes.subarray(100));
      },
    ],
  ]),
);

const CASES = Object.keys(ENCODED).flatMap((e) => [e, `${e}-chunked`]);
const ACCEPT = ['gzip, deflate, br', 'identity'];

describe.each(RUNTIMES)('%s: compressed responses', (runtime) => {
  const upstream = new Upstream(routes);
  let target: string;

  const proxy = suiteProxy(sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }), upstream);
  beforeAll(() => {
    target = `/${upstream.origin}`;
  });

  test.each(CASES)('GET /http://127.0.0.1:<port>/%s -> fetch() decodes the original bytes', async (path) => {
    const res = await fetch(`${proxy.url}${target}/${path}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(ORIGINAL)).toBe(true);
  });

  describe.each(ACCEPT)('Accept-Encoding: %s', (accept) => {
    test.each(CASES)(
      'GET /http://127.0.0.1:<port>/%s -> Content-Encoding, Content-Length and the bytes agree',
      async (path) => {
        const res = await raw(proxy.url, `${target}/${path}`, { headers: { 'accept-encoding': accept } });
        expect(res.status).toBe(200);
        const encoding = res.headers['content-encoding'];
        const length = res.headers['content-length'];
        if (length !== undefined) expect(Number(length)).toBe(res.body.length);
        const decode = encoding ? DECODE[encoding] : (b: Buffer) => b;
        expect(decode, `unknown content-encoding ${encoding}`).toBeDefined();
        expect(decode?.(res.body).equals(ORIGINAL)).toBe(true);
        if (runtime === 'node') {
          // Node passes compressed bytes through untouched (less CPU, fewer bytes).
          const name = path.replace(/-chunked$/, '');
          expect(encoding).toBe(name);
          expect(res.body.equals(ENCODED[name] as Buffer)).toBe(true);
        }
      },
    );
  });

  test('HEAD /http://127.0.0.1:<port>/gzip -> headers only, no body', async () => {
    const res = await raw(proxy.url, `${target}/gzip`, {
      method: 'HEAD',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-encoding']).toBe('gzip');
  });
});
