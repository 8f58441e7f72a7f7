import { beforeAll, describe, expect, test } from 'vitest';
import { errorOf, raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const MIB = 1024 * 1024;

describe.each(RUNTIMES)('%s: redirects', (runtime) => {
  const upstream = new Upstream({
    // /status/<code>?to=<location>
    '/status/': (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(Number(url.pathname.split('/')[2]), { location: url.searchParams.get('to') ?? '/echo' });
      res.end('redirecting');
    },
    // /chain/<n> redirects to /chain/<n-1>, and /chain/0 to /echo, with relative Locations.
    '/chain/': (req, res) => {
      const n = Number((req.url ?? '').split('/')[2]);
      res.writeHead(302, { location: n > 0 ? `${n - 1}` : '../echo' });
      res.end();
    },
    // Answers 307 after the whole upload, so the proxy has read more than it keeps.
    '/big-307': (_req, res) => {
      res.writeHead(307, { location: '/echo?moved=1' });
      res.end();
    },
  });
  let target: string;

  const proxy = suiteProxy(
    freshProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_MAX_REDIRECTS: '5' }),
    upstream,
  );
  beforeAll(() => {
    target = `/${upstream.origin}`;
  });

  test.each([301, 302, 303])(
    'POST /http://127.0.0.1:<port>/status/%i -> followed as GET without body or body headers',
    async (status) => {
      const res = await raw(proxy.url, `${target}/status/${status}?to=/echo%3Fafter%3D${status}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'content-language': 'en' },
        body: 'payload',
      });
      expect(res.status).toBe(200);
      const seen = JSON.parse(res.body.toString()) as Echo;
      expect(seen.method).toBe('GET');
      expect(seen.url).toBe(`/echo?after=${status}`);
      expect(seen.body).toBe('');
      expect(seen.headers['content-type']).toBeUndefined();
      expect(seen.headers['content-length']).toBeUndefined();
      expect(seen.headers['content-language']).toBeUndefined();
      expect(res.headers['x-request-url']).toBe(`${upstream.origin}/status/${status}?to=/echo%3Fafter%3D${status}`);
      expect(res.headers['x-final-url']).toBe(`${upstream.origin}/echo?after=${status}`);
    },
  );

  test.each([307, 308])(
    'POST /http://127.0.0.1:<port>/status/%i -> followed with method, body and content type',
    async (status) => {
      const res = await raw(proxy.url, `${target}/status/${status}?to=/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from([0, 1, 2, 255]),
      });
      expect(res.status).toBe(200);
      const seen = JSON.parse(res.body.toString()) as Echo;
      expect(seen.method).toBe('POST');
      expect(Buffer.from(seen.body, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
      expect(seen.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['x-final-url']).toBe(`${upstream.origin}/echo`);
    },
  );

  test('PUT /http://127.0.0.1:<port>/status/301 -> still PUT with its body (only POST becomes GET)', async () => {
    const res = await raw(proxy.url, `${target}/status/301?to=/echo`, { method: 'PUT', body: 'kept' });
    const seen = JSON.parse(res.body.toString()) as Echo;
    // Fetch standard 4.4 step 11: only 301/302 POST and 303 non-GET/HEAD change method.
    expect(seen.method).toBe('PUT');
    expect(Buffer.from(seen.body, 'base64').toString()).toBe('kept');
  });

  test('GET /http://127.0.0.1:<port>/status/302?to=http://127.0.0.1:<port>/echo (absolute Location) -> followed', async () => {
    const res = await raw(proxy.url, `${target}/status/302?to=${encodeURIComponent(`${upstream.origin}/echo?abs=1`)}`);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body.toString()) as Echo).url).toBe('/echo?abs=1');
  });

  test('GET /http://127.0.0.1:<port>/chain/4 (five relative hops) -> 200 with X-Final-URL', async () => {
    const res = await raw(proxy.url, `${target}/chain/4`);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body.toString()) as Echo).url).toBe('/echo');
    expect(res.headers['x-final-url']).toBe(`${upstream.origin}/echo`);
    expect(res.headers['x-request-url']).toBe(`${upstream.origin}/chain/4`);
  });

  test('GET /http://127.0.0.1:<port>/chain/5 (six hops, over CORSWAY_MAX_REDIRECTS=5) -> 502 upstream_failed', async () => {
    const res = await raw(proxy.url, `${target}/chain/5`, { headers: { origin: 'https://app.test' } });
    expect(res.status).toBe(502);
    expect(errorOf(res).error).toBe('upstream_failed');
    expect(errorOf(res).message).toMatch(/redirect/);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
  });

  test('GET /http://127.0.0.1:<port>/status/300 (not followed) -> relayed, its Location through the proxy', async () => {
    const res = await raw(proxy.url, `${target}/status/300?to=/elsewhere`);
    expect(res.status).toBe(300);
    expect(res.headers.location).toBe(`${proxy.url}/${upstream.origin}/elsewhere`);
  });

  test('GET /http://127.0.0.1:<port>/status/302?to=ftp://127.0.0.1/ -> 403, the hop is checked like the first URL', async () => {
    const res = await raw(proxy.url, `${target}/status/302?to=${encodeURIComponent('ftp://127.0.0.1/')}`);
    expect(res.status).toBe(403);
    expect(errorOf(res).error).toBe('target_not_allowed');
  });

  test('POST /http://127.0.0.1:<port>/big-307 with a 2 MiB body -> the 307 is relayed, its Location through the proxy', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/big-307`, { method: 'POST', body: Buffer.alloc(2 * MIB, 7) });
    expect(res.status, res.body.toString()).toBe(307);
    expect(res.headers.location).toBe(`${proxy.url}/${upstream.origin}/echo?moved=1`);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(upstream.hits.slice(before).map((h) => h.url)).toEqual(['/big-307']);
  });

  test('POST /http://127.0.0.1:<port>/status/307 with a 512 KiB body -> replayed whole to the next hop', async () => {
    const body = Buffer.alloc(512 * 1024, 9);
    const res = await raw(proxy.url, `${target}/status/307?to=/echo`, { method: 'POST', body });
    expect(res.status, res.body.toString()).toBe(200);
    expect(Buffer.from((JSON.parse(res.body.toString()) as Echo).body, 'base64').equals(body)).toBe(true);
  });
});
