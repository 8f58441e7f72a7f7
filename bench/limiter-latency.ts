/**
 * What each rate-limit store adds to a request, on loopback:
 *  1. consume() alone: memory and Redis (one Lua script round trip) in this
 *     process; the Durable Object through the test Worker of test/durable in
 *     `wrangler dev`, against that Worker's own /healthz;
 *  2. whole proxied requests, one at a time over keep-alive: the Node proxy
 *     without a limit, with the memory store and with Redis; the Worker in
 *     `wrangler dev` without a limit and with the Durable Object store.
 * p50/p99 of each, and the difference to the run without a limit. Bounded:
 * COUNT requests per configuration (default 2000), nothing leaves 127.0.0.1.
 *
 *   node --import tsx bench/limiter-latency.ts [COUNT]
 */
import { performance } from 'node:perf_hooks';
import { memoryLimiter, type RateLimiter } from '../src/limiters/rate-limit.ts';
import { redisLimiter } from '../src/limiters/redis.ts';
import { RedisServer } from '../test/support/redis-server.ts';
import { type RunningProxy, startNode, startWorker } from '../test/support/runtimes.ts';
import { Upstream } from '../test/support/upstream.ts';

const COUNT = Math.min(Number(process.argv[2] ?? 2000) || 2000, 20_000);
const WARMUP = Math.min(200, COUNT);
/** Never refused within a run, so every request does the same work. */
const SPEC = { limit: 1_000_000, windowSeconds: 3600 };

interface Figures {
  readonly p50: number;
  readonly p99: number;
}

function percentiles(ms: number[]): Figures {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function timeEach(count: number, run: (i: number) => Promise<void>): Promise<Figures> {
  for (let i = 0; i < WARMUP; i++) await run(i);
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await run(i);
    ms.push(performance.now() - t);
  }
  return percentiles(ms);
}

const fmt = (n: number) => `${n.toFixed(3)} ms`;
const delta = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(3)} ms`;
function row(name: string, f: Figures, base?: Figures): string {
  const added = base ? `   added p50 ${delta(f.p50 - base.p50)}, p99 ${delta(f.p99 - base.p99)}` : '';
  return `  ${name.padEnd(38)} p50 ${fmt(f.p50).padStart(10)}   p99 ${fmt(f.p99).padStart(10)}${added}`;
}

async function consumeFigures(limiter: RateLimiter): Promise<Figures> {
  return timeEach(COUNT, async (i) => {
    await limiter.consume(`ip:198.51.100.${i % 250}`);
  });
}

async function requestFigures(proxy: RunningProxy, target: string): Promise<Figures> {
  const url = `${proxy.url}/${target}`;
  return timeEach(COUNT, async () => {
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${proxy.runtime}: GET ${url} -> ${res.status}`);
  });
}

const redis = new RedisServer();
const upstream = new Upstream({
  '/small': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
    res.end('{"ok":true}');
  },
});
const started: RunningProxy[] = [];
async function proxy(start: Promise<RunningProxy>): Promise<RunningProxy> {
  const p = await start;
  started.push(p);
  return p;
}

try {
  await Promise.all([redis.start(), upstream.start()]);
  const target = `${upstream.origin}/small`;
  console.log(`${COUNT} requests per configuration, after ${WARMUP} warm-up requests; all on 127.0.0.1\n`);

  console.log('consume() alone, in this process:');
  const memory = await consumeFigures(memoryLimiter(SPEC));
  console.log(row('memory (lru-cache)', memory));
  const shared = redisLimiter(redis.url, SPEC, 'closed');
  const viaRedis = await consumeFigures(shared);
  shared.close();
  console.log(row('Redis (Lua script, one round trip)', viaRedis, memory));
  const budgets = await proxy(startWorker({}, ['--config', 'test/limiters/durable/wrangler.toml']));
  const workerAlone = await timeEach(COUNT, async () => {
    await (await fetch(`${budgets.url}/healthz`)).arrayBuffer();
  });
  console.log(row('wrangler dev Worker, no store', workerAlone));
  const body = JSON.stringify({ key: 'ip:198.51.100.1', spec: SPEC });
  const viaDurable = await timeEach(COUNT, async () => {
    await (await fetch(`${budgets.url}/consume`, { method: 'POST', body })).arrayBuffer();
  });
  console.log(row('same Worker, Durable Object consume', viaDurable, workerAlone));

  console.log('\nwhole proxied GETs (11-byte JSON), one at a time:');
  const base = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' };
  const limited = { ...base, CORSWAY_RATE_LIMIT: `${SPEC.limit}/1h` };
  const nodeNone = await requestFigures(await proxy(startNode(base)), target);
  console.log(row('node, no rate limit', nodeNone));
  const nodeMemory = await requestFigures(await proxy(startNode(limited)), target);
  console.log(row('node, memory', nodeMemory, nodeNone));
  const nodeRedis = await requestFigures(await proxy(startNode({ ...limited, CORSWAY_REDIS_URL: redis.url })), target);
  console.log(row('node, Redis', nodeRedis, nodeNone));
  const workerNone = await requestFigures(await proxy(startWorker(base)), target);
  console.log(row('worker (wrangler dev), no rate limit', workerNone));
  const workerDurable = await requestFigures(await proxy(startWorker(limited)), target);
  console.log(row('worker, Durable Object', workerDurable, workerNone));
} finally {
  await Promise.all(started.map((p) => p.stop()));
  await Promise.all([redis.stop(), upstream.stop()]);
}
