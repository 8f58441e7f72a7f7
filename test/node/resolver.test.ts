import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findProxyError } from '../../src/core/errors.ts';
import { corsway } from '../../src/index.ts';
import { parseHosts } from '../../src/node/hosts.ts';
import { createResolver, type NodeResolver, type ResolverOptions } from '../../src/node/resolver.ts';
import { nodeUpstream } from '../../src/node/upstream.ts';
import { DnsServer } from '../support/dns-server.ts';
import { Upstream } from '../support/upstream.ts';

describe('parseHosts', () => {
  test.each([
    ['127.0.0.1 localhost', { localhost: ['127.0.0.1'] }],
    ['10.0.0.5\tdb.internal  db   # the database', { 'db.internal': ['10.0.0.5'], db: ['10.0.0.5'] }],
    ['# 10.0.0.9 commented.out\n\n   \n', {}],
    ['10.0.0.1 Mixed.Case.Example.', { 'mixed.case.example': ['10.0.0.1'] }],
    ['10.0.0.1 two.example\n::1 two.example\n10.0.0.1 two.example', { 'two.example': ['10.0.0.1', '::1'] }],
    ['fe80::1%eth0 link.example', { 'link.example': ['fe80::1'] }],
    ['not-an-ip some.example\n300.1.1.1 bad.example', {}],
    [
      '192.0.2.1 crlf.example\r\n192.0.2.2 next.example\r\n',
      { 'crlf.example': ['192.0.2.1'], 'next.example': ['192.0.2.2'] },
    ],
  ])('%j', (text, table) => {
    expect(Object.fromEntries(parseHosts(text))).toEqual(table);
  });
});

describe('createResolver (c-ares against a DNS server on 127.0.0.1)', () => {
  const dns = new DnsServer({
    'both.test': { addresses: ['2001:db8::1', '192.0.2.1'], ttl: 60 },
    'short.test': { addresses: ['192.0.2.2'], ttl: 1 },
    'silent.test': 'silent',
    'silent2.test': 'silent',
    'silent3.test': 'silent',
    'healthy.test': { addresses: ['192.0.2.3'] },
    'shared.test': { addresses: ['192.0.2.4'] },
  });
  let resolver: NodeResolver;
  const make = (options: ResolverOptions = {}) =>
    createResolver({
      servers: [`127.0.0.1:${dns.port}`],
      timeoutMs: 300,
      tries: 1,
      hosts: parseHosts('10.9.9.9 db.internal\n'),
      failureTtlMs: 300,
      ...options,
    });
  const asked = (name: string) => dns.queries.filter((q) => q.startsWith(`${name} `)).length;

  beforeAll(async () => {
    await dns.start();
    resolver = make();
  });
  afterAll(async () => {
    resolver.close();
    await dns.stop();
  });

  test('both.test -> every address, IPv4 first; asked once (A and AAAA), then answered from the cache', async () => {
    expect(await resolver.resolve('both.test')).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(await resolver.resolve('BOTH.test.')).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(asked('both.test')).toBe(2);
    expect(resolver.known('both.test')).toBe(true);
  });

  test('short.test (TTL 1 s) -> asked again once the TTL has passed', async () => {
    await resolver.resolve('short.test');
    await resolver.resolve('short.test');
    expect(asked('short.test')).toBe(2);
    await new Promise((r) => setTimeout(r, 1100));
    expect(resolver.known('short.test')).toBe(false);
    await resolver.resolve('short.test');
    expect(asked('short.test')).toBe(4);
  });

  test('nowhere.test (NXDOMAIN) -> ENOTFOUND, remembered briefly, then asked again', async () => {
    await expect(resolver.resolve('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(asked('nowhere.test')).toBe(2);
    await new Promise((r) => setTimeout(r, 350));
    await expect(resolver.resolve('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(asked('nowhere.test')).toBe(4);
  });

  test('silent.test (no answer) -> EAI_AGAIN within the resolver timeout', async () => {
    const started = Date.now();
    await expect(resolver.resolve('silent.test')).rejects.toMatchObject({ code: 'EAI_AGAIN' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('db.internal (hosts file) and localhost -> answered without asking DNS', async () => {
    expect(await resolver.resolve('db.internal')).toEqual(['10.9.9.9']);
    expect(await resolver.resolve('localhost')).toEqual(['127.0.0.1', '::1']);
    expect(await resolver.resolve('app.localhost')).toEqual(['127.0.0.1', '::1']);
    expect(dns.queries.filter((q) => /internal|localhost/.test(q))).toEqual([]);
  });

  test('ten concurrent lookups of shared.test -> one query of each type', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => resolver.lookup('shared.test', `c${i}`)));
    expect(new Set(answers.map((a) => a.join()))).toEqual(new Set(['192.0.2.4']));
    expect(asked('shared.test')).toBe(2);
  });

  test('a client over its bound of waiting lookups -> 429 rate_limited at once; another client is still served', async () => {
    const bounded = make({ perClient: 2, timeoutMs: 1000 });
    try {
      const waiting = [bounded.lookup('silent2.test', 'a'), bounded.lookup('silent3.test', 'a')];
      for (const w of waiting) w.catch(() => {});
      const started = Date.now();
      const over = await bounded.lookup('healthy.test', 'a').catch((error: unknown) => error);
      expect(Date.now() - started).toBeLessThan(100);
      expect(findProxyError(over)?.code).toBe('rate_limited');
      expect(findProxyError(over)?.headers['retry-after']).toBe('1');
      expect(findProxyError(over)?.message).toContain('2 host names being looked up');
      expect(await bounded.lookup('healthy.test', 'b')).toEqual(['192.0.2.3']);
      await Promise.allSettled(waiting);
      // Once the lookups ended, the client's bound is free again.
      expect(await bounded.lookup('healthy.test', 'a')).toEqual(['192.0.2.3']);
    } finally {
      bounded.close();
    }
  });
});

describe('nodeUpstream: which requests ask DNS under the client bound', () => {
  const dns = new DnsServer({ 'named.test': { addresses: ['127.0.0.1'] }, 'foo.a1': { addresses: ['127.0.0.1'] } });
  const site = new Upstream({
    '/': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
  });
  let app: ReturnType<typeof corsway>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    await dns.start();
    await site.start();
    // A bound of 0: every lookup that has to ask DNS is refused, so the cases below show which ones do.
    const node = nodeUpstream({
      allowPrivateNetwork: true,
      dns: { servers: [`127.0.0.1:${dns.port}`], perClient: 0, hosts: parseHosts('127.0.0.1 hosted.test\n') },
    });
    close = node.close;
    app = corsway({ upstream: node.upstream, allowPrivateNetwork: true });
  });
  afterAll(async () => {
    await close();
    await site.stop();
    await dns.stop();
  });

  test.each([
    ['127.0.0.1', 200],
    ['2130706433', 200],
    ['hosted.test', 200],
    ['localhost', 200],
    ['named.test', 429],
    ['foo.a1', 429],
  ])('GET /http://%s:<port>/ with a bound of 0 -> %i', async (host, status) => {
    const res = await app.fetch(new Request(`http://corsway.test/http://${host}:${site.port}/`));
    expect(res.status).toBe(status);
    if (status === 429) expect(((await res.json()) as { error: string }).error).toBe('rate_limited');
    expect(dns.queries).toEqual([]);
  });
});
