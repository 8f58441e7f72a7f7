import { describe, expect, test } from 'vitest';
import { exposureCheck, hiddenHeaders } from '../../src/diagnose/rules/exposure.ts';
import type { Credentials } from '../../src/diagnose/rules/finding.ts';
import { mixedContentCheck } from '../../src/diagnose/rules/mixed-content.ts';
import {
  isForbiddenRequestHeader,
  isSafelistedRequestHeader,
  methodCheck,
  mimeEssence,
  preflightReasons,
  unsafeHeaderNames,
} from '../../src/diagnose/rules/request.ts';
import { corsCheck, parseList, preflightCheck } from '../../src/diagnose/rules/response.ts';

const ORIGIN = 'https://app.example';

// Fetch standard, "CORS-safelisted request-header".
describe('isSafelistedRequestHeader(name, value)', () => {
  test.each([
    ['accept', '*/*', true],
    ['Accept', 'application/json, text/plain;q=0.9', true],
    ['accept', 'application/json; profile="x"', false], // `"` is a CORS-unsafe byte
    ['accept', 'a'.repeat(128), true],
    ['accept', 'a'.repeat(129), false], // longer than 128 bytes
    ['accept-language', 'en-US,en;q=0.5', true],
    ['accept-language', 'de_DE', false], // `_` is outside the allowed bytes
    ['content-language', 'fr', true],
    ['content-language', 'fr/ch', false],
    ['content-type', 'text/plain', true],
    ['content-type', 'text/plain;charset=UTF-8', true],
    ['content-type', 'Text/Plain', true],
    ['content-type', 'application/x-www-form-urlencoded', true],
    ['content-type', 'multipart/form-data; boundary=abc', true],
    ['content-type', 'application/json', false],
    ['content-type', 'text/html', false],
    ['content-type', 'text/plain; charset="utf-8"', false], // `"` is a CORS-unsafe byte
    ['content-type', 'text/plain, application/json', false], // not a MIME type
    ['content-type', 'text', false],
    ['range', 'bytes=0-', true],
    ['range', 'bytes=5-10', true],
    ['range', 'bytes=10-5', false], // start after end
    ['range', 'bytes=-500', false], // suffix ranges need a preflight
    ['range', 'bytes=0-1,5-6', false], // several ranges
    ['range', 'bytes = 0-', false], // no whitespace
    ['x-requested-with', 'XMLHttpRequest', false],
    ['authorization', 'Bearer t', false],
    ['cache-control', 'no-cache', false],
  ])('%s: %s -> %s', (name, value, expected) => {
    expect(isSafelistedRequestHeader(name, value)).toBe(expected);
  });
});

describe('mimeEssence(value)', () => {
  test.each([
    ['text/plain', 'text/plain'],
    ['  TEXT/Plain ; charset=utf-8', 'text/plain'],
    ['text/plain ;x=y', 'text/plain'],
    ['text', null],
    ['/plain', null],
    ['text/', null],
    ['te xt/plain', null],
  ])('%j -> %j', (value, expected) => {
    expect(mimeEssence(value)).toBe(expected);
  });
});

// Fetch standard, "CORS-unsafe request-header names".
describe('unsafeHeaderNames(headers)', () => {
  test.each<[string, [string, string][], string[]]>([
    ['none', [], []],
    [
      'safelisted only',
      [
        ['Accept', '*/*'],
        ['Content-Type', 'text/plain'],
      ],
      [],
    ],
    [
      'sorted, lower-cased, unique',
      [
        ['X-B', '1'],
        ['x-a', '2'],
        ['X-A', '3'],
        ['Authorization', 't'],
      ],
      ['authorization', 'x-a', 'x-b'],
    ],
    ['a safelisted name with an unsafe value', [['Content-Type', 'application/json']], ['content-type']],
    [
      'safelisted values over 1024 bytes in total make them all unsafe',
      [
        ['accept', 'a'.repeat(128)],
        ...Array.from({ length: 8 }, (): [string, string] => ['accept-language', 'b'.repeat(120)]),
      ],
      ['accept', 'accept-language'],
    ],
  ])('%s', (_name, headers, expected) => {
    expect(unsafeHeaderNames(headers)).toEqual(expected);
  });
});

