import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import { send } from '../support/client.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

/** A body larger than the entry bound of a cache of CACHE_BYTES (an eighth of it). */
const CACHE_BYTES = 64 * 1024;
const LARGE = 'x'.repeat(100 * 1024);

function json(res: ServerResponse, headers: Record<string, string>, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

describe.each(RUNTIMES)('%s: shared cache (CORSWAY_CACHE=on)', (runtime) => {
  let version = 0;
  const upstream = new Upstream({
    '/fresh': (_req, res) => json(res, { 'cache-control': 'max-age=300' }, '{"n":1}'),
    '/no-store': (_req, res) => json(res, { 'cache-control': 'no-store' }, '{}'),
    '/private': (_req, res) => json(res, { 'cache-control': 'private, max-age=300' }, '{}'),
    '/public': (_req, res) => json(res, { 'cache-control': 'public, max-age=300' }, '{}'),
    '/vary-star': (_req, res) => json(res, { 'cache-control': 'max-age=300', vary: '*' }, '{}'),
    '/cookie': (_req, res) => json(res, { 'cache-control': 'max-age=300', 'set-cookie': 'id=secret' }, '{}'),
    '/lang': (req, res) =>
      json(res, { 'cache-control': 'max-age=300', vary: 'Accept-Language' }, `"${req.headers['accept-language']}"`),
    '/validate': (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache', 'x-version': String(++version) });
        res.end();
        return;
      }
      json(res, { etag: '"v1"', 'cache-control': 'no-cache', 'x-version': String(++version) }, '{"v":1}');
    },
    '/slow': (_req, res) => {
      setTimeout(() => json(res, { 'cache-control': 'max-age=300' }, '{"slow":true}'), 300);
    },
    '/large': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300' });
      res.flushHeaders();
      // In pieces over time, beginning once every request has arrived.
      setTimeout(() => {
        let sent = 0;
        const tick = setInterval(() => {
          res.write(LARGE.slice(sent, sent + 4 * 1024));
          sent += 4 * 1024;
          if (sent >= LARGE.length) {
            clearInterval(tick);
            res.end();
          }
        }, 10);
      }, 300);
    },
  });
  const count = (path: string) => upstream.hits.filter((hit) => hit.url === path).length;
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    send(`${proxy.url}/${upstream.origin}${path}`, { method, headers });

  // The Worker's store is the Cache API, which wrangler dev provides and plain workerd does not.
  const proxy = suiteProxy(
    freshProxy(
      runtime,
      {
        CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
        CORSWAY_CACHE: 'on',
        CORSWAY_CACHE_BYTES: String(CACHE_BYTES),
        CORSWAY_RATE_LIMIT: '1000/1h',
      },
      { wranglerDev: true },
    ),
    upstream,
  );

  test('GET a max-age=300 target twice -> stored, then a hit that never reaches the target, with Age', async () => {
    const first = await get('/fresh?a');
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-status')).toBe('corsway; fwd=uri-miss; stored');
    const second = await get('/fresh?a');
    expect(second.body).toBe('{"n":1}');
    expect(second.headers.get('cache-status')).toMatch(/^corsway; hit; ttl=\d+$/);
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(second.headers.get('access-control-expose-headers')).toMatch(/\bage\b/);
    expect(second.headers.get('access-control-expose-headers')).toMatch(/\bcache-status\b/);
    expect(count('/fresh?a')).toBe(1);
  });

  test('a hit spends rate-limit budget like any request, and carries its own X-Request-URL', async () => {
    const first = await get('/fresh?budget');
    const second = await get('/fresh?budget');
    expect(second.headers.get('cache-status')).toMatch(/hit/);
    expect(Number(second.headers.get('ratelimit-remaining'))).toBe(
      Number(first.headers.get('ratelimit-remaining')) - 1,
    );
    expect(second.headers.get('x-request-url')).toBe(`${upstream.origin}/fresh?budget`);
  });

  test('two origins asking for the same cached target each get their own Access-Control-Allow-Origin', async () => {
    const a = await get('/fresh?origins', { origin: 'https://a.test' });
    const b = await get('/fresh?origins', { origin: 'https://b.test' });
    expect(b.headers.get('cache-status')).toMatch(/hit/);
    expect(a.headers.get('access-control-allow-origin')).toBe('https://a.test');
    expect(b.headers.get('access-control-allow-origin')).toBe('https://b.test');
    expect(b.headers.get('vary')).toMatch(/origin/i);
    expect(count('/fresh?origins')).toBe(1);
  });

  test('HEAD after a stored GET is served from it', async () => {
    await get('/fresh?head');
    const head = await get('/fresh?head', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.get('cache-status')).toMatch(/hit/);
    expect(count('/fresh?head')).toBe(1);
  });

  test.each([
    ['/no-store', {}, 'no-store'],
    ['/private', {}, 'private'],
    ['/fresh?auth', { authorization: 'Bearer t' }, 'authorization'],
    ['/vary-star', {}, 'vary'],
  ])('GET %s %j twice -> both reach the target (detail=%s)', async (path, headers, detail) => {
    const first = await get(path, headers);
    const second = await get(path, headers);
    expect(first.headers.get('cache-status')).toBe(`corsway; fwd=uri-miss; detail=${detail}`);
    expect(second.headers.get('cache-status')).toBe(`corsway; fwd=uri-miss; detail=${detail}`);
    expect(count(path)).toBe(2);
  });

  test('Authorization with a response that says public -> stored', async () => {
    await get('/public', { authorization: 'Bearer t' });
    const second = await get('/public', { authorization: 'Bearer t' });
    expect(second.headers.get('cache-status')).toMatch(/hit/);
    expect(count('/public')).toBe(1);
  });

  test('Set-Cookie never enters the cache', async () => {
    await get('/cookie');
    const hit = await get('/cookie');
    expect(hit.headers.get('cache-status')).toMatch(/hit/);
    expect(hit.headers.get('set-cookie')).toBeNull();
  });

  test('Vary: Accept-Language -> another language is a vary-miss, the first one a hit', async () => {
    const en = await get('/lang', { 'accept-language': 'en' });
    const fr = await get('/lang', { 'accept-language': 'fr' });
    const enAgain = await get('/lang', { 'accept-language': 'en' });
    const frAgain = await get('/lang', { 'accept-language': 'fr' });
    expect(en.headers.get('cache-status')).toBe('corsway; fwd=uri-miss; stored');
    expect(fr.headers.get('cache-status')).toBe('corsway; fwd=vary-miss; stored');
    expect([enAgain.body, frAgain.body]).toEqual(['"en"', '"fr"']);
    expect(enAgain.headers.get('cache-status')).toMatch(/hit/);
    expect(frAgain.headers.get('cache-status')).toMatch(/hit/);
    expect(count('/lang')).toBe(2);
  });

  test('no-cache with an ETag -> revalidated with If-None-Match; the 304 refreshes the stored headers', async () => {
    const first = await get('/validate');
    const second = await get('/validate');
    expect(second.status).toBe(200);
    expect(second.body).toBe('{"v":1}');
    expect(second.headers.get('cache-status')).toMatch(/^corsway; fwd=stale; fwd-status=304/);
    expect(Number(second.headers.get('x-version'))).toBe(Number(first.headers.get('x-version')) + 1);
    const sent = upstream.hits.filter((hit) => hit.url === '/validate');
    expect(sent).toHaveLength(2);
    expect(sent[1]?.headers['if-none-match']).toBe('"v1"');
  });

  test('POST to a stored target invalidates it (RFC 9111 4.4)', async () => {
    await get('/fresh?post');
    expect((await get('/fresh?post')).headers.get('cache-status')).toMatch(/hit/);
    expect((await get('/fresh?post', {}, 'POST')).status).toBe(200);
    expect((await get('/fresh?post')).headers.get('cache-status')).toBe('corsway; fwd=uri-miss; stored');
    expect(count('/fresh?post')).toBe(3);
  });

  test('10 concurrent GETs of one slow target -> one request reaches it, every client gets the body', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => get('/slow')));
    expect(answers.map((a) => a.body)).toEqual(Array(10).fill('{"slow":true}'));
    expect(count('/slow')).toBe(1);
    const statuses = answers.map((a) => a.headers.get('cache-status'));
    expect(statuses).toContain('corsway; fwd=uri-miss; stored');
    expect(statuses.filter((s) => s === 'corsway; fwd=uri-miss; collapsed').length).toBeGreaterThan(0);
  });

  test('a response too large for the cache streams to every waiting client and is not stored', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => get('/large')));
    expect(answers.map((a) => a.body.length)).toEqual(Array(5).fill(LARGE.length));
    for (const answer of answers) expect(answer.body).toBe(LARGE);
    expect(count('/large')).toBe(1);
    await get('/large');
    expect(count('/large')).toBe(2);
  });

  test('GET /healthz reports the cache', async () => {
    const res = await fetch(`${proxy.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^ok\ncache: .*hits=[1-9]\d* misses=[1-9]\d* coalesced=[1-9]\d*\n$/);
  });
});
