/**
 * Memory under a flood of distinct URLs: the same flood of cacheable 10 KiB
 * answers through corsway with the cache off and with it on
 * (CORSWAY_CACHE_BYTES at its default, 64 MiB). The cache keeps what fits in
 * its bound (least recently used leave first), so the difference between the
 * two servers' resident memory is the bound plus the overhead that
 * docs/decisions/cache.md documents. Everything stays on 127.0.0.1.
 *
 *   npm run bench:cache-memory   (node --import tsx bench/cache-memory.ts)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { startNode } from '../test/support/runtimes.ts';
import { memory } from './processes.ts';

const URLS = Number(process.env.BENCH_CACHE_URLS ?? 30_000);
const BODY_BYTES = 10 * 1024;
const CACHE_BYTES = Number(process.env.BENCH_CACHE_BYTES ?? 64 * 1024 * 1024);
const CONCURRENCY = 32;
/**
 * The overhead docs/decisions/cache.md documents beyond CORSWAY_CACHE_BYTES:
 * a fixed part (the app's path, which proxied requests take with the cache
 * on) and a part that grows with the bound (allocator and GC slack).
 */
const OVERHEAD_BYTES = 48 * 2 ** 20 + 0.6 * CACHE_BYTES;

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const body = Buffer.alloc(BODY_BYTES, 'a');
const upstream = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'public, max-age=3600',
  });
  res.end(body);
});
upstream.listen(0, '127.0.0.1');
await new Promise((resolve) => upstream.once('listening', resolve));
const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

async function flood(cache: boolean): Promise<{ rss: number; peak: number; health: string }> {
  const proxy = await startNode({
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_CACHE: cache ? 'on' : 'off',
    CORSWAY_CACHE_BYTES: String(CACHE_BYTES),
  });
  const agent = new Agent({ connections: CONCURRENCY });
  try {
    let next = 0;
    const worker = async () => {
      while (next < URLS) {
        const i = next++;
        const res = await request(`${proxy.url}/${target}/item/${i}`, { dispatcher: agent });
        await res.body.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const health = await (await request(`${proxy.url}/healthz`, { dispatcher: agent })).body.text();
    const measured = memory(proxy.pid);
    if (!measured) throw new Error('the proxy process is gone');
    return { ...measured, health: health.replace(/\n/g, ' ').trim() };
  } finally {
    await agent.close();
    await proxy.stop();
  }
}

console.log(`${URLS} distinct URLs of ${BODY_BYTES / 1024} KiB, CORSWAY_CACHE_BYTES=${mib(CACHE_BYTES)} MiB`);
const off = await flood(false);
console.log(`cache off: rss ${mib(off.rss)} MiB, peak ${mib(off.peak)} MiB`);
const on = await flood(true);
console.log(`cache on:  rss ${mib(on.rss)} MiB, peak ${mib(on.peak)} MiB (${on.health})`);
const extra = on.peak - off.peak - CACHE_BYTES;
console.log(`peak beyond cache off and the bound: ${mib(extra)} MiB (documented: at most ${mib(OVERHEAD_BYTES)} MiB)`);
upstream.close();
process.exitCode = extra <= OVERHEAD_BYTES ? 0 : 1;
