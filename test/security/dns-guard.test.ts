import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/config.ts';
import { findProxyError } from '../../src/core/errors.ts';
import type { Upstream } from '../../src/core/upstream.ts';
import { guardedConnector, nodeUpstream, type Resolve } from '../../src/node/upstream.ts';
import { errorCode, send, Trap } from './traps.ts';

/*
 * The Node upstream checks the address it actually connects to. DNS answers
 * come from an injected resolver (tests may not query real DNS nor connect to a
 * public address); refused connections aim at loopback traps that must see
 * nothing. `public.test` stands for a public site: a stub answers for it
 * without any network, so its redirects can be followed to the traps.
 */

/** A documentation-free public address that tests only classify, never reach. */
const PUBLIC = '93.184.216.34';

const DNS: Record<string, string[]> = {
  'public.test': [PUBLIC],
  'rebind.test': ['127.0.0.1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'ula.test': ['fd00:ec2::254'],
  'mixed.test': [PUBLIC, '127.0.0.1'],
  'empty.test': [],
};

function resolver(): Resolve & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const answer = DNS[hostname];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answer;
  };
  return Object.assign(resolve, { calls });
}

/** Runs the connector once; `connect` records what it would have connected to. */
function dial(hostname: string, resolve: Resolve) {
  const connected: buildConnector.Options[] = [];
  const connect = ((options, callback) => {
    connected.push(options);
    callback(new Error('recorded, not connected'), null);
  }) as buildConnector.connector;
  const connector = guardedConnector(resolve, connect);
  return new Promise<{ error: Error | null; connected: buildConnector.Options[] }>((done) => {
    connector({ hostname, host: hostname, protocol: 'https:', port: '443' }, (...[error]) =>
      done({ error, connected }),
    );
  });
}

describe('guardedConnector', () => {
  test('public.test -> resolved once, connected to the checked address with the name for TLS', async () => {
    const resolve = resolver();
    const { connected } = await dial('public.test', resolve);
    expect(resolve.calls).toEqual(['public.test']);
    expect(connected).toHaveLength(1);
    expect(connected[0]?.hostname).toBe(PUBLIC);
    expect(connected[0]?.servername).toBe('public.test');
  });

  test('a name that answers public first and loopback after -> connects to the first answer, never looks again', async () => {
    let calls = 0;
    const rebinding: Resolve = async () => (calls++ === 0 ? [PUBLIC] : ['127.0.0.1']);
    const { connected } = await dial('rebinding.test', rebinding);
    expect(calls).toBe(1);
    expect(connected.map((o) => o.hostname)).toEqual([PUBLIC]);
  });

  test.each(['rebind.test', 'mapped.test', 'metadata.test', 'ula.test', 'mixed.test', 'empty.test'])(
    '%s -> refused with target_not_allowed, nothing connected, the address not revealed',
    async (name) => {
      const { error, connected } = await dial(name, resolver());
      expect(connected).toHaveLength(0);
      expect(findProxyError(error)?.code).toBe('target_not_allowed');
      expect(error?.message).toContain(name);
      for (const address of DNS[name] ?? []) expect(error?.message).not.toContain(address);
    },
  );

  test.each(['127.0.0.1', '::1', '::ffff:127.0.0.1', '169.254.169.254'])(
    '%s (literal) -> refused without a DNS lookup',
    async (literal) => {
      const resolve = resolver();
      const { error, connected } = await dial(literal, resolve);
      expect(resolve.calls).toEqual([]);
      expect(connected).toHaveLength(0);
      expect(findProxyError(error)?.code).toBe('target_not_allowed');
    },
  );

  test('8.8.8.8 (literal) -> connected as it is, without a DNS lookup', async () => {
    const resolve = resolver();
    const { connected } = await dial('8.8.8.8', resolve);
    expect(resolve.calls).toEqual([]);
    expect(connected.map((o) => o.hostname)).toEqual(['8.8.8.8']);
  });

  test('nowhere.test (no DNS answer) -> the lookup error, not a refusal', async () => {
    const { error, connected } = await dial('nowhere.test', resolver());
    expect(connected).toHaveLength(0);
    expect((error as { code?: string }).code).toBe('ENOTFOUND');
  });
});

describe('the proxy with the Node upstream and an injected resolver', () => {
  let trap: Trap;
  let server: Server;
  let base = '';
  let limitedBase = '';
  let limited: Server;
  const stubAsked: string[] = [];

  /** `public.test` answered without network: redirects to `?to=`. */
  const publicSite: Upstream = async ({ url }) => {
    stubAsked.push(url.href);
    const to = url.searchParams.get('to') ?? '';
    const status = url.pathname === '/redirect307' ? 307 : 302;
    return { status, headers: new Headers({ location: to }), body: null };
  };

  function proxyServer(env: Record<string, string>): Promise<{ server: Server; base: string }> {
    const { upstream } = nodeUpstream({ allowPrivateNetwork: false, resolve: resolver() });
    const app = createApp(parseConfig(env), {
      upstream: (request) => (request.url.hostname === 'public.test' ? publicSite(request) : upstream(request)),
      clientAddress: () => '127.0.0.1',
    });
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    return once(s, 'listening').then(() => ({
      server: s,
      base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    }));
  }

  beforeAll(async () => {
    trap = (await Trap.open('127.0.0.1')) as Trap;
    ({ server, base } = await proxyServer({}));
    ({ server: limited, base: limitedBase } = await proxyServer({ CORSWAY_ALLOW_TARGETS: 'public.test' }));
  });
  afterAll(async () => {
    for (const s of [server, limited]) {
      s.closeAllConnections();
      s.close();
    }
    await trap.close();
  });

  const cases = [
    'GET /http://rebind.test:{trap}/',
    'GET /http://mapped.test:{trap}/admin',
    'GET /http://public.test/redirect?to=http://127.0.0.1:{trap}/',
    'GET /http://public.test/redirect?to=http://rebind.test:{trap}/',
    'GET /http://public.test/redirect?to=http://[::ffff:7f00:1]:{trap}/',
    'GET /http://public.test/redirect?to=http://mixed.test:{trap}/',
    'POST /http://public.test/redirect307?to=http://localhost:{trap}/',
    'POST /http://public.test/redirect307?to=http://rebind.test:{trap}/',
  ];

  test.each(cases)('%s -> 403 target_not_allowed, the trap sees nothing', async (line) => {
    const [method = 'GET', path = ''] = line.split(' ');
    const res = await send(base, path.replaceAll('{trap}', String(trap.port)), {
      method,
      body: method === 'POST' ? 'password=hunter2' : undefined,
    });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('target_not_allowed');
    // The user typed a name; the answer must not tell them what it resolved to.
    expect(res.body).not.toContain('127.0.0.1:');
    expect(trap.connections).toBe(0);
  });

  test('GET /http://rebind.test:{trap}/ -> the message names rebind.test, not 127.0.0.1', async () => {
    const res = await send(base, `/http://rebind.test:${trap.port}/`);
    expect(JSON.parse(res.body).message).toContain('rebind.test resolves to a private');
    expect(res.body).not.toContain('127.0.0.1');
  });

  test('GET /http://public.test/redirect?to=http://other.test/ with CORSWAY_ALLOW_TARGETS=public.test -> 403, other.test never asked', async () => {
    stubAsked.length = 0;
    const res = await send(limitedBase, '/http://public.test/redirect?to=http://other.test/');
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('target_not_allowed');
    expect(stubAsked).toEqual(['http://public.test/redirect?to=http://other.test/']);
  });
});
