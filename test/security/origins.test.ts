import { describe, expect, test } from 'vitest';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { errorCode, send } from './traps.ts';

/*
 * Origin lists compare one spelling per host (core/host.ts): a trailing dot,
 * case or a Unicode name never slips a blocked origin past its entry, exact
 * or wildcard, on a request or on its preflight.
 */

describe.each(RUNTIMES)('%s: blocked origins in every spelling', (runtime) => {
  const upstream = new Upstream();

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_BLOCK_ORIGINS: 'https://bad.example,https://*.evil.example,https://bücher.example',
    }),
    upstream,
  );

  test.each([
    'https://bad.example',
    'https://bad.example.',
    'https://BAD.example.',
    'https://bad.example.:443',
    'https://x.evil.example.',
    'https://deep.x.Evil.Example.',
    'https://xn--bcher-kva.example',
    'https://xn--bcher-kva.example.',
  ])('GET /<upstream>/ with Origin: %s -> 403 origin_not_allowed, the target never asked', async (origin) => {
    const before = upstream.hits.length;
    const res = await send(proxy.url, `/${upstream.origin}/`, { headers: { origin } });
    expect([res.status, errorCode(res)]).toEqual([403, 'origin_not_allowed']);
    expect(res.headers['access-control-allow-origin']).toBe(origin);
    const preflight = await send(proxy.url, `/${upstream.origin}/`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PUT' },
    });
    expect([preflight.status, errorCode(preflight)]).toEqual([403, 'origin_not_allowed']);
    expect(upstream.hits.length).toBe(before);
  });

  test('GET /<upstream>/ with Origin: https://good.example. -> 200', async () => {
    const res = await send(proxy.url, `/${upstream.origin}/`, { headers: { origin: 'https://good.example.' } });
    expect(res.status).toBe(200);
  });
});
