import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy, startNode } from '../support/runtimes.ts';

/*
 * The Node cache's memory bound and what /metrics says of it, through the real
 * server: more distinct cacheable URLs than CORSWAY_CACHE_BYTES holds.
 */

const CACHE_BYTES = 1024 * 1024;
const BODY = Buffer.alloc(10 * 1024, 'a');
const URLS = 300;
const TOKEN = 'metrics-token-0123456789';

describe('node: CORSWAY_CACHE_BYTES bounds the cache; /metrics reports it', () => {
  let requests = 0;
  const upstream = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-length': BODY.length, 'cache-control': 'max-age=600' });
    res.end(BODY);
  });
  let proxy: RunningProxy;
  let target: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxy = await startNode({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_CACHE: 'on',
      CORSWAY_CACHE_BYTES: String(CACHE_BYTES),
      CORSWAY_METRICS: 'on',
      CORSWAY_METRICS_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    upstream.closeAllConnections();
    upstream.close();
  });

  test(`${URLS} distinct 10 KiB URLs into a 1 MiB cache -> at most 1 MiB held, the newest still a hit`, async () => {
    for (let i = 0; i < URLS; i++) await (await fetch(`${proxy.url}/${target}/item/${i}`)).arrayBuffer();
    const newest = await fetch(`${proxy.url}/${target}/item/${URLS - 1}`);
    await newest.arrayBuffer();
    expect(newest.headers.get('cache-status')).toMatch(/hit/);
    const oldest = await fetch(`${proxy.url}/${target}/item/0`);
    await oldest.arrayBuffer();
    expect(oldest.headers.get('cache-status')).toMatch(/uri-miss/);
    expect(requests).toBe(URLS + 1);

    const res = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(value('corsway_cache_bytes')).toBeLessThanOrEqual(CACHE_BYTES);
    expect(value('corsway_cache_bytes')).toBeGreaterThan(CACHE_BYTES / 2);
    expect(value('corsway_cache_entries')).toBeLessThan(CACHE_BYTES / BODY.length);
    expect(value('corsway_cache_entries')).toBeGreaterThan(0);
    expect(value('corsway_cache_hits_total')).toBe(1);
    expect(value('corsway_cache_misses_total')).toBe(URLS + 1);
    expect(value('corsway_cache_coalesced_total')).toBe(0);
  });
});
