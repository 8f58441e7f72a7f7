import { describe, expect, test } from 'vitest';
import { errorCode, send } from '../support/client.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

describe.each(RUNTIMES)('%s: origin lists and required headers', (runtime) => {
  const upstream = new Upstream();
  const xrw = { 'x-requested-with': 'XMLHttpRequest' };

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_ALLOW_ORIGINS: 'https://app.test/, https://*.example.com',
      CORSWAY_BLOCK_ORIGINS: 'https://bad.example.com',
      CORSWAY_REQUIRE_HEADER: 'x-requested-with, x-api-client',
    }),
    upstream,
  );

  /** Sends through the proxy and tells whether the target saw the request. */
  async function proxied(headers: Record<string, string>, method = 'GET') {
    const before = upstream.hits.length;
    const res = await send(`${proxy.url}/${upstream.origin}/data`, { method, headers });
    return { res, reached: upstream.hits.length > before };
  }

  test.each(['https://app.test', 'https://a.example.com', 'https://a.b.example.com'])(
    'GET with Origin: %s -> 200, origin reflected',
    async (origin) => {
      const { res, reached } = await proxied({ origin, ...xrw });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(reached).toBe(true);
    },
  );

  test.each([
    'https://example.com',
    'https://evil-example.com',
    'https://example.com.evil.com',
    'https://notexample.com',
    'http://app.test',
    'https://app.test:8443',
    'https://bad.example.com',
    'null',
  ])('GET with Origin: %s -> 403 origin_not_allowed, readable by that page', async (origin) => {
    const { res, reached } = await proxied({ origin, ...xrw });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('origin_not_allowed');
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(reached).toBe(false);
  });

  test('GET without Origin -> 403 origin_not_allowed (an allow list is set)', async () => {
    const { res, reached } = await proxied(xrw);
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('origin_not_allowed');
    expect(JSON.parse(res.body).message).toMatch(/no Origin header/);
    expect(reached).toBe(false);
  });

  test('OPTIONS preflight from https://bad.example.com -> 403 origin_not_allowed', async () => {
    const { res } = await proxied(
      { origin: 'https://bad.example.com', 'access-control-request-method': 'PUT' },
      'OPTIONS',
    );
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('origin_not_allowed');
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('OPTIONS preflight from https://a.example.com -> 204, no required header needed', async () => {
    const { res, reached } = await proxied(
      { origin: 'https://a.example.com', 'access-control-request-method': 'PUT' },
      'OPTIONS',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://a.example.com');
    expect(reached).toBe(false);
  });

  test('GET from an allowed origin without X-Requested-With or X-Api-Client -> 400 missing_header naming both', async () => {
    const { res, reached } = await proxied({ origin: 'https://app.test' });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('missing_header');
    expect(JSON.parse(res.body).message).toContain('x-requested-with, x-api-client');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
    expect(reached).toBe(false);
  });

  test('GET with X-Api-Client only -> 200 (one of the headers is enough)', async () => {
    const { res } = await proxied({ origin: 'https://app.test', 'x-api-client': 'demo' });
    expect(res.status).toBe(200);
  });

  test('GET / without Origin -> 200 help page listing the active policy', async () => {
    const res = await send(`${proxy.url}/`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('Allowed origins: https://app.test/, https://*.example.com');
    expect(res.body).toContain('Blocked origins: https://bad.example.com');
    expect(res.body).toContain('Required headers: one of x-requested-with, x-api-client');
  });
});
