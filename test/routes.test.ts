import { describe, expect, test } from 'vitest';
import { ProxyError } from '../src/core/errors.ts';
import { Fields } from '../src/core/fields.ts';
import { type RequestFacts, type RequestLine, requestFacts, servedPages } from '../src/routes.ts';

/** A request line as node:http hands it over: origin-form target, Host header. */
function line(method: string, target: string, headers: Record<string, string> = {}, more: Partial<RequestLine> = {}) {
  return {
    method,
    target,
    origin: `http://${headers.host ?? 'proxy.test:8080'}`,
    headers: new Fields(headers),
    trustProxy: false,
    peer: () => '192.0.2.7',
    serves: servedPages(false),
    ...more,
  } satisfies RequestLine;
}

function facts(...args: Parameters<typeof line>): Omit<RequestFacts, 'client'> & { client: string } {
  const { client, ...rest } = requestFacts(line(...args));
  return { ...rest, client: client() };
}

describe('requestFacts: what the request asks for', () => {
  test.each<[string, string, Partial<RequestFacts>]>([
    ['GET', '/', { kind: 'help', target: '' }],
    ['HEAD', '/', { kind: 'help' }],
    ['GET', '/?lang=en', { kind: 'help' }],
    ['POST', '/', { kind: 'target', target: '' }],
    ['OPTIONS', '/', { kind: 'target', target: '' }],
    ['GET', '/?url=https%3A%2F%2Fapi.example.com%2Fx', { kind: 'target', target: 'https://api.example.com/x' }],
    [
      'GET',
      '/https://api.example.com/x?a=1',
      { kind: 'target', target: 'https://api.example.com/x?a=1', path: '/https://api.example.com/x', query: 'a=1' },
    ],
    ['GET', '//api.example.com/x', { kind: 'target', target: '/api.example.com/x' }],
    ['GET', '/healthz', { kind: 'page', page: 'healthz' }],
    ['POST', '/healthz', { kind: 'page', page: 'healthz' }],
    ['GET', '/healthz?x=1', { kind: 'page', page: 'healthz', query: 'x=1' }],
    ['GET', '/healthz/', { kind: 'target', target: 'healthz/' }],
    ['GET', '/robots.txt', { kind: 'page', page: 'robots' }],
    ['GET', '/favicon.ico', { kind: 'page', page: 'favicon' }],
    ['GET', '/metrics', { kind: 'target', target: 'metrics' }],
    ['GET', '/diagnose', { kind: 'page', page: 'diagnose', target: '' }],
    ['GET', '/diagnose?url=x', { kind: 'page', page: 'diagnose', target: '', query: 'url=x' }],
    [
      'GET',
      '/diagnose/https://api.example.com/x?origin=o',
      { kind: 'page', page: 'diagnose', target: 'https://api.example.com/x', query: 'origin=o' },
    ],
    ['GET', '/diagnosex', { kind: 'target', target: 'diagnosex' }],
    ['GET', '/constructor', { kind: 'target', target: 'constructor' }],
    ['GET', '/__proto__', { kind: 'target', target: '__proto__' }],
  ])('%s %s -> %o', (method, target, expected) => {
    expect(facts(method, target)).toMatchObject(expected);
  });

  test('/metrics is a page only where the instance serves it', () => {
    expect(requestFacts(line('GET', '/metrics', {}, { serves: servedPages(true) }))).toMatchObject({
      kind: 'page',
      page: 'metrics',
    });
  });
});

describe('requestFacts: the proxy base and scheme', () => {
  test.each<[string, Record<string, string>, boolean, string]>([
    ['/', { host: 'proxy.test:8080' }, false, 'http://proxy.test:8080'],
    ['/', { host: '[::1]:8080' }, false, 'http://[::1]:8080'],
    ['/', { host: 'proxy.test', 'x-forwarded-proto': 'https' }, false, 'http://proxy.test'],
    ['/', { host: 'proxy.test', 'x-forwarded-proto': 'https' }, true, 'https://proxy.test'],
    ['/', { host: 'proxy.test', 'x-forwarded-proto': 'http, https' }, true, 'https://proxy.test'],
    ['/', { host: 'proxy.test', 'x-forwarded-proto': 'gopher' }, true, 'http://proxy.test'],
    // Absolute-form: the path is taken, the proxy's host stays the Host header's.
    ['http://evil.example/https://api.example.com/', { host: 'proxy.test' }, false, 'http://proxy.test'],
  ])('%s with %o (trust proxy %s) -> base %s', (target, headers, trustProxy, base) => {
    expect(requestFacts(line('GET', target, headers, { trustProxy })).base).toBe(base);
  });

  test('absolute-form GET http://evil.example/https://api.example.com/x -> the target is the path', () => {
    expect(facts('GET', 'http://evil.example/https://api.example.com/x')).toMatchObject({
      kind: 'target',
      target: 'https://api.example.com/x',
      base: 'http://proxy.test:8080',
    });
  });

  test('a mount point: /proxy?url=... and /proxy/https://... name targets below it', () => {
    const mounted = { mount: '/proxy' };
    expect(requestFacts(line('GET', '/proxy?url=https%3A%2F%2Fa.example%2F', {}, mounted))).toMatchObject({
      kind: 'target',
      target: 'https://a.example/',
      base: 'http://proxy.test:8080/proxy',
    });
    expect(requestFacts(line('GET', '/proxy/healthz', {}, mounted))).toMatchObject({ kind: 'page', page: 'healthz' });
    expect(requestFacts(line('GET', '/proxy', {}, mounted))).toMatchObject({ kind: 'help' });
  });
});

