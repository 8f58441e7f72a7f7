import { expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/config.ts';
import type { Upstream } from '../../src/core/upstream.ts';

/*
 * The Node upstream bounds DNS lookups per client (src/node/resolver.ts), so
 * every route that fetches a target must tell it whose request it is.
 */
const seen: (string | undefined)[] = [];
const upstream: Upstream = async (request) => {
  seen.push(request.client?.());
  return { status: 200, headers: new Headers({ 'content-type': 'text/plain' }), body: null };
};
const app = createApp(parseConfig({}), { upstream, clientAddress: () => '203.0.113.7' });

test.each([
  'GET /https://api.example.com/x',
  'GET /?url=https%3A%2F%2Fapi.example.com%2Fx',
  'GET /diagnose/https://api.example.com/x?origin=https://app.example.com',
])('%s -> the upstream is told the client address', async (line) => {
  seen.length = 0;
  const res = await app.fetch(new Request(`http://proxy.test${line.slice(4)}`));
  expect(res.status).toBe(200);
  expect(seen.length).toBeGreaterThan(0);
  expect(new Set(seen)).toEqual(new Set(['203.0.113.7']));
});
