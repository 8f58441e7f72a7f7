import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { errorCode, send, Trap } from './traps.ts';

/*
 * Every redirect hop passes exactly the target rules the first URL passes
 * (core/target.ts checkTarget, called for each hop by core/upstream.ts
 * forward): userinfo, host syntax, name length, bad ports, allow-targets,
 * addresses. The upstream on loopback redirects wherever `?to=` says; the
 * proxy allows private targets (that upstream is one), so only the rules
 * under test stand between a redirect and the trap.
 */

const LONG_LABEL = 'a'.repeat(64);

describe.each(RUNTIMES)('%s: redirect hops meet the first URL rules', (runtime) => {
  const upstream = new Upstream({
    '/redirect': (req, res) => {
      const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
      res.writeHead(302, { location: to, 'content-length': '0' });
      res.end();
    },
  });
  let trap: Trap;
  let proxy: FreshProxy;

  const started = freshProxy(runtime, {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_ALLOW_TARGETS: '127.0.0.1,*.example.com',
  });
  beforeAll(async () => {
    await upstream.start();
    trap = (await Trap.open('127.0.0.1')) as Trap;
    proxy = await started;
  });
  afterAll(async () => {
    await trap?.close();
    await upstream.stop();
  });

  test.each<[string, number, string]>([
    ['http://user:secret@127.0.0.1:{trap}/', 400, 'invalid_target'],
    ['http://:secret@127.0.0.1:{trap}/', 400, 'invalid_target'],
    ['http://intranet:{trap}/', 400, 'invalid_target'],
    [`http://${LONG_LABEL}.example.com:{trap}/`, 400, 'invalid_target'],
    [`http://${'abcdefghi.'.repeat(25)}example.com:{trap}/`, 400, 'invalid_target'],
    ['http://127.0.0.1:22/', 403, 'target_not_allowed'],
    ['http://elsewhere.example.org:{trap}/', 403, 'target_not_allowed'],
    ['ftp://127.0.0.1:{trap}/', 403, 'target_not_allowed'],
  ])('GET /<upstream>/redirect?to=%s -> %i %s, the trap sees nothing', async (to, status, code) => {
    const location = to.replace('{trap}', String(trap.port));
    const res = await send(proxy.url, `/${upstream.origin}/redirect?to=${encodeURIComponent(location)}`, {
      headers: { origin: 'https://app.example' },
    });
    expect([res.status, errorCode(res)], res.body).toEqual([status, code]);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.body).toMatch(/redirected/);
    expect(res.body).not.toContain('secret');
    expect(res.headers['x-final-url']).toBeUndefined();
    expect(trap.connections).toBe(0);
  });

  test('the same URLs given directly get the same answers', async () => {
    for (const [target, status] of [
      [`http://user:secret@127.0.0.1:${trap.port}/`, 400],
      [`http://intranet:${trap.port}/`, 400],
      [`http://${LONG_LABEL}.example.com:${trap.port}/`, 400],
    ] as const) {
      expect((await send(proxy.url, `/${target}`)).status).toBe(status);
    }
    expect(trap.connections).toBe(0);
  });
});
