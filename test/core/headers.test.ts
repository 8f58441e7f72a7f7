import { describe, expect, test } from 'vitest';
import { hasLooped, requestHeaders, responseHeaders } from '../../src/core/headers.ts';

describe('requestHeaders(client headers) -> what the target gets', () => {
  test.each([
    ['cookie', 'a=1'],
    ['host', 'proxy.example'],
    ['connection', 'keep-alive'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['te', 'trailers'],
    ['trailer', 'x-checksum'],
    ['transfer-encoding', 'chunked'],
    ['upgrade', 'websocket'],
    ['proxy-authorization', 'Basic eDp5'],
    ['proxy-authenticate', 'Basic'],
    ['expect', '100-continue'],
    ['forwarded', 'for=203.0.113.9'],
    ['x-forwarded-for', '203.0.113.9'],
    ['x-forwarded-host', 'evil.example'],
    ['x-forwarded-proto', 'https'],
    ['x-real-ip', '203.0.113.9'],
    ['cf-connecting-ip', '203.0.113.9'],
    ['cf-ray', 'abc'],
    ['true-client-ip', '203.0.113.9'],
  ])('%s is dropped', (name, value) => {
    expect(requestHeaders(new Headers({ [name]: value })).has(name)).toBe(false);
  });

  test.each([
    ['authorization', 'Bearer t'],
    ['content-type', 'application/json'],
    ['content-length', '12'],
    ['accept', 'application/json'],
    ['accept-encoding', 'gzip, br'],
    ['user-agent', 'app/1'],
    ['origin', 'https://app.example'],
    ['x-api-key', 'k'],
    ['if-none-match', '"etag"'],
    ['range', 'bytes=0-9'],
  ])('%s is kept', (name, value) => {
    expect(requestHeaders(new Headers({ [name]: value })).get(name)).toBe(value);
  });

  test('headers named in Connection are dropped (RFC 9110 7.6.1)', () => {
    const out = requestHeaders(
      new Headers({ connection: 'close, X-Hop , x-other', 'x-hop': '1', 'x-other': '2', 'x-kept': '3' }),
    );
    expect(
      out
        .pairs()
        .map(([name]) => name)
        .sort(),
    ).toEqual(['via', 'x-kept']);
  });

  test.each([
    [null, '1.1 corsway'],
    ['1.0 edge', '1.0 edge, 1.1 corsway'],
  ])('Via: %s -> %s', (via, expected) => {
    expect(requestHeaders(new Headers(via ? { via } : {})).get('via')).toBe(expected);
  });
});

describe('hasLooped(Via)', () => {
  test.each<[string | null, boolean]>([
    [null, false],
    ['1.1 corsway', true],
    ['1.0 edge, 1.1 corsway', true],
    ['1.1 CORSWAY (comment)', true],
    ['HTTP/1.1 corsway', true],
    ['1.1 corsway-other', false],
    ['1.1 edge, 1.1 cache', false],
    ['corsway', false],
  ])('Via: %s -> %s', (via, looped) => {
    expect(hasLooped(new Headers(via ? { via } : {}))).toBe(looped);
  });
});

describe('responseHeaders(target headers) -> what the client gets', () => {
  test.each([
    'set-cookie',
    'set-cookie2',
    'access-control-allow-origin',
    'access-control-allow-credentials',
    'access-control-expose-headers',
    'access-control-allow-methods',
    'strict-transport-security',
    'clear-site-data',
    'service-worker-allowed',
    'nel',
    'report-to',
    'reporting-endpoints',
    'alt-svc',
    'connection',
    'keep-alive',
    'transfer-encoding',
    'upgrade',
    'trailer',
    'proxy-authenticate',
  ])('%s is removed', (name) => {
    expect(responseHeaders(new Headers({ [name]: 'x' })).has(name)).toBe(false);
  });

  test.each([
    ['content-type', 'text/html'],
    ['content-encoding', 'gzip'],
    ['content-length', '10'],
    ['etag', '"a"'],
    ['cache-control', 'max-age=60'],
    ['vary', 'Accept-Encoding'],
    ['location', '/next'],
    ['ratelimit', '"t";r=1;t=2'],
    ['x-custom', 'yes'],
  ])('%s is kept', (name, value) => {
    expect(responseHeaders(new Headers({ [name]: value })).get(name)).toBe(value);
  });

  test('headers named in the target Connection are removed', () => {
    const out = responseHeaders(new Headers({ connection: 'x-hop', 'x-hop': '1' }));
    expect(out.has('x-hop')).toBe(false);
  });

  test('CSP sandbox and nosniff are added; a target CSP is kept beside ours', () => {
    const out = responseHeaders(new Headers({ 'content-security-policy': "default-src 'self'" }));
    expect(out.get('content-security-policy')).toBe("default-src 'self', sandbox");
    expect(out.get('x-content-type-options')).toBe('nosniff');
  });
});
