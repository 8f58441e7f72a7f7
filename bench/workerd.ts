import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunningProxy } from '../test/support/runtimes.ts';
import { buildBundle, startWorkerd } from '../test/support/workerd.ts';
import { cpuNs, onInterrupt, ROOT, startService } from './processes.ts';
import { middle, outlierRound, spread } from './rounds.ts';

/*
 * `npm run bench:workerd`: the Worker as deployed, measured where it is
 * honest. wrangler dev adds local layers that cost many times the Worker's
 * own CPU, so here the bundle `wrangler deploy` ships runs in plain
 * `workerd serve` (test/support/workerd.ts writes its capnp config), beside a
 * pass-through Worker (bench/passthrough-worker.mjs) as the floor. Reported:
 * CPU time of each workerd process per request, in nanoseconds from the
 * scheduler (cpuNs: every thread's schedstat), in rounds that send each
 * Worker its requests in twenty slices, the floor and corsway alternating, so a
 * busy moment of the shared machine lands on both alike; the ratio is the median of each
 * round's own ratio, printed with its spread. A round whose floor figure is an
 * outlier against the floor's other rounds is discarded and repeated (the
 * floor runs no policy: a swing in it is the machine's load). Everything on
 * 127.0.0.1, every run bounded.
 *
 *   BENCH_ROUNDS (default 7), BENCH_SMALL (requests per round, default 5000),
 *   BENCH_ONLY (run only the scenarios whose name starts with it, e.g. `small`; default all)
 */

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SMALL = Number(process.env.BENCH_SMALL ?? 5000);
const MIB = 1024 * 1024;
const UPLOAD = 10 * MIB;
const DOWNLOAD = 30 * MIB;
/**
 * Transfers per round. An upload's CPU is mostly the kernel's socket copies, which swing
 * with the machine's load: it takes more of them for a steady figure (docs/decisions/worker-cpu.md).
 */
const UPLOADS = 36;
const DOWNLOADS = 12;
const CONCURRENCY = 8;
/** Each round's requests are sent in this many slices per Worker, the two Workers alternating. */
const SLICES = 20;
const TIMEOUT_MS = 60_000;

interface Scenario {
  readonly name: string;
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly bodyBytes: number;
  readonly count: number;
  /** corsway's CPU per request may be at most this many times the floor's. */
  readonly target: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'small GET (36 B JSON)', path: '/small', method: 'GET', bodyBytes: 0, count: SMALL, target: 1.5 },
  {
    name: '10 MiB upload (Content-Length)',
    path: '/sink',
    method: 'POST',
    bodyBytes: UPLOAD,
    count: UPLOADS,
    target: 2,
  },
  {
    name: '30 MiB download (CORSWAY_MAX_RESPONSE_BYTES set)',
    path: `/stream?bytes=${DOWNLOAD}`,
    method: 'GET',
    bodyBytes: 0,
    count: DOWNLOADS,
    target: 2,
  },
];

const upload = Buffer.alloc(UPLOAD, 'u');

/** One request; resolves with the status once the response body was read and dropped. */
function once(url: string, scenario: Scenario, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { origin: 'https://app.bench.example' };
    if (scenario.bodyBytes) headers['content-length'] = String(scenario.bodyBytes);
    const req = request(url, { method: scenario.method, agent, headers, timeout: TIMEOUT_MS }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(scenario.bodyBytes ? upload : undefined);
  });
}

/** A Worker under measurement: its process, the URL every request of the scenario goes to, its connections. */
interface Client {
  readonly worker: RunningProxy;
  readonly url: string;
  readonly agent: Agent;
}

