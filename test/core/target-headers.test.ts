import { describe, expect, test } from 'vitest';
import { parseTargetHeaders } from '../../src/core/target-headers.ts';

const SECRET = 'Bearer s3cr3t-value-never-shown';

describe('target headers', () => {
  const headers = parseTargetHeaders(
    JSON.stringify({
      'api.example.com': { Authorization: SECRET },
      '*.example.com': { 'X-Api-Key': 'wild' },
      '*.eu.example.com': { 'X-Api-Key': 'eu' },
    }),
  );

  test.each([
    ['api.example.com', [['authorization', SECRET]]],
    ['API.Example.com.', [['authorization', SECRET]]],
    ['other.example.com', [['x-api-key', 'wild']]],
    ['a.eu.example.com', [['x-api-key', 'eu']]],
    ['eu.example.com', [['x-api-key', 'wild']]],
    ['example.com', null],
    ['evilexample.com', null],
    ['api.example.com.evil.net', null],
  ])('a request to %s gets the most specific entry: %j', (host, expected) => {
    expect(headers.forHost(host)).toEqual(expected);
  });

  test('the host names are shown, the values never', () => {
    expect(headers.hosts).toEqual(['api.example.com', '*.example.com', '*.eu.example.com']);
  });

  test.each([
    ['[]', /expected a JSON object/],
    ['{"api.example.com": "x"}', /"api.example.com": expected an object/],
    ['{"https://api.example.com/": {"a": "b"}}', /is not a host name/],
    [`{"api.example.com": {"Host": "${SECRET}"}}`, /Host is set by the proxy itself/],
    [`{"api.example.com": {"X-Corsway-Key": "${SECRET}"}}`, /X-Corsway-Key is set by the proxy itself/],
    [`{"api.example.com": {"Bad Name": "${SECRET}"}}`, /"Bad Name" is not a header name/],
    [
      `{"api.example.com": {"Authorization": "${SECRET}\\r\\nX: y"}}`,
      /value of Authorization must be a string on one line/,
    ],
    ['{"api.example.com": {"Authorization": 5}}', /value of Authorization must be a string/],
  ])('%s is refused (%s) without quoting a value', (json, message) => {
    let thrown: unknown;
    try {
      parseTargetHeaders(json);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain('s3cr3t');
  });
});
