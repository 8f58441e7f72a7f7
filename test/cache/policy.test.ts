import { describe, expect, test } from 'vitest';
import {
  ageValue,
  freshnessLifetime,
  httpDate,
  initialAge,
  invalidated,
  notModified,
  notStorable,
  parseCacheControl,
  responseDirectives,
  updatedHeaders,
  usable,
  validators,
  varyNames,
  varyValues,
} from '../../src/cache/policy.ts';
import { Fields } from '../../src/core/fields.ts';

const h = (init: Record<string, string> = {}) => new Fields(init);
const NOW = 1_800_000_000;
const date = (s: number) => new Date(s * 1000).toUTCString();

describe('parseCacheControl', () => {
  test.each([
    [
      'max-age=60, public',
      [
        ['max-age', '60'],
        ['public', true],
      ],
    ],
    ['Max-Age = 60', [['max-age', '60']]],
    [
      'no-cache="set-cookie, x-a", s-maxage=5',
      [
        ['no-cache', 'set-cookie, x-a'],
        ['s-maxage', '5'],
      ],
    ],
    ['max-age=1, max-age=99', [['max-age', '1']]],
    ['', []],
  ])('%j', (value, expected) => {
    expect([...parseCacheControl(value)]).toEqual(expected);
  });
});

describe('httpDate: the three forms of RFC 9110 5.6.7, nothing looser', () => {
  test.each<[string, number | null]>([
    ['Sun, 06 Nov 1994 08:49:37 GMT', 784111777],
    ['Sunday, 06-Nov-94 08:49:37 GMT', 784111777],
    ['Sun Nov  6 08:49:37 1994', 784111777],
    ['Sun, 06 Nov 1994 08:49:37 UTC', null],
    ['Sun 06 Nov 1994 08:49:37 GMT', null],
    ['Sun, 06-Nov-1994 08:49:37 GMT', null],
    ['Sun, 06 Nov 1994 8:49:37 GMT', null],
    ['Sun,  06 Nov 1994 08:49:37 GMT', null],
    ['0', null],
  ])('%j -> %s', (value, expected) => {
    expect(httpDate(value)).toBe(expected);
  });
});

describe('ageValue (RFC 9111 5.1)', () => {
  test.each<[string, number]>([
    ['30', 30],
    ['7200, 0', 7200],
    ['0, 7200', 0],
    ['7200.0', 0],
    ['-5', 0],
    ['abc', 0],
  ])('Age: %s -> %i', (value, expected) => {
    expect(ageValue(h({ age: value }))).toBe(expected);
  });
});