/** CPU nanoseconds the Worker's process spent on `count` requests, sent by up to CONCURRENCY clients. */
async function slice(client: Client, scenario: Scenario, count: number): Promise<number> {
  const before = cpuNs(client.worker.pid) ?? 0;
  let next = 0;
  const sender = async () => {
    while (next++ < count) {
      const status = await once(client.url, scenario, client.agent);
      if (status !== 200) throw new Error(`${scenario.name}: ${client.url} answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, sender));
  return (cpuNs(client.worker.pid) ?? 0) - before;
}

/**
 * One round: each Worker's CPU milliseconds per request over `scenario.count`
 * requests, sent in SLICES alternating slices (floor, corsway, corsway, floor,
 * ...), so a burst of the machine's load falls on both alike.
 */
async function pair(
  floor: RunningProxy,
  corsway: RunningProxy,
  target: string,
  scenario: Scenario,
): Promise<{ floor: number; ours: number }> {
  const clients = [floor, corsway].map((worker) => ({
    worker,
    url: `${worker.url}/${target}${scenario.path}`,
    agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
  }));
  const [base, ours] = clients as [Client, Client];
  const spent = new Map<Client, number>(clients.map((c) => [c, 0]));
  try {
    // Warm-up: the first requests compile the code and open the pools.
    for (const client of clients) for (let i = 0; i < 3; i++) await once(client.url, scenario, client.agent);
    const size = Math.ceil(scenario.count / SLICES);
    for (let done = 0, n = 0; done < scenario.count; done += size, n++) {
      const count = Math.min(size, scenario.count - done);
      for (const client of n % 2 === 0 ? [base, ours] : [ours, base]) {
        spent.set(client, (spent.get(client) ?? 0) + (await slice(client, scenario, count)));
      }
    }
  } finally {
    for (const client of clients) client.agent.destroy();
  }
  const perRequest = (client: Client) => (spent.get(client) ?? 0) / 1e6 / scenario.count;
  return { floor: perRequest(base), ours: perRequest(ours) };
}

async function main(): Promise<void> {
  const upstream = await startService('upstream', 'bench/upstream.ts', { PORT: '0' }, '127.0.0.1');
  const forgetUpstream = onInterrupt(upstream.stop);
  const bundle = await buildBundle();
  const env = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_MAX_RESPONSE_BYTES: String(64 * MIB) };
  const floor = await startWorkerd(join(ROOT, 'bench/passthrough-worker.mjs'), env);
  const corsway = await startWorkerd(bundle, env);
  const forget = [floor, corsway].map((w) => onInterrupt(w.stop));
  const lines: string[] = [];
  try {
    lines.push(
      '| scenario | pass-through Worker, CPU ms/request | corsway Worker, CPU ms/request | ratio (spread of rounds) | target | met |',
      '|---|---:|---:|---:|---:|---|',
    );
    for (const scenario of SCENARIOS.filter((s) => s.name.startsWith(process.env.BENCH_ONLY ?? ''))) {
      const kept: { floor: number; ours: number }[] = [];
      let discarded = 0;
      while (kept.length < ROUNDS && discarded < ROUNDS) {
        kept.push(await pair(floor, corsway, upstream.origin, scenario));
        // Judged against a full set: against two or three rounds, one ordinary round reads as an outlier.
        if (kept.length < ROUNDS) continue;
        // CPU per request, which load moves either way: more than 20% off the others' median.
        const outlier = outlierRound(
          kept.map((r) => r.floor),
          { share: 0.2 },
        );
        if (outlier === undefined) continue;
        kept.splice(outlier.index, 1);
        discarded++;
      }
      const ratios = kept.map((r) => r.ours / r.floor);
      const ratio = middle(ratios);
      const note = kept.length < ROUNDS ? ` **only ${kept.length} of ${ROUNDS} rounds kept: too uneven a load**` : '';
      lines.push(
        `| ${scenario.name} | ${middle(kept.map((r) => r.floor)).toFixed(3)} | ${middle(kept.map((r) => r.ours)).toFixed(3)} | ${ratio.toFixed(2)} (${spread(ratios, (x) => x.toFixed(2))}) | ≤ ${scenario.target} | ${ratio <= scenario.target ? 'yes' : 'no'}${note} |`,
      );
      console.error(
        `${scenario.name}: ${kept.length} rounds kept, ${discarded} discarded (floor an outlier); floor ${kept.map((r) => r.floor.toFixed(3))} corsway ${kept.map((r) => r.ours.toFixed(3))}`,
      );
    }
    console.error(
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    for (const f of forget) f();
    forgetUpstream();
    await Promise.all([floor.stop(), corsway.stop(), upstream.stop()]);
    rmSync(dirname(bundle), { recursive: true, force: true });
  }
  console.log(lines.join('\n'));
}

await main();