describe('requestFacts: malformed request lines -> 400 invalid_target', () => {
  test.each<[string, string, Record<string, string>]>([
    ['OPTIONS', '*', {}],
    ['GET', 'http://[::1/', {}],
    ['GET', 'https://', {}],
    ['GET', 'api.example.com/x', {}],
    ['GET', '/', { host: 'proxy.test/evil' }],
    ['GET', '/', { host: '<script>' }],
    ['GET', '/', { host: '' }],
  ])('%s %s %o', (method, target, headers) => {
    let error: unknown;
    try {
      requestFacts(line(method, target, headers));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProxyError);
    expect((error as ProxyError).code).toBe('invalid_target');
  });
});

describe('requestFacts: body and client', () => {
  test.each<[string, Record<string, string>, boolean | undefined, boolean]>([
    ['GET', { 'content-length': '5' }, undefined, false],
    ['HEAD', { 'transfer-encoding': 'chunked' }, undefined, false],
    ['POST', {}, undefined, false],
    ['POST', { 'content-length': '0' }, undefined, false],
    ['POST', { 'content-length': '5' }, undefined, true],
    ['PUT', { 'transfer-encoding': 'chunked' }, undefined, true],
    ['POST', {}, true, true],
    ['GET', {}, true, false],
  ])('%s %o (runtime says %s) -> body %s', (method, headers, body, hasBody) => {
    expect(requestFacts(line(method, '/https://a.example/', headers, { body })).hasBody).toBe(hasBody);
  });

  test.each<[boolean, Record<string, string>, string]>([
    [false, {}, '192.0.2.7'],
    [false, { 'x-forwarded-for': '198.51.100.1' }, '192.0.2.7'],
    [true, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }, '203.0.113.9'],
    [true, {}, '192.0.2.7'],
  ])('trust proxy %s, %o -> client %s', (trustProxy, headers, client) => {
    expect(requestFacts(line('GET', '/', headers, { trustProxy })).client()).toBe(client);
  });

  test('the peer address is read only when asked for', () => {
    let reads = 0;
    const f = requestFacts(line('GET', '/https://a.example/', {}, { peer: () => `192.0.2.${++reads}` }));
    expect(reads).toBe(0);
    expect(f.client()).toBe('192.0.2.1');
  });
});

describe('requestFacts, request after request', () => {
  test('each request has its own Host, mount and scheme, whatever the one before had', () => {
    expect(facts('GET', '/https://a.example/x').base).toBe('http://proxy.test:8080');
    expect(facts('GET', '/https://a.example/x').base).toBe('http://proxy.test:8080');
    expect(facts('GET', '/https://a.example/x', { host: 'other.test' }).base).toBe('http://other.test');
    expect(facts('GET', '/p/https://a.example/x', { host: 'other.test' }, { mount: '/p' }).base).toBe(
      'http://other.test/p',
    );
    const forwarded = { host: 'other.test', 'x-forwarded-proto': 'https' };
    expect(facts('GET', '/https://a.example/x', forwarded, { trustProxy: true }).base).toBe('https://other.test');
    expect(facts('GET', '/https://a.example/x', forwarded).base).toBe('http://other.test');
    expect(() => facts('GET', '/https://a.example/x', { host: 'bad host' })).toThrow(ProxyError);
    expect(facts('GET', '/https://a.example/x', { host: 'other.test' }).base).toBe('http://other.test');
    expect(() => requestFacts({ ...line('GET', '/https://a.example/x'), origin: '' })).toThrow(ProxyError);
    expect(() => requestFacts({ ...line('GET', '/https://a.example/x'), origin: '' })).toThrow(ProxyError);
  });
});
