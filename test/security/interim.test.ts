import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { INTERIM_ANSWERS, InterimTarget } from '../support/interim-target.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { type SharedProxy, sharedProxy } from '../support/shared-proxy.ts';
import { errorCode, send } from './traps.ts';

/*
 * Interim 1xx responses before the final one (RFC 9110 15.2: a client must
 * accept them, even unasked). Node skips them and relays the final response.
 * The Worker cannot: workerd's fetch hands back the first 1xx as the response,
 * with the rest of the connection (the final response as raw HTTP) as its
 * body, so it answers a 502 that says so (docs/deploy-workers.md). The Worker's
 * cases pin that, so they fail once workerd passes the final response on.
 */

const target = new InterimTarget();

beforeAll(() => target.start());
afterAll(() => target.stop());

describe.each(RUNTIMES)('%s: interim 1xx responses of the target', (runtime) => {
  let proxy: SharedProxy;
  const started = sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
  beforeAll(async () => {
    proxy = await started;
  });

  if (runtime === 'node') {
    test.each(Object.keys(INTERIM_ANSWERS))('GET /<target>%s -> 200, the final response relayed', async (path) => {
      const res = await send(proxy.url, `/${target.origin}${path}`);
      expect(res.status, res.body).toBe(200);
      expect(res.body).toBe('final');
      expect(res.headers['x-final']).toBe('yes');
      // The hints were for the interim response; they are not the final one's.
      expect(res.headers.link).toBeUndefined();
    });

    test.each(['/continue', '/early-hints'])(
      'POST /<target>%s with a body -> 200, the final response relayed',
      async (path) => {
        const res = await send(proxy.url, `/${target.origin}${path}`, { method: 'POST', body: 'x'.repeat(1000) });
        expect(res.status, res.body).toBe(200);
        expect(res.body).toBe('final');
      },
    );

    test('the same pooled connection, five times in a row -> 200 each time', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await send(proxy.url, `/${target.origin}${i % 2 ? '/continue' : '/early-hints'}`);
        expect(res.status, res.body).toBe(200);
        expect(res.body).toBe('final');
      }
    });
  } else {
    test.each([
      ['/early-hints', 103],
      ['/continue', 100],
      ['/continue-then-hints', 100],
      ['/together', 100],
    ])('GET /<target>%s -> 502 upstream_failed naming the interim %i response', async (path, status) => {
      const res = await send(proxy.url, `/${target.origin}${path}`);
      expect(res.status, res.body).toBe(502);
      expect(errorCode(res)).toBe('upstream_failed');
      expect(JSON.parse(res.body).message).toMatch(
        new RegExp(`interim ${status} response .*Workers runtime cannot pass on`),
      );
      expect(res.headers['access-control-allow-origin']).toBe('*');
      // Nothing of the final response, which workerd left inside the 1xx's body, leaks out.
      expect(res.headers['x-final']).toBeUndefined();
      expect(res.headers.link).toBeUndefined();
    });

    test('POST /<target>/continue with a body -> 502 upstream_failed', async () => {
      const res = await send(proxy.url, `/${target.origin}/continue`, { method: 'POST', body: 'x'.repeat(1000) });
      expect(res.status, res.body).toBe(502);
      expect(errorCode(res)).toBe('upstream_failed');
    });
  }
});
