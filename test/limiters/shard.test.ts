import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clientKey } from '../../src/core/address.ts';
import { partCount, partIndex, partSize, shareOf } from '../../src/limiters/shard.ts';
import { errorCode, send } from '../support/client.ts';
import { admitted, onePerPart, spendParts } from '../support/shards.ts';
import { type FreshProxy, freshProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';

describe('splitting a budget into parts (CORSWAY_RATE_LIMIT_SHARDS)', () => {
  test.each([
    // limit, shards, parts, sizes
    [60, 1, 1, [60]],
    [60, 4, 4, [15, 15, 15, 15]],
    [10, 4, 4, [3, 3, 2, 2]],
    [7, 3, 3, [3, 2, 2]],
    [3, 4, 3, [1, 1, 1]],
    [1, 8, 1, [1]],
    [13, 5, 5, [3, 3, 3, 2, 2]],
    [5, 1024, 5, [1, 1, 1, 1, 1]],
  ])(
    'limit %i in %i shards -> %i parts of %j: never more parts than the limit, the sizes sum to it',
    (limit, shards, parts, sizes) => {
      expect(partCount(limit, shards)).toBe(parts);
      const dealt = Array.from({ length: parts }, (_, i) => partSize(limit, parts, i));
      expect(dealt).toEqual(sizes);
      expect(dealt.reduce((a, b) => a + b, 0)).toBe(limit);
    },
  );

  test('every limit 1..200 in every shard count 1..40: parts of 1 or more, within one of each other, summing to the limit', () => {
    const wrong: string[] = [];
    for (let limit = 1; limit <= 200; limit++) {
      for (let shards = 1; shards <= 40; shards++) {
        const parts = partCount(limit, shards);
        const sizes = Array.from({ length: parts }, (_, i) => partSize(limit, parts, i));
        const fair = Math.min(...sizes) >= 1 && Math.max(...sizes) - Math.min(...sizes) <= 1;
        if (!fair || sizes.reduce((a, b) => a + b, 0) !== limit) wrong.push(`${limit}/${shards}: ${sizes}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test.each([
    // Pinned: a change reshuffles every client of a split budget (each then starts with a fresh part).
    ['203.0.113.7', 4, 2],
    ['203.0.113.8', 4, 0],
    ['2001:db8:1:2::/64', 16, 8],
    ['198.51.100.1', 1, 0],
  ])('partIndex(%s, %i) -> %i, the same in every process', (client, parts, index) => {
    expect(partIndex(client, parts)).toBe(index);
  });

  test('1,000 neighbouring addresses over 4 parts -> each part gets 200 to 300 of them', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) {
      const part = partIndex(`10.0.${i >> 8}.${i & 255}`, 4);
      counts[part] = (counts[part] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(200);
    for (const count of counts) expect(count).toBeLessThanOrEqual(300);
  });

  test('shareOf: a split budget is named per part and sized by it; one /64 is one client; one part is the whole', () => {
    const spec = { limit: 10, windowSeconds: 60 };
    const share = shareOf('origin:https://a.test', spec, clientKey('2001:db8:1:2::1'), 4);
    expect(share).toEqual(shareOf('origin:https://a.test', spec, clientKey('2001:db8:1:2:ffff::9'), 4));
    const index = partIndex(clientKey('2001:db8:1:2::1'), 4);
    expect(share).toEqual({
      name: `origin:https://a.test#${index}/4`,
      spec: { limit: partSize(10, 4, index), windowSeconds: 60 },
      parts: 4,
    });
    expect(shareOf('origin:https://a.test', spec, '203.0.113.7', 1)).toEqual({
      name: 'origin:https://a.test',
      spec,
      parts: 1,
    });
  });
});

/** A budget of 10 over 4 parts: 3, 3, 2, 2. */
const SIZES = [3, 3, 2, 2];

/** `n` loopback addresses from 127.0.<third>.1: clients with real, distinct socket addresses. */
const loopback = (third: number, n: number) => Array.from({ length: n }, (_, i) => `127.0.${third}.${i + 1}`);

/** A Node proxy with `env` before `upstream`, started and stopped with the enclosing suite. */
function nodeSuite(env: Record<string, string>, upstream = new Upstream()) {
  const started = freshProxy('node', { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', ...env });
  let proxy: FreshProxy | undefined;
  beforeAll(async () => {
    await upstream.start();
    proxy = await started;
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
  });
  return {
    /** `path` on the proxy; `target` puts the upstream's origin before it. */
    url: (path: string, target = true) => (target ? `${proxy?.url}/${upstream.origin}${path}` : `${proxy?.url}${path}`),
  };
}

describe('node: CORSWAY_RATE_LIMIT=10/1h, CORSWAY_RATE_LIMIT_BY=origin, CORSWAY_RATE_LIMIT_SHARDS=4', () => {
  const suite = nodeSuite({
    CORSWAY_RATE_LIMIT: '10/1h',
    CORSWAY_RATE_LIMIT_BY: 'origin',
    CORSWAY_RATE_LIMIT_SHARDS: '4',
  });
  const addresses = loopback(2, 60);
  const clients = onePerPart(addresses, 4);
  const get = (origin: string, from: string) => send(suite.url('/data'), { from, headers: { origin } });

  test('GET with one Origin from one client per part until refused -> each gets its part (3, 3, 2, 2), 10 in all', async () => {
    const seen = await spendParts(clients, SIZES, (from) => get('https://a.test', from));
    for (const [part, answers] of seen.entries()) {
      const last = answers.at(-1);
      expect(last?.status).toBe(429);
      expect(last && errorCode(last)).toBe('rate_limited');
      expect(JSON.parse(last?.body ?? '{}').message).toContain(
        `allows 10 per 3600 s per origin, split by client address into 4 parts: yours, ${SIZES[part]}, is spent`,
      );
      expect(answers[0]?.headers.get('ratelimit-policy')).toBe(`"corsway";q=${SIZES[part]};w=3600`);
    }
    expect(admitted(seen)).toEqual(SIZES);
  });

  test('another client whose address falls in a spent part -> 429 at once; the same client with another Origin -> 200', async () => {
    const same = addresses.find((a) => a !== clients[0] && partIndex(a, 4) === partIndex(clients[0] ?? '', 4));
    expect(same).toBeDefined();
    expect((await get('https://a.test', same ?? '')).status).toBe(429);
    expect((await get('https://b.test', same ?? '')).status).toBe(200);
  });

  test('GET / -> help page names the split', async () => {
    const res = await send(suite.url('/', false));
    expect(res.body).toContain('Rate limit: 10 requests per 3600 s per origin, split into 4 parts by client address');
  });
});

describe('node: CORSWAY_BANDWIDTH_LIMIT=4001/1h, CORSWAY_RATE_LIMIT_BY=origin, CORSWAY_RATE_LIMIT_SHARDS=2', () => {
  const upstream = new Upstream({
    '/bytes': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '2500' });
      res.end(Buffer.alloc(2500, 7));
    },
  });
  const suite = nodeSuite(
    { CORSWAY_BANDWIDTH_LIMIT: '4001/1h', CORSWAY_RATE_LIMIT_BY: 'origin', CORSWAY_RATE_LIMIT_SHARDS: '2' },
    upstream,
  );
  const [first = '', second = ''] = onePerPart(loopback(3, 20), 2);
  const get = (from: string) => send(suite.url('/bytes'), { from, headers: { origin: 'https://a.test' } });

  test('a 2,500-byte response spends the first part (2,001 bytes); the next request there -> 429; the other part (2,000) still serves', async () => {
    const crossing = await get(first);
    expect(crossing.status).toBe(200);
    expect(crossing.headers.get('ratelimit-policy')).toBe('"bytes";q=2001;qu="content-bytes";w=3600');
    // The charge lands as the body is relayed; the refusal follows it, however long that takes.
    let refused = crossing;
    await eventually(async () => {
      refused = await get(first);
      return refused.status === 429;
    });
    expect(JSON.parse(refused.body).message).toContain(
      'relays 4001 bytes of responses per 3600 s per origin, split by client address into 2 parts: yours, 2001, is spent',
    );
    const other = await get(second);
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-policy')).toBe('"bytes";q=2000;qu="content-bytes";w=3600');
  });
});

describe('node: an access key with rateLimit 5/1h, CORSWAY_RATE_LIMIT_SHARDS=2', () => {
  const KEY = 'k-shared-by-an-app-0123';
  const suite = nodeSuite({
    CORSWAY_KEYS: JSON.stringify([{ key: KEY, rateLimit: '5/1h' }]),
    CORSWAY_RATE_LIMIT_SHARDS: '2',
  });

  test('GET with the key from one client per part until refused -> 3 and 2, the key’s 5 in all', async () => {
    const seen = await spendParts(onePerPart(loopback(4, 20), 2), [3, 2], (from) =>
      send(suite.url('/data'), { from, headers: { 'x-corsway-key': KEY } }),
    );
    expect(seen.map((answers) => answers.map((a) => a.status))).toEqual([
      [200, 200, 200, 429],
      [200, 200, 429],
    ]);
  });
});
