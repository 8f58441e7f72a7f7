import { describe, expect, test } from 'vitest';
import { originMatcher, parseOriginPattern } from '../../src/core/origin.ts';

function matcher(...entries: string[]) {
  return originMatcher(entries.map(parseOriginPattern));
}

describe('origin lists', () => {
  test.each([
    // [entry, request Origin, matches]
    ['https://app.example.com', 'https://app.example.com', true],
    ['https://app.example.com/', 'https://app.example.com', true],
    ['https://APP.Example.COM', 'https://app.example.com', true],
    ['https://app.example.com', 'https://APP.EXAMPLE.COM', true],
    ['https://app.example.com:443', 'https://app.example.com', true],
    ['https://app.example.com', 'https://app.example.com:443', true],
    ['http://app.example.com:80/', 'http://app.example.com', true],
    ['https://app.example.com', 'http://app.example.com', false],
    ['https://app.example.com', 'https://app.example.com:8443', false],
    ['https://app.example.com:8443', 'https://app.example.com:8443', true],
    ['https://app.example.com', 'https://app.example.com.evil.com', false],
    ['https://app.example.com', 'https://evil.com/https://app.example.com', false],
    ['https://app.example.com', 'https://app.example.com/path', false],
    ['https://app.example.com', 'https://user@app.example.com', false],
    ['https://app.example.com', 'not an origin', false],
    ['https://app.example.com', '', false],
    // One host, one spelling: a trailing dot, case and IDNA compare equal on both sides.
    ['https://bad.example', 'https://bad.example.', true],
    ['https://bad.example.', 'https://bad.example', true],
    ['https://bad.example', 'https://BAD.example.', true],
    ['https://bücher.example', 'https://xn--bcher-kva.example', true],
    ['https://xn--bcher-kva.example', 'https://bücher.example', true],
    ['https://*.example.com', 'https://a.example.com.', true],
    ['https://*.example.com.', 'https://a.example.com', true],
    ['https://*.example.com', 'https://example.com.', false],
    ['https://*.example.com', 'https://a.example.com', true],
    ['https://*.example.com', 'https://a.b.c.example.com', true],
    ['https://*.example.com', 'https://A.EXAMPLE.com', true],
    ['https://*.example.com/', 'https://a.example.com', true],
    ['https://*.example.com', 'https://example.com', false],
    ['https://*.example.com', 'https://evil-example.com', false],
    ['https://*.example.com', 'https://example.com.evil.com', false],
    ['https://*.example.com', 'https://a.example.com.evil.com', false],
    ['https://*.example.com', 'https://notexample.com', false],
    ['https://*.example.com', 'https://.example.com', false],
    ['https://*.example.com', 'http://a.example.com', false],
    ['https://*.example.com', 'https://a.example.com:8443', false],
    ['https://*.example.com:8443', 'https://a.example.com:8443', true],
    ['http://localhost:5173', 'http://localhost:5173', true],
    ['http://localhost:5173', 'http://127.0.0.1:5173', false],
    ['null', 'null', true],
    ['NULL', 'null', true],
    ['https://app.example.com', 'null', false],
    ['https://*.example.com', 'null', false],
    ['null', 'https://app.example.com', false],
  ])('entry %s, Origin: %s -> %s', (entry, origin, expected) => {
    expect(matcher(entry)(origin)).toBe(expected);
  });

  test('a list matches when any entry matches', () => {
    const m = matcher('https://a.test', 'https://*.b.test', 'null');
    expect(['https://a.test', 'https://x.b.test', 'null'].map(m)).toEqual([true, true, true]);
    expect(['https://b.test', 'https://c.test'].map(m)).toEqual([false, false]);
  });

  test.each([
    ['app.example.com', /is not an origin/],
    ['localhost:3000', /must start with http/],
    ['ftp://example.com', /must start with http/],
    ['https://app.example.com/path', /without a path/],
    ['https://app.example.com?x=1', /without a path/],
    ['https://user@app.example.com', /without a path/],
    ['*', /is not an origin/],
    ['https://*', /wildcard/],
    ['https://*example.com', /wildcard/],
    ['https://a.*.example.com', /wildcard/],
    ['https://*.*.example.com', /wildcard/],
    ['https://*.1.2.3', /wildcard/],
  ])('entry %s is refused at startup', (entry, message) => {
    expect(() => parseOriginPattern(entry)).toThrow(message);
  });
});
