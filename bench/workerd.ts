import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import type { RunningProxy } from '../test/support/runtimes.ts';
import { buildBundle, startWorkerd } from '../test/support/workerd.ts';
import { cpuMs, onInterrupt, ROOT, startService } from './processes.ts';

/*
 * `npm run bench:workerd`: the Worker as deployed, measured where it is
 * honest. wrangler dev adds local layers that cost many times the Worker's
 * own CPU, so here the bundle `wrangler deploy` ships runs in plain
 * `workerd serve` (test/support/workerd.ts writes its capnp config), beside a
 * pass-through Worker (bench/passthrough-worker.mjs) as the floor. Reported:
 * CPU time of the workerd process per request (Linux /proc, user + system),
 * the median of interleaved rounds. Everything on 127.0.0.1, every run bounded.
 *
 *   BENCH_ROUNDS (default 5), BENCH_SMALL (requests per round, default 400),
 *   BENCH_ONLY (run only the scenarios whose name starts with it, e.g. `small`; default all)
 */

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SMALL = Number(process.env.BENCH_SMALL ?? 400);
const MIB = 1024 * 1024;
const UPLOAD = 10 * MIB;
const DOWNLOAD = 30 * MIB;
/** Large transfers per round: enough CPU to read above /proc's 10 ms tick. */
const LARGE = 12;
const CONCURRENCY = 8;
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
  { name: '10 MiB upload (Content-Length)', path: '/sink', method: 'POST', bodyBytes: UPLOAD, count: LARGE, target: 2 },
  {
    name: '30 MiB download (CORSWAY_MAX_RESPONSE_BYTES set)',
    path: `/stream?bytes=${DOWNLOAD}`,
    method: 'GET',
    bodyBytes: 0,
    count: LARGE,
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

/** CPU milliseconds the Worker's process spent per request over `scenario.count` requests. */
async function round(worker: RunningProxy, target: string, scenario: Scenario): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = `${worker.url}/${target}${scenario.path}`;
  try {
    // Warm-up: the first requests compile the code and open the pools.
    for (let i = 0; i < 3; i++) await once(url, scenario, agent);
    const before = cpuMs(worker.pid) ?? 0;
    let next = 0;
    const client = async () => {
      while (next++ < scenario.count) {
        const status = await once(url, scenario, agent);
        if (status !== 200) throw new Error(`${scenario.name}: ${url} answered ${status}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, scenario.count) }, client));
    return ((cpuMs(worker.pid) ?? 0) - before) / scenario.count;
  } finally {
    agent.destroy();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

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
      `| scenario | pass-through Worker, CPU ms/request | corsway Worker, CPU ms/request | ratio | target | met |`,
      '|---|---:|---:|---:|---:|---|',
    );
    for (const scenario of SCENARIOS.filter((s) => s.name.startsWith(process.env.BENCH_ONLY ?? ''))) {
      const floors: number[] = [];
      const ours: number[] = [];
      // Interleaved, so a busy moment of the machine falls on both.
      for (let r = 0; r < ROUNDS; r++) {
        floors.push(await round(floor, upstream.origin, scenario));
        ours.push(await round(corsway, upstream.origin, scenario));
      }
      const [a, b] = [median(floors), median(ours)];
      const ratio = a > 0 ? b / a : Number.NaN;
      lines.push(
        `| ${scenario.name} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${ratio.toFixed(2)} | ≤ ${scenario.target} | ${ratio <= scenario.target ? 'yes' : 'no'} |`,
      );
      console.error(
        `${scenario.name}: floor ${floors.map((x) => x.toFixed(3))} corsway ${ours.map((x) => x.toFixed(3))}`,
      );
    }
  } finally {
    for (const f of forget) f();
    forgetUpstream();
    await Promise.all([floor.stop(), corsway.stop(), upstream.stop()]);
    rmSync(dirname(bundle), { recursive: true, force: true });
  }
  console.log(lines.join('\n'));
}

await main();
