import { describe, expect, test } from 'vitest';
import { RUNTIMES } from '../support/runtimes.ts';
import { sharedProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

describe.each(RUNTIMES)('%s: basics', (runtime) => {
  const upstream = new Upstream({
    '/plain': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-custom': 'yes' });
      res.end('hello');
    },
  });

  const proxy = suiteProxy(sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }), upstream);

  test('GET /http://127.0.0.1:<port>/plain -> 200 with the origin reflected and headers exposed', async () => {
    const res = await fetch(`${proxy.url}/${upstream.origin}/plain`, { headers: { origin: 'https://app.test' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
    expect(res.headers.get('vary')).toMatch(/origin/i);
    expect(res.headers.get('access-control-expose-headers')).toContain('x-custom');
    expect(res.headers.get('x-request-url')).toBe(`${upstream.origin}/plain`);
  });

  test('GET /healthz -> 200', async () => {
    const res = await fetch(`${proxy.url}/healthz`);
    expect(res.status).toBe(200);
  });
});
