import { describe, expect, test } from 'vitest';
import { Fields } from '../../src/core/fields.ts';
import {
  hasLooped,
  ORIGIN_STATE_HEADERS,
  ORIGIN_STATE_PREFIXES,
  requestHeaders,
  responseHeaders,
} from '../../src/core/headers.ts';

describe('requestHeaders(client headers) -> what the target gets', () => {
  test('a request gets only its own fields, whatever the one before had', () => {
    const first = requestHeaders(new Headers({ authorization: 'Bearer one', accept: 'a', 'x-a': '1', via: '1.0 p' }));
    expect(first.flat()).toEqual([
      'accept',
      'a',
      'authorization',
      'Bearer one',
      'x-a',
      '1',
      'via',
      '1.0 p, 1.1 corsway',
    ]);
    const second = requestHeaders(new Headers({ accept: 'b' }));
    expect(second.flat()).toEqual(['accept', 'b', 'via', '1.1 corsway']);
    expect(first.get('authorization')).toBe('Bearer one');
  });

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

  test('Via is sent last, once, with every incoming entry and ours, even when Connection names it', () => {
    const fields = new Fields();
    for (const [name, value] of [
      ['via', '1.0 a'],
      ['connection', 'via'],
      ['accept', '*/*'],
      ['via', '1.1 b'],
      ['x-kept', '1'],
    ]) {
      fields.append(name as string, value as string);
    }
    expect(requestHeaders(fields).flat()).toEqual(['accept', '*/*', 'x-kept', '1', 'via', '1.0 a, 1.1 b, 1.1 corsway']);
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
  test('a response gets only its own fields, whatever the one before had, and takes more after them', () => {
    const first = responseHeaders(new Headers({ 'x-a': '1', 'x-b': '2', 'x-c': '3' }));
    const second = responseHeaders(new Headers({ 'x-d': '4' }));
    second.append('x-request-url', 'u');
    for (let i = 0; i < 20; i++) second.append(`x-${i}`, String(i));
    expect(first.flat()).toEqual([
      'x-a',
      '1',
      'x-b',
      '2',
      'x-c',
      '3',
      'content-security-policy',
      'sandbox',
      'x-content-type-options',
      'nosniff',
    ]);
    expect(second.flat().slice(0, 8)).toEqual([
      'x-d',
      '4',
      'content-security-policy',
      'sandbox',
      'x-content-type-options',
      'nosniff',
      'x-request-url',
      'u',
    ]);
    expect(second.flat()).toHaveLength(48);
    expect(second.get('x-19')).toBe('19');
  });

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

  // The SPEC's list of headers that would act on the proxy's origin, spelled as a target may send them.
  test.each([
    'Strict-Transport-Security',
    'Clear-Site-Data',
    'Service-Worker-Allowed',
    'NEL',
    'Report-To',
    'Reporting-Endpoints',
    'Alt-Svc',
    'Accept-CH',
    'Critical-CH',
    'Set-Login',
    'Origin-Agent-Cluster',
    'Attribution-Reporting-Register-Source',
    'Attribution-Reporting-Register-Trigger',
    'Attribution-Reporting-Info',
    'Attribution-Reporting-Register-OS-Source',
    'Shared-Storage-Write',
    'Shared-Storage-Cross-Origin-Worklet-Allowed',
    'Observe-Browsing-Topics',
    'Activate-Storage-Access',
    'Public-Key-Pins',
    'Expect-CT',
    'IdP-SignIn-Status',
    'Origin-Trial',
    'Use-As-Dictionary',
    'Speculation-Rules',
    'Supports-Loading-Mode',
    'Sec-Session-Registration',
    'Sec-Session-Challenge',
    'Ad-Auction-Allowed',
    'Ad-Auction-Signals',
    'Ad-Auction-Record-Event',
    'Ad-Auction-Result',
    'X-Allow-FLEDGE',
    'X-FLEDGE-Auction-Only',
    'Sec-Private-State-Token',
  ])('%s, which stores state for the proxy origin, is removed', (name) => {
    const out = responseHeaders(new Headers({ [name]: 'x', 'x-kept': '1' }));
    // Fields hold lower-case names: asked as spelled, `has` would pass whatever the filter did.
    expect(out.has(name.toLowerCase())).toBe(false);
    expect(out.get('x-kept')).toBe('1');
  });

  test('the origin-state table is lower-case and every entry is removed', () => {
    for (const name of [...ORIGIN_STATE_HEADERS, ...ORIGIN_STATE_PREFIXES]) {
      expect(name).toBe(name.toLowerCase());
      expect(responseHeaders(new Headers({ [`${name}`]: 'x' })).has(name)).toBe(false);
    }
  });

  test('WWW-Authenticate is relayed only as X-Target-WWW-Authenticate, every challenge kept', () => {
    const target = new Headers();
    target.append('www-authenticate', 'Basic realm="api"');
    target.append('www-authenticate', 'Bearer error="invalid_token"');
    const out = responseHeaders(target);
    expect(out.has('www-authenticate')).toBe(false);
    expect(out.get('x-target-www-authenticate')).toBe('Basic realm="api", Bearer error="invalid_token"');
  });

  test.each(['constructor', '__proto__', 'tostring'])('a header named %s is relayed as itself', (name) => {
    const target = new Headers();
    target.append(name, 'v');
    expect(responseHeaders(target).get(name)).toBe('v');
  });

  test('headers named in the target Connection are removed', () => {
    const out = responseHeaders(new Headers({ connection: 'x-hop', 'x-hop': '1' }));
    expect(out.has('x-hop')).toBe(false);
  });

  test.each(['close', 'Close', 'keep-alive', 'Keep-Alive'])(
    'Connection: %s removes a field of that name too',
    (value) => {
      const fields = new Fields();
      fields.append('connection', value);
      fields.append(value.toLowerCase(), '1');
      fields.append('x-kept', '2');
      expect(responseHeaders(fields).has(value.toLowerCase())).toBe(false);
      expect(requestHeaders(fields).has(value.toLowerCase())).toBe(false);
      expect(responseHeaders(fields).get('x-kept')).toBe('2');
    },
  );

  test('CSP sandbox and nosniff are added; a target CSP is kept beside ours', () => {
    const out = responseHeaders(new Headers({ 'content-security-policy': "default-src 'self'" }));
    expect(out.get('content-security-policy')).toBe("default-src 'self', sandbox");
    expect(out.get('x-content-type-options')).toBe('nosniff');
  });

  test("the target's X-Request-URL and X-Final-URL are left for the proxy to set", () => {
    const fields = new Fields();
    fields.append('x-request-url', 'https://elsewhere.test/a');
    fields.append('etag', '"e"');
    fields.append('x-final-url', 'https://elsewhere.test/b');
    const out = responseHeaders(fields);
    expect(out.has('x-request-url')).toBe(false);
    expect(out.has('x-final-url')).toBe(false);
    expect(out.get('etag')).toBe('"e"');
  });

  test("the target's X-Content-Type-Options is replaced by ours, after the CSP", () => {
    const fields = new Fields();
    fields.append('x-content-type-options', 'other');
    fields.append('etag', '"e"');
    expect(responseHeaders(fields).flat()).toEqual([
      'etag',
      '"e"',
      'content-security-policy',
      'sandbox',
      'x-content-type-options',
      'nosniff',
    ]);
  });
});
