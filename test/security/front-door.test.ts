import { beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES, type Runtime } from '../support/runtimes.ts';
import { type SharedProxy, sharedProxy } from '../support/shared-proxy.ts';
import { rawExchange, send } from './traps.ts';

/*
 * Every answer the proxy makes is the SPEC's JSON with CORS headers, whatever
 * route the request took: request lines no route can take (absolute-form,
 * `*`), backslashes under /diagnose, heads node:http refuses before any
 * listener runs. An absolute-form request line never moves the proxy's own host.
 * (wrangler dev answers `*` and absolute-form lines itself, with a 500,
 * before the Worker runs: those cases are Node's.)
 */

interface Raw {
  status: number;
  head: string;
  body: string;
}

function parse(raw: string): Raw {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, end).toLowerCase();
  return { status: Number(raw.slice(9, 12)), head, body: raw.slice(end + 4) };
}

function expectJson(answer: Raw, status: number, code: string): void {
  expect(answer.status, answer.head).toBe(status);
  expect(answer.head).toMatch(/\r\naccess-control-allow-origin: /);
  expect(answer.head).toMatch(/\r\ncontent-type: application\/json/);
  expect(answer.body).toContain(`"error":"${code}"`);
}

function exchanger(proxy: () => SharedProxy) {
  return async (requestLine: string, headers = '') => {
    const { url } = proxy();
    const host = new URL(url).host;
    return parse(await rawExchange(url, `${requestLine}\r\nhost: ${host}\r\n${headers}connection: close\r\n\r\n`));
  };
}

describe.each(RUNTIMES)('%s: the front door answers JSON with CORS headers', (runtime: Runtime) => {
  let proxy: SharedProxy;
  const started = sharedProxy(runtime, {});
  beforeAll(async () => {
    proxy = await started;
  });
  const exchange = exchanger(() => proxy);

  test('GET /diagnose/https:\\\\api.example.com\\x -> JSON with CORS, never a bare 400', async () => {
    const answer = await exchange(
      'GET /diagnose/https:\\\\api.example.com\\x HTTP/1.1',
      'origin: https://app.example\r\n',
    );
    expect(answer.head).toMatch(/\r\naccess-control-allow-origin: https:\/\/app\.example/);
    expect(answer.head).toMatch(/\r\ncontent-type: application\/json/);
  });

  test('POST /healthz -> 405 method_not_allowed JSON; OPTIONS preflight to /healthz -> 204', async () => {
    const post = await send(proxy.url, '/healthz', { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers['access-control-allow-origin']).toBe('*');
    expect(JSON.parse(post.body)).toMatchObject({ error: 'method_not_allowed' });
    const preflight = await send(proxy.url, '/healthz', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
  });
});

describe('node: request lines and heads no route takes', () => {
  let proxy: SharedProxy;
  const started = sharedProxy('node', {});
  beforeAll(async () => {
    proxy = await started;
  });
  const exchange = exchanger(() => proxy);

  test('OPTIONS * HTTP/1.1 -> 400 invalid_target JSON', async () => {
    expectJson(await exchange('OPTIONS * HTTP/1.1'), 400, 'invalid_target');
  });

  test('GET http://[::1/ HTTP/1.1 (absolute-form, unparsable) -> 400 invalid_target JSON', async () => {
    expectJson(await exchange('GET http://[::1/ HTTP/1.1', 'origin: https://app.example\r\n'), 400, 'invalid_target');
  });

  test('GET http://evil.example/ (absolute-form) -> the help page names the Host header, never evil.example', async () => {
    const answer = await exchange('GET http://evil.example/ HTTP/1.1', 'accept: text/plain\r\n');
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(`${new URL(proxy.url).host}/https://api.example.com/data`);
    expect(answer.body).not.toContain('evil.example');
  });

  test('GET http://evil.example/http://10.0.0.1/ (absolute-form) -> 403 target_not_allowed JSON', async () => {
    expectJson(await exchange('GET http://evil.example/http://10.0.0.1/ HTTP/1.1'), 403, 'target_not_allowed');
  });

  test('GET /healthz with 20 KiB of headers -> 431 headers_too_large JSON, then 200', async () => {
    const headers = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)]));
    const res = await send(proxy.url, '/healthz', { headers });
    expect(res.status).toBe(431);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'headers_too_large' });
    expect((await send(proxy.url, '/healthz')).status).toBe(200);
  });

  test('a malformed header line -> 400 JSON with CORS headers', async () => {
    expectJson(parse(await rawExchange(proxy.url, 'GET / HTTP/1.1\r\nbad header\r\n\r\n')), 400, 'invalid_target');
  });

  test('GET / with Host: <script> -> 400 invalid_target JSON', async () => {
    expectJson(parse(await rawExchange(proxy.url, 'GET / HTTP/1.1\r\nhost: <script>\r\n\r\n')), 400, 'invalid_target');
  });
});