describe('responseDirectives: CDN-Cache-Control (RFC 9213) wins when valid', () => {
  test.each<[Record<string, string>, [string, string | true][]]>([
    [{ 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' }, [['max-age', '60']]],
    [{ 'cdn-cache-control': 'private', 'cache-control': 'max-age=60' }, [['private', true]]],
    [{ 'cdn-cache-control': 'max-age=60, &&&', 'cache-control': 'no-store' }, [['no-store', true]]],
    [{ 'cdn-cache-control': 'max-age="60"', 'cache-control': 'no-store' }, [['no-store', true]]],
    [{ 'cache-control': 'max-age=5' }, [['max-age', '5']]],
  ])('%j', (headers, expected) => {
    expect([...responseDirectives(h(headers))]).toEqual(expected);
  });
});

describe('notStorable: what a shared cache may store (RFC 9111 3)', () => {
  const get = (headers: Record<string, string> = {}) => ({ method: 'GET', headers: h(headers) });
  test.each<[string, string, number, Record<string, string>, Record<string, string>, string | null]>([
    ['max-age', 'GET', 200, {}, { 'cache-control': 'max-age=60' }, null],
    ['Expires', 'GET', 200, {}, { expires: date(NOW + 60) }, null],
    ['heuristic status without freshness', 'GET', 200, {}, {}, null],
    ['404 heuristic', 'GET', 404, {}, {}, null],
    ['302 without freshness', 'GET', 302, {}, {}, 'no-freshness'],
    ['302 with max-age', 'GET', 302, {}, { 'cache-control': 'max-age=5' }, null],
    ['206 is not understood', 'GET', 206, {}, { 'cache-control': 'max-age=60' }, 'status'],
    ['500 with max-age', 'GET', 500, {}, { 'cache-control': 'max-age=60' }, null],
    ['500 without freshness', 'GET', 500, {}, {}, 'no-freshness'],
    ['304 is never stored', 'GET', 304, {}, { 'cache-control': 'max-age=60' }, 'status'],
    [
      'must-understand, status not understood',
      'GET',
      299,
      {},
      { 'cache-control': 'must-understand, no-store' },
      'status',
    ],
    ['no-store', 'GET', 200, {}, { 'cache-control': 'no-store, max-age=60' }, 'no-store'],
    ['must-understand overrides no-store', 'GET', 200, {}, { 'cache-control': 'must-understand, no-store' }, null],
    ['request no-store', 'GET', 200, { 'cache-control': 'no-store' }, { 'cache-control': 'max-age=60' }, 'no-store'],
    ['private', 'GET', 200, {}, { 'cache-control': 'private, max-age=60' }, 'private'],
    ['Authorization', 'GET', 200, { authorization: 'Bearer x' }, { 'cache-control': 'max-age=60' }, 'authorization'],
    [
      'Authorization + public',
      'GET',
      200,
      { authorization: 'Bearer x' },
      { 'cache-control': 'public, max-age=60' },
      null,
    ],
    ['Authorization + s-maxage', 'GET', 200, { authorization: 'Bearer x' }, { 'cache-control': 's-maxage=60' }, null],
    [
      'Authorization + must-revalidate',
      'GET',
      200,
      { authorization: 'Bearer x' },
      { 'cache-control': 'must-revalidate, max-age=60' },
      null,
    ],
    ['Vary: *', 'GET', 200, {}, { 'cache-control': 'max-age=60', vary: 'accept, *' }, 'vary'],
    ['HEAD is not stored', 'HEAD', 200, {}, { 'cache-control': 'max-age=60' }, 'method'],
    ['POST is not stored', 'POST', 200, {}, { 'cache-control': 'max-age=60' }, 'method'],
  ])('%s', (_, method, status, reqHeaders, resHeaders, expected) => {
    const req = method === 'GET' ? get(reqHeaders) : { method, headers: h(reqHeaders) };
    expect(notStorable(req, { status, headers: h(resHeaders) })).toBe(expected);
  });
});

describe('freshnessLifetime (RFC 9111 4.2.1)', () => {
  test.each<[string, number, Record<string, string>, number]>([
    ['s-maxage wins over max-age', 200, { 'cache-control': 'max-age=10, s-maxage=99' }, 99],
    [
      'max-age wins over Expires',
      200,
      { 'cache-control': 'max-age=10', expires: date(NOW + 500), date: date(NOW) },
      10,
    ],
    ['Expires minus Date', 200, { expires: date(NOW + 500), date: date(NOW) }, 500],
    ['Expires in the past', 200, { expires: date(NOW - 5), date: date(NOW) }, 0],
    ['invalid Expires is already expired', 200, { expires: '0', date: date(NOW) }, 0],
    ['malformed max-age is ignored', 200, { 'cache-control': 'max-age=ten', expires: date(NOW + 7) }, 7],
    ['heuristic: 10% of time since Last-Modified', 200, { 'last-modified': date(NOW - 1000), date: date(NOW) }, 100],
    ['heuristic capped at an hour', 200, { 'last-modified': date(NOW - 10_000_000), date: date(NOW) }, 3600],
    ['no heuristic without Last-Modified', 200, { date: date(NOW) }, 0],
    ['no heuristic for 302', 302, { 'last-modified': date(NOW - 1000), date: date(NOW) }, 0],
  ])('%s', (_, status, headers, expected) => {
    expect(freshnessLifetime({ status, headers: h(headers) }, NOW)).toBe(expected);
  });
});

describe('initialAge (RFC 9111 4.2.3)', () => {
  test.each<[string, Record<string, string>, number, number, number]>([
    ['no Date, no Age: the response delay', {}, NOW - 2, NOW, 2],
    ['Age plus the response delay', { age: '30' }, NOW - 2, NOW, 32],
    ['Date in the past (apparent age)', { date: date(NOW - 50) }, NOW, NOW, 50],
    ['Date in the future is no negative age', { date: date(NOW + 50) }, NOW, NOW, 0],
    ['malformed Age is ignored', { age: 'x' }, NOW, NOW, 0],
  ])('%s', (_, headers, requested, received, expected) => {
    expect(initialAge({ status: 200, headers: h(headers) }, requested, received)).toBe(expected);
  });
});

describe('usable: served without asking the target (RFC 9111 4.2, 5.2.1)', () => {
  const stored = (cc: string) => ({ status: 200, headers: h(cc ? { 'cache-control': cc } : {}) });
  test.each<[string, string, Record<string, string>, number, number, boolean, string]>([
    ['fresh', 'max-age=60', {}, 10, 60, true, 'fresh'],
    ['stale', 'max-age=60', {}, 61, 60, false, 'stale'],
    ['response no-cache', 'no-cache, max-age=60', {}, 1, 60, false, 'stale'],
    ['request no-cache', 'max-age=60', { 'cache-control': 'no-cache' }, 1, 60, false, 'request'],
    ['request Pragma: no-cache', 'max-age=60', { pragma: 'no-cache' }, 1, 60, false, 'request'],
    [
      'Pragma ignored beside Cache-Control',
      'max-age=60',
      { pragma: 'no-cache', 'cache-control': 'max-stale' },
      1,
      60,
      true,
      'fresh',
    ],
    ['request max-age older', 'max-age=60', { 'cache-control': 'max-age=5' }, 10, 60, false, 'request'],
    ['request min-fresh', 'max-age=60', { 'cache-control': 'min-fresh=55' }, 10, 60, false, 'request'],
    ['max-stale allows stale', 'max-age=60', { 'cache-control': 'max-stale=30' }, 80, 60, true, 'stale'],
    ['max-stale too short', 'max-age=60', { 'cache-control': 'max-stale=10' }, 80, 60, false, 'stale'],
    [
      'must-revalidate forbids max-stale',
      'max-age=60, must-revalidate',
      { 'cache-control': 'max-stale' },
      80,
      60,
      false,
      'stale',
    ],
    ['s-maxage forbids max-stale', 's-maxage=60', { 'cache-control': 'max-stale' }, 80, 60, false, 'stale'],
  ])('%s', (_, cc, req, age, lifetime, ok, reason) => {
    expect(usable(stored(cc), h(req), age, lifetime)).toEqual({ ok, reason });
  });
});

describe('Vary (RFC 9111 4.1)', () => {
  test('names are lower-cased, sorted, deduplicated', () => {
    expect(varyNames(h({ vary: 'Accept-Language, accept ,ACCEPT' }))).toEqual(['accept', 'accept-language']);
  });
  test('Vary: * never matches', () => {
    expect(varyNames(h({ vary: 'accept, *' }))).toBeNull();
  });
  test('values: whitespace around commas does not matter, absent differs from empty', () => {
    const names = ['accept', 'accept-language'];
    expect(varyValues(names, h({ accept: 'a/b,  c/d' }))).toBe(varyValues(names, h({ accept: 'a/b, c/d' })));
    expect(varyValues(names, h({ accept: 'a/b' }))).not.toBe(varyValues(names, h({ accept: 'a/c' })));
    expect(varyValues(['x'], h({}))).not.toBe(varyValues(['x'], h({ x: '' })));
  });
});

describe('validation (RFC 9111 4.3)', () => {
  test('validators from ETag and Last-Modified', () => {
    expect(validators(h({ etag: '"a"', 'last-modified': date(NOW) }))).toEqual({
      'if-none-match': '"a"',
      'if-modified-since': date(NOW),
    });
    expect(validators(h({}))).toBeNull();
  });
  test('a 304 replaces stored fields but not those that describe the body', () => {
    const stored = h({ 'content-length': '5', etag: '"a"', 'cache-control': 'max-age=1', 'x-old': '1' });
    const fresh = h({ 'content-length': '0', 'cache-control': 'max-age=60', 'x-new': '2' });
    expect(updatedHeaders(stored, fresh)).toEqual([
      ['content-length', '5'],
      ['etag', '"a"'],
      ['x-old', '1'],
      ['cache-control', 'max-age=60'],
      ['x-new', '2'],
    ]);
  });
  test.each<[Record<string, string>, boolean]>([
    [{ 'if-none-match': '"a"' }, true],
    [{ 'if-none-match': 'W/"a"' }, true],
    [{ 'if-none-match': '"b", "a"' }, true],
    [{ 'if-none-match': '*' }, true],
    [{ 'if-none-match': '"b"' }, false],
    [{ 'if-none-match': '"b"', 'if-modified-since': date(NOW) }, false],
    [{ 'if-modified-since': date(NOW) }, true],
    [{ 'if-modified-since': date(NOW - 100) }, false],
    [{}, false],
  ])('client conditions %j -> 304: %s', (req, expected) => {
    expect(notModified(h(req), h({ etag: '"a"', 'last-modified': date(NOW - 10) }))).toBe(expected);
  });
});

describe('invalidation by unsafe methods (RFC 9111 4.4)', () => {
  const url = new URL('http://api.test/items/1');
  test.each<[string, number, Record<string, string>, string[]]>([
    [
      'POST',
      201,
      { location: '/items/2', 'content-location': 'http://other.test/x' },
      [url.href, 'http://api.test/items/2'],
    ],
    ['DELETE', 204, {}, [url.href]],
    ['PUT', 500, {}, []],
    ['GET', 200, {}, []],
    ['OPTIONS', 200, {}, []],
  ])('%s -> %i invalidates', (method, status, headers, expected) => {
    expect(invalidated(method, url, { status, headers: h(headers) }).map((u) => u.href)).toEqual(expected);
  });
});
