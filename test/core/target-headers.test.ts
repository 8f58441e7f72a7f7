import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { targetHeaderTable } from '../../src/core/target-headers.ts';

const parseTargetHeaders = (json: string) =>
  targetHeaderTable(
    parseConfig({ CORSWAY_TARGET_HEADERS: json, CORSWAY_ALLOW_ORIGINS: 'https://app.example' }).targetHeaders,
  );

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
});
