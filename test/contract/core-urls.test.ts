import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import { errorOf, raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { sharedProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

/** A TCP listener on loopback that records the first bytes of each connection and answers nothing. */
class Trap {
  readonly firstBytes: Buffer[] = [];
  readonly server: Server = createServer((socket) => {
    socket.once('data', (data: Buffer) => {
      this.firstBytes.push(data);
      socket.destroy();
    });
    socket.on('error', () => {});
  });
  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    this.server.close();
  }
}

describe.each(RUNTIMES)('%s: target URL forms', (runtime) => {
  const upstream = new Upstream();
  const trap = new Trap();
  let host: string;

  const proxy = suiteProxy(sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }), upstream, trap);
  beforeAll(() => {
    host = `127.0.0.1:${upstream.port}`;
  });

  /** Sends `path` to the proxy and returns the upstream's echo of what it received. */
  async function echo(path: string): Promise<{ url: string; requestUrl: string | undefined }> {
    const res = await raw(proxy.url, path);
    expect(res.status, res.body.toString()).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { url: string };
    return { url: seen.url, requestUrl: res.headers['x-request-url'] as string | undefined };
  }

  test('GET /http://127.0.0.1:<port>/path?a=1 -> the target gets /path?a=1', async () => {
    const seen = await echo(`/http://${host}/path?a=1`);
    expect(seen.url).toBe('/path?a=1');
    expect(seen.requestUrl).toBe(`http://${host}/path?a=1`);
  });

  test('GET /http:/127.0.0.1:<port>/x (collapsed slashes) -> the target gets /x', async () => {
    expect((await echo(`/http:/${host}/x`)).url).toBe('/x');
  });

  test('GET /HTTP://127.0.0.1:<port>/x (upper-case scheme) -> the target gets /x', async () => {
    expect((await echo(`/HTTP://${host}/x`)).url).toBe('/x');
  });

  test('GET /http%3A%2F%2F127.0.0.1%3A<port>%2Fx%3Fa%3D1 (percent-encoded) -> the target gets /x?a=1', async () => {
    expect((await echo(`/${encodeURIComponent(`http://${host}/x?a=1`)}`)).url).toBe('/x?a=1');
  });

  test('GET /?url=<encoded target with its own query> -> the target gets its path and query', async () => {
    expect((await echo(`/?url=${encodeURIComponent(`http://${host}/x?a=1&b=2`)}`)).url).toBe('/x?a=1&b=2');
  });

  test('GET /http://127.0.0.1:<port>/q?<repeated, encoded, empty, plus> -> query reaches the target byte for byte', async () => {
    const query = '?b=2&a=1&a=%2F%3F%26&c=x+y&d=&e=%E2%9C%93&f&g=a%20b&=h&i=%25';
    expect((await echo(`/http://${host}/q${query}`)).url).toBe(`/q${query}`);
  });

  test('GET /http://127.0.0.1:<port>/a%2Fb/%7Ec/ -> encoded path reaches the target unchanged', async () => {
    expect((await echo(`/http://${host}/a%2Fb/%7Ec/`)).url).toBe('/a%2Fb/%7Ec/');
  });

  test('GET /http://127.0.0.1:<port> (no path) -> the target gets /', async () => {
    expect((await echo(`/http://${host}`)).url).toBe('/');
  });

  test('GET /127.0.0.1:<trap port>/x (no scheme) -> https: the target sees a TLS handshake', async () => {
    const before = trap.firstBytes.length;
    const res = await raw(proxy.url, `/127.0.0.1:${trap.port}/x`);
    expect(res.status).toBe(502);
    expect(errorOf(res).error).toBe('upstream_failed');
    // 0x16 is a TLS handshake record (RFC 8446 5.1): the proxy spoke https.
    expect(trap.firstBytes.slice(before).map((b) => b[0])).toContain(0x16);
  });

  test('GET //127.0.0.1:<trap port>/http://127.0.0.1:<port>/x -> the leading // names a target, never another proxy host', async () => {
    const hits = upstream.hits.length;
    const res = await raw(proxy.url, `//127.0.0.1:${trap.port}/http://${host}/x`);
    expect(res.status).toBe(502);
    expect(upstream.hits.length).toBe(hits);
  });

  const invalid: Array<[string, (h: string) => string, string?]> = [
    ['POST / (no target)', () => '/', 'POST'],
    ['GET /?url= (empty url parameter)', () => '/?url='],
    ['GET /http:// (no host)', () => '/http://'],
    ['GET /http://[::1/ (unparsable)', () => '/http://[::1/'],
    ['GET /ftp://127.0.0.1/', () => '/ftp://127.0.0.1/'],
    ['GET /javascript:alert(1)', () => '/javascript:alert(1)'],
    ['GET /file:///etc/passwd', () => '/file:///etc/passwd'],
    ['GET /data:text/plain,hi', () => '/data:text/plain,hi'],
    ['GET /http://user:pass@127.0.0.1:<port>/ (userinfo)', (h) => `/http://user:pass@${h}/`],
    ['GET /http://user@127.0.0.1:<port>/ (user only)', (h) => `/http://user@${h}/`],
    ['GET /http://127.0.0.1:0/ (port 0)', () => '/http://127.0.0.1:0/'],
    ['GET /http://127.0.0.1:65536/', () => '/http://127.0.0.1:65536/'],
    ['GET /http://127.0.0.1:99999/', () => '/http://127.0.0.1:99999/'],
    ['GET /http://intranet/x (single-label host)', () => '/http://intranet/x'],
    ['GET /intranet/x (single-label host, no scheme)', () => '/intranet/x'],
    [
      'GET /http%3A%2F%2F127.0.0.1%2Fa%0D%0AX-Injected%3A%201 (CR/LF)',
      () => `/${encodeURIComponent('http://127.0.0.1/a\r\nX-Injected: 1')}`,
    ],
    ['GET /http%3A%2F%2F127.0.0.1%2Fa%00 (NUL)', () => `/${encodeURIComponent('http://127.0.0.1/a\0')}`],
    [
      'GET /?url=http%3A%2F%2F127.0.0.1%2F%0A (LF in url parameter)',
      () => `/?url=${encodeURIComponent('http://127.0.0.1/\n')}`,
    ],
    ['GET /http%3A%2F%2F%E0%A4%A (broken percent-encoding)', () => '/http%3A%2F%2F%E0%A4%A'],
  ];
  test.each(invalid)('%s -> 400 invalid_target', async (_name, path, method) => {
    const hits = upstream.hits.length;
    const res = await raw(proxy.url, path(host), { method: method ?? 'GET', headers: { origin: 'https://app.test' } });
    expect(res.status, res.body.toString()).toBe(400);
    expect(errorOf(res).error).toBe('invalid_target');
    expect(errorOf(res).message.length).toBeGreaterThan(10);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(upstream.hits.length).toBe(hits);
  });
});
