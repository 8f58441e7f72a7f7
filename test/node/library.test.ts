import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { getRequestListener, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { corsway, type RequestRecord } from '../../src/index.ts';
import { corsway as nodeCorsway } from '../../src/node/library.ts';
import { Upstream } from '../support/upstream.ts';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close').catch(() => {});
}

const upstream = new Upstream({
  '/plain': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-custom': 'yes' });
    res.end('hello');
  },
  '/gzip': (_req, res) => {
    const body = gzipSync('decoded by fetch');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  },
  '/choices': (_req, res) => {
    // 300 is not followed server-side: it reaches the client with its Location.
    res.writeHead(300, { location: '/plain', 'content-type': 'text/plain' });
    res.end('pick one');
  },
});

beforeAll(async () => {
  await upstream.start();
});
afterAll(async () => {
  await upstream.stop();
});

describe('corsway() mounted with app.route("/proxy", ...) in a Hono app served by @hono/node-server', () => {
  const records: RequestRecord[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const app = new Hono();
    app.get('/hello', (c) => c.text('the host app'));
    app.route('/proxy', corsway({ allowPrivateNetwork: true, log: (r) => records.push(r) }));
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => close(server));

  test('GET /proxy/http://127.0.0.1:<port>/plain -> 200 from the target, CORS headers added', async () => {
    const res = await fetch(`${base}/proxy/${upstream.origin}/plain`, { headers: { origin: 'https://app.test' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-custom');
    expect(res.headers.get('x-request-url')).toBe(`${upstream.origin}/plain`);
    expect(upstream.hits.at(-1)?.url).toBe('/plain');
  });

  test('GET /proxy?url=<encoded target> -> 200: the ?url form right after the mount point', async () => {
    const res = await fetch(`${base}/proxy?url=${encodeURIComponent(`${upstream.origin}/plain?a=1`)}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(upstream.hits.at(-1)?.url).toBe('/plain?a=1');
  });

  test('GET /hello -> 200 from the host app, untouched by the proxy', async () => {
    const res = await fetch(`${base}/hello`);
    expect(await res.text()).toBe('the host app');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('GET /proxy/ -> the help page shows addresses under the mount prefix', async () => {
    const res = await fetch(`${base}/proxy/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`${base}/proxy/https://api.example.com/data`);
  });

  test('GET /proxy/healthz -> 200', async () => {
    const res = await fetch(`${base}/proxy/healthz`);
    expect(res.status).toBe(200);
  });

  test('GET /proxy/<target answering 300> -> Location rewritten through the mount prefix', async () => {
    const res = await fetch(`${base}/proxy/${upstream.origin}/choices`, { redirect: 'manual' });
    expect(res.status).toBe(300);
    expect(res.headers.get('location')).toBe(`${base}/proxy/${upstream.origin}/plain`);
  });

  test('GET /proxy/<gzip target> -> decoded body without Content-Encoding (global fetch upstream)', async () => {
    const res = await fetch(`${base}/proxy/${upstream.origin}/gzip`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.text()).toBe('decoded by fetch');
  });

  test('GET /proxy/http://2130706433/ -> 403 target_not_allowed unless allowPrivateNetwork (default)', async () => {
    const app = new Hono().route('/proxy', corsway());
    const res = await app.fetch(new Request(`${base}/proxy/http://2130706433:${upstream.port}/plain`));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('target_not_allowed');
  });

  test('log receives one record per proxied request, with the mount-relative target origin', () => {
    const plain = records.find((r) => r.status === 200 && r.bytes === 5);
    expect(plain).toMatchObject({ method: 'GET', client: '127.0.0.1', target: upstream.origin, error: null });
  });
});

describe('behind a TLS-terminating reverse proxy', () => {
  const help = async (options: Parameters<typeof corsway>[0]) => {
    const app = new Hono().route('/proxy', corsway(options));
    const res = await app.fetch(
      new Request('http://cors.example.com/proxy/', { headers: { 'x-forwarded-proto': 'https' } }),
    );
    return res.text();
  };

  test('GET /proxy/ with X-Forwarded-Proto: https and trustProxy -> addresses start with https://', async () => {
    expect(await help({ trustProxy: true })).toContain('https://cors.example.com/proxy/https://api.example.com/data');
  });

  test('GET /proxy/ with X-Forwarded-Proto: https without trustProxy -> the header is ignored', async () => {
    expect(await help({})).toContain('  http://cors.example.com/proxy/https://api.example.com/data');
  });
});

describe('corsway() in a plain node:http server', () => {
  test('createServer(getRequestListener(corsway().fetch)): GET /http://127.0.0.1:<port>/plain -> 200', async () => {
    const server = createServer(getRequestListener(corsway({ allowPrivateNetwork: true }).fetch));
    const base = await listen(server);
    try {
      const res = await fetch(`${base}/${upstream.origin}/plain`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await close(server);
    }
  });

  test('corsway/node mounted under /cors: GET /cors/http://127.0.0.1:<port>/gzip -> 200, compressed bytes relayed as sent', async () => {
    const app = new Hono().route('/cors', nodeCorsway({ allowPrivateNetwork: true }));
    const server = createServer(getRequestListener(app.fetch));
    const base = await listen(server);
    try {
      const res = await fetch(`${base}/cors/${upstream.origin}/gzip`);
      expect(res.status).toBe(200);
      // The Node upstream relays the compressed bytes with the headers that describe them.
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(await res.text()).toBe('decoded by fetch');
    } finally {
      await close(server);
    }
  });
});

describe('corsway(options) validation', () => {
  test.each([
    [{ rateLimit: 'lots' }, /rateLimit: expected <count>\/<window>/],
    [{ allowOrigins: 'https://app.example.com' }, /allowOrigins: expected an array of strings/],
    [{ allowOrigins: ['ftp://app.example.com'] }, /allowOrigins: "ftp:\/\/app.example.com" must start with http/],
    [{ maxRedirects: 99 }, /maxRedirects: expected a whole number from 0 to 20/],
    [{ timeoutMs: 1.5 }, /timeoutMs: expected a whole number/],
    [{ allowPrivateNetwork: 'yes' }, /allowPrivateNetwork: expected true or false/],
    [{ rateLimitBy: 'user' }, /rateLimitBy: expected one of ip, origin/],
    [{ allowedOrigins: [] }, /allowedOrigins: not an option of corsway\(\)/],
    [{ upstream: 'fetch' }, /upstream: expected a function/],
  ])('corsway(%j) throws a TypeError naming the option', (options, message) => {
    expect(() => corsway(options as never)).toThrow(TypeError);
    expect(() => corsway(options as never)).toThrow(message);
  });

  test('every problem is reported at once', () => {
    expect(() => corsway({ rateLimit: 'lots', maxAge: -1 })).toThrow(/rateLimit[\s\S]*maxAge/);
  });
});
