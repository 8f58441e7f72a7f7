import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { ProxyError } from '../../src/core/errors.ts';
import { Fields } from '../../src/core/fields.ts';
import { checkOrigin, checkRequest } from '../../src/core/policy.ts';

function refusalOf(run: () => void): ProxyError | null {
  try {
    run();
    return null;
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
}

describe('checkRequest: the required header', () => {
  test.each<[string, Record<string, string>, string | null, RegExp | null, RegExp | null]>([
    ['x-requested-with', {}, 'missing_header', /the request header: x-requested-with\./, /Origin/],
    [
      'x-requested-with,x-api-client',
      {},
      'missing_header',
      /one of these request headers: x-requested-with, x-api-client\./,
      /Origin/,
    ],
    ['origin,x-requested-with', {}, 'missing_header', /origin, x-requested-with\. Browsers send Origin/, null],
    ['x-requested-with', { 'x-requested-with': 'XMLHttpRequest' }, null, null, null],
    ['', {}, null, null, null],
  ])('CORSWAY_REQUIRE_HEADER=%s, headers %o -> %s', (list, headers, code, says, never) => {
    const config = parseConfig({ CORSWAY_REQUIRE_HEADER: list });
    const refused = refusalOf(() => checkRequest(config, 'GET', new Fields(headers)));
    expect(refused?.code ?? null).toBe(code);
    if (says) expect(refused?.message).toMatch(says);
    if (never) expect(refused?.message).not.toMatch(never);
  });
});

describe('checkRequest: methods, upgrades and loops', () => {
  const config = parseConfig({});
  test.each<[string, Record<string, string>, string | null]>([
    ['TRACE', {}, 'method_not_allowed'],
    ['track', {}, 'method_not_allowed'],
    ['CONNECT', {}, 'method_not_allowed'],
    ['GET', { upgrade: 'websocket' }, 'method_not_allowed'],
    ['GET', { via: '1.1 corsway' }, 'loop_detected'],
    ['GET', { via: '1.0 other, 1.1 CorsWay' }, 'loop_detected'],
    ['GET', { via: '1.1 other' }, null],
    ['PATCH', {}, null],
  ])('%s %o -> %s', (method, headers, code) => {
    expect(refusalOf(() => checkRequest(config, method, new Fields(headers)))?.code ?? null).toBe(code);
  });
});

describe('checkOrigin: one spelling per host', () => {
  const config = parseConfig({
    CORSWAY_ALLOW_ORIGINS: 'https://app.example,https://*.apps.example',
    CORSWAY_BLOCK_ORIGINS: 'https://bad.apps.example',
  });
  test.each<[string | null, boolean]>([
    ['https://app.example', true],
    ['https://app.example.', true],
    ['https://x.apps.example.', true],
    ['https://bad.apps.example', false],
    ['https://bad.apps.example.', false],
    ['https://BAD.apps.example.', false],
    ['https://other.example', false],
    [null, false],
  ])('Origin %s -> allowed %s', (origin, allowed) => {
    expect(refusalOf(() => checkOrigin(config, origin)) === null).toBe(allowed);
  });
});