// Fetch standard, main fetch: a preflight when the method or a header is not safelisted.
describe('preflightReasons(method, headers): simple vs preflighted', () => {
  test.each<[string, [string, string][], RegExp | null]>([
    ['GET', [], null],
    ['HEAD', [['accept', 'application/json']], null],
    ['POST', [['content-type', 'text/plain;charset=UTF-8']], null],
    ['POST', [['content-type', 'application/x-www-form-urlencoded']], null],
    ['POST', [['content-type', 'application/json']], /Content-Type "application\/json" is not/],
    ['GET', [['range', 'bytes=-5']], /value "bytes=-5" of range/],
    ['PUT', [], /method PUT is not GET, HEAD or POST/],
    ['DELETE', [], /method DELETE/],
    ['PATCH', [], /method PATCH/],
    ['GET', [['x-custom', '1']], /header x-custom is not CORS-safelisted/],
    ['GET', [['authorization', 'Bearer t']], /header authorization/],
  ])('%s with %j -> %s', (method, headers, reason) => {
    const reasons = preflightReasons(method, headers);
    if (reason === null) expect(reasons).toEqual([]);
    else expect(reasons.join('; ')).toMatch(reason);
  });
});

describe('methodCheck, isForbiddenRequestHeader', () => {
  test.each(['TRACE', 'track', 'CONNECT'])('%s is refused by fetch()', (method) => {
    expect(methodCheck(method)?.code).toBe('forbidden_method');
  });
  test.each(['GET', 'PATCH', 'PROPFIND'])('%s may be sent', (method) => {
    expect(methodCheck(method)).toBeNull();
  });
  test.each([
    ['cookie', true],
    ['Origin', true],
    ['host', true],
    ['Sec-Fetch-Mode', true],
    ['proxy-authorization', true],
    ['content-length', true],
    ['authorization', false],
    ['x-custom', false],
    ['user-agent', false],
  ])('%s forbidden: %s', (name, expected) => {
    expect(isForbiddenRequestHeader(name)).toBe(expected);
  });
});

describe('mixedContentCheck(origin, target)', () => {
  test.each([
    ['https://app.example', 'http://api.example/x', 'mixed_content'],
    ['https://app.example', 'https://api.example/x', null],
    ['http://app.example', 'http://api.example/x', null],
    ['https://app.example', 'http://127.0.0.1:8080/x', null], // loopback is potentially trustworthy
    ['https://app.example', 'http://localhost:8080/x', null],
    ['https://app.example', 'http://[::1]:8080/x', null],
  ])('%s -> %s: %s', (origin, target, code) => {
    expect(mixedContentCheck(origin, new URL(target))?.code ?? null).toBe(code);
  });
});

// Fetch standard, "CORS check".
describe('corsCheck(headers, {origin, credentials})', () => {
  test.each<[string, Record<string, string>, Credentials, string | null]>([
    ['no ACAO', {}, 'omit', 'missing_allow_origin'],
    ['ACAO *', { 'access-control-allow-origin': '*' }, 'omit', null],
    ['ACAO * (same-origin credentials mode)', { 'access-control-allow-origin': '*' }, 'same-origin', null],
    ['ACAO * with credentials', { 'access-control-allow-origin': '*' }, 'include', 'wildcard_with_credentials'],
    [
      'ACAO * and ACAC with credentials',
      { 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true' },
      'include',
      'wildcard_with_credentials',
    ],
    ['ACAO = origin', { 'access-control-allow-origin': ORIGIN }, 'omit', null],
    ['ACAO other origin', { 'access-control-allow-origin': 'https://other.example' }, 'omit', 'origin_mismatch'],
    ['ACAO with trailing slash', { 'access-control-allow-origin': `${ORIGIN}/` }, 'omit', 'origin_mismatch'],
    ['ACAO in upper case', { 'access-control-allow-origin': ORIGIN.toUpperCase() }, 'omit', 'origin_mismatch'],
    [
      'ACAO two origins',
      { 'access-control-allow-origin': `${ORIGIN}, https://other.example` },
      'omit',
      'multiple_allow_origin',
    ],
    ['ACAO null', { 'access-control-allow-origin': 'null' }, 'omit', 'origin_mismatch'],
    [
      'ACAO = origin with credentials, no ACAC',
      { 'access-control-allow-origin': ORIGIN },
      'include',
      'missing_allow_credentials',
    ],
    [
      'ACAO = origin with credentials, ACAC TRUE',
      { 'access-control-allow-origin': ORIGIN, 'access-control-allow-credentials': 'TRUE' },
      'include',
      'missing_allow_credentials',
    ],
    [
      'ACAO = origin with credentials, ACAC true',
      { 'access-control-allow-origin': ORIGIN, 'access-control-allow-credentials': 'true' },
      'include',
      null,
    ],
  ])('%s, credentials %s -> %s', (_name, headers, credentials, code) => {
    const finding = corsCheck(new Headers(headers), { origin: ORIGIN, credentials }, 'response');
    expect(finding?.code ?? null).toBe(code);
    if (finding) expect(finding.message.length).toBeGreaterThan(20);
  });

  test('ACAO null matches a page whose origin is null (sandboxed, or after a tainted redirect)', () => {
    const headers = new Headers({ 'access-control-allow-origin': 'null' });
    expect(corsCheck(headers, { origin: 'null', credentials: 'omit' }, 'response')).toBeNull();
  });
  test('the wildcard message names the origin the browser wants', () => {
    const finding = corsCheck(
      new Headers({ 'access-control-allow-origin': '*' }),
      { origin: ORIGIN, credentials: 'include' },
      'response',
    );
    expect(finding?.message).toContain(ORIGIN);
  });
});

describe('parseList(value)', () => {
  test.each([
    [null, null],
    ['', []],
    ['GET, PUT', ['GET', 'PUT']],
    ['GET,,PUT ,', ['GET', 'PUT']],
    ['*', ['*']],
    ['GET PUT', 'invalid'],
    ['x-a, "x-b"', 'invalid'],
  ])('%j -> %j', (value, expected) => {
    expect(parseList(value)).toEqual(expected);
  });
});

// Fetch standard, "CORS-preflight fetch", steps after the response arrives.
describe('preflightCheck(status, headers, request)', () => {
  const ok = { 'access-control-allow-origin': ORIGIN };
  test.each<[string, number, Record<string, string>, string, string[], Credentials, string[]]>([
    [
      'everything allowed',
      204,
      { ...ok, 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'x-custom' },
      'PUT',
      ['x-custom'],
      'omit',
      [],
    ],
    ['200 is as good as 204', 200, { ...ok, 'access-control-allow-methods': 'PUT' }, 'PUT', [], 'omit', []],
    ['a redirect', 301, { ...ok, location: 'https://api.example/x/' }, 'PUT', [], 'omit', ['preflight_redirect']],
    ['a 304, which is never followed, is just not ok', 304, ok, 'GET', [], 'omit', ['preflight_status']],
    ['a 302 without Location is just not ok', 302, ok, 'GET', [], 'omit', ['preflight_status']],
    [
      'a 405 without CORS headers',
      405,
      {},
      'PUT',
      [],
      'omit',
      ['preflight_status', 'missing_allow_origin', 'method_not_allowed'],
    ],
    [
      'a 404 with CORS headers',
      404,
      { ...ok, 'access-control-allow-methods': 'PUT' },
      'PUT',
      [],
      'omit',
      ['preflight_status'],
    ],
    ['no ACAO', 204, { 'access-control-allow-methods': 'PUT' }, 'PUT', [], 'omit', ['missing_allow_origin']],
    [
      'method missing from the list',
      204,
      { ...ok, 'access-control-allow-methods': 'GET, POST' },
      'PUT',
      [],
      'omit',
      ['method_not_allowed'],
    ],
    ['no Allow-Methods at all', 204, ok, 'DELETE', [], 'omit', ['method_not_allowed']],
    ['safelisted methods need no Allow-Methods', 204, ok, 'POST', [], 'omit', []],
    [
      'method names are case-sensitive',
      204,
      { ...ok, 'access-control-allow-methods': 'put' },
      'PUT',
      [],
      'omit',
      ['method_not_allowed'],
    ],
    [
      '* allows any method without credentials',
      204,
      { ...ok, 'access-control-allow-methods': '*' },
      'PATCH',
      [],
      'omit',
      [],
    ],
    [
      '* is a literal method name with credentials',
      204,
      { ...ok, 'access-control-allow-credentials': 'true', 'access-control-allow-methods': '*' },
      'PATCH',
      [],
      'include',
      ['method_not_allowed'],
    ],
    [
      'an invalid Allow-Methods list',
      204,
      { ...ok, 'access-control-allow-methods': 'PUT DELETE' },
      'PUT',
      [],
      'omit',
      ['invalid_allow_methods'],
    ],
    [
      'header missing from the list',
      204,
      { ...ok, 'access-control-allow-headers': 'x-other' },
      'GET',
      ['x-custom'],
      'omit',
      ['header_not_allowed'],
    ],
    [
      'header names are case-insensitive',
      204,
      { ...ok, 'access-control-allow-headers': 'X-Custom' },
      'GET',
      ['x-custom'],
      'omit',
      [],
    ],
    [
      '* allows any header without credentials',
      204,
      { ...ok, 'access-control-allow-headers': '*' },
      'GET',
      ['x-custom', 'x-other'],
      'omit',
      [],
    ],
    [
      '* never covers Authorization',
      204,
      { ...ok, 'access-control-allow-headers': '*' },
      'GET',
      ['authorization'],
      'omit',
      ['header_not_allowed'],
    ],
    [
      'Authorization listed by name',
      204,
      { ...ok, 'access-control-allow-headers': '*, Authorization' },
      'GET',
      ['authorization', 'x-custom'],
      'omit',
      [],
    ],
    [
      '* is a literal header name with credentials',
      204,
      { ...ok, 'access-control-allow-credentials': 'true', 'access-control-allow-headers': '*' },
      'GET',
      ['x-custom'],
      'include',
      ['header_not_allowed'],
    ],
    [
      'an invalid Allow-Headers list',
      204,
      { ...ok, 'access-control-allow-headers': 'x-a; x-b' },
      'GET',
      ['x-a'],
      'omit',
      ['invalid_allow_headers'],
    ],
    [
      'credentials need ACAC on the preflight too',
      204,
      { ...ok, 'access-control-allow-methods': 'PUT' },
      'PUT',
      [],
      'include',
      ['missing_allow_credentials'],
    ],
    [
      'wildcard origin with credentials',
      204,
      {
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'PUT',
      },
      'PUT',
      [],
      'include',
      ['wildcard_with_credentials'],
    ],
  ])('%s -> %j', (_name, status, headers, method, unsafeHeaders, credentials, codes) => {
    const findings = preflightCheck(status, new Headers(headers), {
      origin: ORIGIN,
      credentials,
      method,
      unsafeHeaders,
    });
    expect(findings.map((f) => f.code)).toEqual(codes);
  });

  test('the header finding names each refused header and the list the target sent', () => {
    const [finding] = preflightCheck(204, new Headers({ ...ok, 'access-control-allow-headers': '*' }), {
      origin: ORIGIN,
      credentials: 'omit',
      method: 'GET',
      unsafeHeaders: ['authorization', 'x-custom'],
    });
    expect(finding?.message).toContain('authorization');
    expect(finding?.message).not.toContain('x-custom');
    expect(finding?.message).toMatch(/Authorization is never covered by \*/);
  });
});

// Fetch standard, "CORS-safelisted response-header name" and Access-Control-Expose-Headers.
describe('hiddenHeaders(headers, read, credentials)', () => {
  const sent = { 'content-type': 'text/plain', 'x-total': '5', 'x-page': '1', 'set-cookie': 'a=b' };
  test.each<[string, Record<string, string>, string[], Credentials, string[]]>([
    ['safelisted names are readable', {}, ['Content-Type'], 'omit', []],
    ['an unlisted header is hidden', {}, ['X-Total'], 'omit', ['x-total']],
    [
      'a listed header is readable',
      { 'access-control-expose-headers': 'X-Total' },
      ['x-total', 'x-page'],
      'omit',
      ['x-page'],
    ],
    ['* exposes all without credentials', { 'access-control-expose-headers': '*' }, ['x-total', 'x-page'], 'omit', []],
    [
      '* is a literal name with credentials',
      { 'access-control-expose-headers': '*' },
      ['x-total'],
      'include',
      ['x-total'],
    ],
    [
      'Set-Cookie is never readable',
      { 'access-control-expose-headers': '*, set-cookie' },
      ['set-cookie'],
      'omit',
      ['set-cookie'],
    ],
    ['a header the target did not send is not a CORS matter', {}, ['x-missing'], 'omit', []],
  ])('%s', (_name, extra, read, credentials, hidden) => {
    const headers = new Headers({ ...sent, ...extra });
    expect(hiddenHeaders(headers, read, credentials)).toEqual(hidden);
    expect(exposureCheck(headers, read, credentials)?.code ?? null).toBe(hidden.length ? 'header_not_exposed' : null);
  });
});
