import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RedisServer } from '../test/support/redis-server.ts';
import { freePort, type ProxyEnv, type RunningProxy, type Runtime, startNode } from '../test/support/runtimes.ts';
import { sleep } from '../test/support/wait.ts';
import { buildBundle, startWorkerd } from '../test/support/workerd.ts';
import { procStat } from '../test/support/workers.ts';
import { type Check, killWorker, redisOutage, sigtermDrain } from './faults.ts';
import { type HeapReader, heapReader } from './inspector.ts';
import { curve, openFiles, processTree, readProbe, rssOf, slopePerMinute } from './measure.ts';
import { mib, printChecks, printLatency, printOutcomes, Tally } from './report.ts';
import { ALLOW_ORIGINS, ORIGINS, RATE_LIMIT, SCENARIOS, type Scenario, TIMEOUT_MS } from './scenarios.ts';
import { soakUpstream } from './targets.ts';

export interface RunOptions {
  runtime: Runtime;
  seconds: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Names fail to resolve here (the script's own network namespace). */
  netns: boolean;
  /** redis-server is installed. */
  redis: boolean;
  /** Only the scenarios with these names or kinds (clean, refusal, fault) under load; all when empty. */
  only: readonly string[];
  /**
   * Serve soak/passthrough-worker.mjs instead of corsway in workerd, the control for workerd's own memory:
   * `bare`, or with one Durable Object write per request as corsway's budgets do (`budgets`).
   */
  passthrough: 'bare' | 'budgets' | null;
  /** Without CORSWAY_RATE_LIMIT (and on workerd without budget objects): what the budgets cost. */
  noBudgets: boolean;
  /** Registers a cleanup to run on Ctrl-C; returns its remover. */
  onAbort(cleanup: () => Promise<void>): () => void;
}

/**
 * Fault scenarios run between these shares of the load, and the memory slopes
 * are judged on that window only: before it is warm-up (workerd's budget
 * objects open their SQLite storage then), and when the faults stop more clean
 * downloads and uploads are in flight at once, a step in resident memory that
 * is the traffic mix, not a leak (docs/reliability.md).
 */
const FAULTS_FROM = 0.25;
const FAULTS_UNTIL = 0.9;
/** Growth of resident memory after warm-up that passes, bytes per minute. */
const RSS_SLOPE_LIMIT = 1024 * 1024;
const IDLE_MS = 8_000;
/** A SQLite database's open files: the database, its -wal and its -shm. */
const STORAGE_FILES = 3;
/** The budget objects' databases: one per clean origin, the burst's and the refused origin's; workerd's metadata. */
const BUDGET_DATABASES = ORIGINS + 3;
/** How often workerd's isolate heap is read. */
const HEAP_EVERY_MS = 10_000;

/** One soak against one runtime; prints its figures and returns its checks. */
export async function soak(options: RunOptions): Promise<Check[]> {
  const { runtime, seconds } = options;
  const node = runtime === 'node';
  const upstream = await soakUpstream().start();
  const redis = node && options.redis ? new RedisServer() : null;
  const dir = await mkdtemp(join(tmpdir(), 'corsway-soak-'));
  const probeFile = join(dir, 'probe.jsonl');
  let proxy: RunningProxy | null = null;
  let bundle: string | null = null;
  let heap: HeapReader | null = null;
  const cleanup = async () => {
    heap?.close();
    await proxy?.stop();
    if (bundle) await rm(dirname(bundle), { recursive: true, force: true });
    await redis?.stop();
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const removeCleanup = options.onAbort(cleanup);
  try {
    await redis?.start();
    const env: ProxyEnv = {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_ALLOW_ORIGINS: ALLOW_ORIGINS,
      CORSWAY_TIMEOUT_MS: String(TIMEOUT_MS),
    };
    // Without Redis, several workers may not share a budget: the budget scenario is skipped.
    if ((!node || redis) && !options.noBudgets)
      Object.assign(env, { CORSWAY_RATE_LIMIT: RATE_LIMIT, CORSWAY_RATE_LIMIT_BY: 'origin' });
    if (node) {
      Object.assign(env, {
        CORSWAY_WORKERS: '2',
        SOAK_PROBE_FILE: probeFile,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(join(import.meta.dirname, 'probe.mjs')).href}`,
      });
      if (redis) env.CORSWAY_REDIS_URL = redis.url;
    }
    // The Worker as deployed, in plain workerd: what is measured is workerd alone, not wrangler dev's layers.
    if (!node && !options.passthrough) bundle = await buildBundle();
    const inspector = `127.0.0.1:${await freePort()}`;
    const running = node
      ? await startNode(env)
      : options.passthrough
        ? await startWorkerd(join(import.meta.dirname, 'passthrough-worker.mjs'), env, {
            budgets: options.passthrough === 'budgets' ? 'memory' : 'none',
            inspector,
          })
        : await startWorkerd(bundle as string, env, { budgets: options.noBudgets ? 'none' : 'memory', inspector });
    proxy = running;
    if (!node) heap = await heapReader(inspector);
    const skipped: string[] = [];
    const scenarios = SCENARIOS.filter((s) => {
      if (s.needsNetns && !options.netns)
        skipped.push(`${s.name} (needs unshare -rn, so that no lookup leaves the machine)`);
      else if (s.name === 'budget burst' && !env.CORSWAY_RATE_LIMIT)
        skipped.push(`${s.name} (${options.noBudgets ? '--no-budgets' : 'needs Redis'})`);
      else return true;
      return false;
    });
    const chosen = (s: Scenario) => options.only.length === 0 || options.only.some((o) => o === s.name || o === s.kind);

    const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
    let killWindow = false;
    const ctx = { proxy: running.url, target: upstream.origin, agent, processFault: () => killWindow };
    const tally = new Tally();

    // Warm-up: every scenario without faults, and every origin's budget once, so the baseline
    // holds what a bounded set of budgets keeps open (on workerd, each budget object's storage files).
    const warmUp = scenarios.filter((x) => x.kind !== 'fault');
    const json = warmUp.find((x) => x.name === 'json');
    for (let i = 0; json && i < ORIGINS; i++) tally.add(json.name, json.kind, await json.run(ctx), false);
    for (const s of warmUp) tally.add(s.name, s.kind, await s.run(ctx), false);
    agent.destroy();
    const tree = () => processTree(running.pid);
    await sleep(IDLE_MS);
    const baseline = openFiles(tree());

    // Load: clean traffic and refusals throughout; fault scenarios only between 25% and 90%.
    const loadMs = seconds * 1_000;
    const start = Date.now();
    const end = start + loadMs;
    const faultsOn = (t: number) => t >= start + FAULTS_FROM * loadMs && t < start + FAULTS_UNTIL * loadMs;
    const pick = (pool: readonly Scenario[]): Scenario => {
      const total = pool.reduce((s, x) => s + x.weight, 0);
      let r = Math.random() * total;
      for (const s of pool) {
        r -= s.weight;
        if (r <= 0) return s;
      }
      return pool[pool.length - 1] as Scenario;
    };
    const load = scenarios.filter(chosen);
    if (load.length === 0) throw new Error(`no scenario matches --only ${options.only.join(',')}`);
    const quiet = load.filter((s) => s.kind !== 'fault');
    const loops = Array.from({ length: options.concurrency }, async () => {
      for (let i = 0; i < 10_000_000 && Date.now() < end; i++) {
        const faults = faultsOn(Date.now());
        // With only fault scenarios chosen, they run the whole time.
        const s = pick(faults || quiet.length === 0 ? load : quiet);
        const outcome = await s.run(ctx);
        tally.add(s.name, s.kind, outcome, faults || faultsOn(Date.now()));
      }
    });

    // Memory of processes without the probe (workerd), read from /proc once a second.
    const rssSamples: { pid: number; t: number; rss: number }[] = [];
    const sampler = setInterval(() => {
      for (const pid of tree()) {
        const comm = procStat(pid)?.comm;
        const rss = comm === 'workerd' ? rssOf(pid) : null;
        if (rss !== null) rssSamples.push({ pid, t: Date.now(), rss });
      }
    }, 1_000);
    // workerd's isolate heap, through the inspector, every HEAP_EVERY_MS (each read forces a full collection).
    const heapSamples: { t: number; y: number }[] = [];
    const heapLoop = (async () => {
      while (heap && Date.now() < end) {
        const used = await heap.used();
        if (used !== null) heapSamples.push({ t: Date.now(), y: used });
        await sleep(Math.min(HEAP_EVERY_MS, Math.max(0, end - Date.now())));
      }
    })();

    const checks: Check[] = [];
    const schedule = async () => {
      if (!node) return;
      const at = (share: number) => sleep(Math.max(0, start + share * loadMs - Date.now()));
      const away = Math.max(5_000, 0.08 * loadMs);
      if (redis) {
        await at(0.3);
        checks.push(...(await redisOutage(running.url, redis, 1, away)));
      }
      await at(0.5);
      killWindow = true;
      checks.push(await killWorker(running));
      await sleep(2_000);
      killWindow = false;
      if (redis) {
        await at(0.6);
        checks.push(...(await redisOutage(running.url, redis, 2, away)));
      }
    };
    await Promise.all([...loops, schedule(), heapLoop]);
    clearInterval(sampler);
    const afterLoad = openFiles(tree());
    agent.destroy();
    await sleep(IDLE_MS);
    const afterIdle = openFiles(tree());
    const health = await fetch(`${running.url}/healthz`).then(
      async (r) => `${r.status} ${(await r.text()).split('\n')[0]}`,
      (e: Error) => e.message,
    );

    // Memory: per process, after warm-up; the probe's samples on Node, /proc's for workerd.
    // The window the memory slopes are judged on: while the mix (faults on) is steady.
    const warm = start + FAULTS_FROM * loadMs;
    const steadyEnd = start + FAULTS_UNTIL * loadMs;
    const probe = readProbe(probeFile);
    const samples = node ? probe.map((p) => ({ pid: p.pid, t: p.t, rss: p.rss })) : rssSamples;
    const slopes: string[] = [];
    let worstSlope = Number.NEGATIVE_INFINITY;
    let worstHeap = Number.NEGATIVE_INFINITY;
    for (const pid of new Set(samples.map((s) => s.pid))) {
      const all = samples.filter((s) => s.pid === pid);
      const mine = all.filter((s) => s.t >= warm && s.t <= steadyEnd);
      if (mine.length < 3) continue;
      const slope = slopePerMinute(mine.map((s) => ({ t: s.t, y: s.rss }))) ?? 0;
      const heapPoints = node ? probe.filter((p) => p.pid === pid).map((p) => ({ t: p.t, y: p.heap })) : heapSamples;
      const heap = slopePerMinute(heapPoints.filter((p) => p.t >= warm && p.t <= steadyEnd));
      const last = mine[mine.length - 1]?.rss ?? 0;
      // Judged: the processes alive through the whole window. A worker killed half way, and the
      // replacement that starts then and is still in its own warm-up, are shown, not judged.
      const judged = (all[0]?.t ?? Number.POSITIVE_INFINITY) <= warm && (all.at(-1)?.t ?? 0) >= steadyEnd - 2_000;
      slopes.push(
        `pid ${pid}: RSS ${mib(last)}, ${(slope / 1024).toFixed(0)} KiB/min${heap === null ? '' : `, heap ${(heap / 1024).toFixed(0)} KiB/min`}${judged ? '' : ' (alive for part of the window: not judged)'}`,
      );
      if (!judged) continue;
      worstSlope = Math.max(worstSlope, slope);
      worstHeap = Math.max(worstHeap, heap ?? Number.NEGATIVE_INFINITY);
    }
    const delays = probe.filter((p) => p.t >= start && p.t <= end).map((p) => p.p99);

    console.log(
      `\n== ${runtime}: ${seconds} s at concurrency ${options.concurrency}${redis ? ', Redis' : ''}${node ? ', 2 workers' : ''} ==`,
    );
    if (skipped.length) console.log(`  SKIPPED scenarios: ${skipped.join('; ')}`);
    if (options.passthrough)
      console.log(
        `  CONTROL: soak/passthrough-worker.mjs (${options.passthrough}), not corsway: only its memory and descriptors mean something; it has no CORS, refusals or /diagnose, so those outcomes fail`,
      );
    if (node && !redis)
      console.log('  SKIPPED: Redis faults and budgets (redis-server not installed: apt-get install redis-server)');
    printOutcomes(tally);
    printLatency(tally);
    console.log('\n  memory after warm-up (resident set slope by least squares)');
    for (const line of slopes) console.log(`    ${line}`);
    if (!node) {
      console.log(`  workerd over the load, each tenth: RSS | isolate heap after a full collection, MiB`);
      console.log(
        `    ${curve(
          rssSamples.map((s) => ({ t: s.t, y: s.rss })),
          start,
          loadMs,
        )}`,
      );
      console.log(`    ${curve(heapSamples, start, loadMs)}`);
    }
    if (delays.length) {
      const sorted = [...delays].sort((a, b) => a - b);
      console.log(
        `  event-loop delay p99 per second: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, worst ${sorted[sorted.length - 1]?.toFixed(1)} ms`,
      );
    }
    console.log(
      `  open fds (sockets): before ${baseline.fds} (${baseline.sockets}), after load ${afterLoad.fds} (${afterLoad.sockets}), after ${IDLE_MS / 1_000} s idle ${afterIdle.fds} (${afterIdle.sockets})`,
    );
    console.log(`    by process: before ${baseline.by}; after load ${afterLoad.by}; after idle ${afterIdle.by}`);
    console.log(`    kinds: before ${baseline.kinds}; after idle ${afterIdle.kinds}`);

    checks.unshift(
      {
        name: 'no unexpected outcome',
        passed: tally.unexpected === 0,
        detail: `${tally.unexpected} of ${tally.total()}`,
      },
      {
        name: 'no corrupted byte',
        passed: tally.corrupted === 0,
        detail: `${mib(tally.verifiedBytes)} verified, ${tally.corrupted} corrupted`,
      },
      {
        name: 'every scenario ran',
        passed: load.every((s) => tally.outcomes.has(s.name)),
        detail:
          load
            .filter((s) => !tally.outcomes.has(s.name))
            .map((s) => s.name)
            .join(', ') || `${load.length} scenarios`,
      },
      {
        name: 'resident memory slope after warm-up under 1 MB/min',
        passed: worstSlope > Number.NEGATIVE_INFINITY && worstSlope < RSS_SLOPE_LIMIT,
        detail:
          worstSlope > Number.NEGATIVE_INFINITY
            ? `worst ${(worstSlope / 1024).toFixed(0)} KiB/min`
            : 'no process sampled through the window',
      },
      node
        ? {
            name: 'file descriptors back to baseline after idle',
            passed: afterIdle.fds <= baseline.fds,
            detail: `${baseline.fds} -> ${afterIdle.fds}`,
          }
        : {
            // Each live budget object holds its SQLite file, -wal and -shm open until workerd evicts it:
            // how many are live depends on when each was last asked, not on a leak.
            name: 'descriptors other than files back to baseline after idle; files within 3 per budget object',
            passed:
              afterIdle.fds - afterIdle.files <= baseline.fds - baseline.files &&
              afterIdle.files <= STORAGE_FILES * BUDGET_DATABASES,
            detail: `non-file ${baseline.fds - baseline.files} -> ${afterIdle.fds - afterIdle.files}, files ${baseline.files} -> ${afterIdle.files} (bound ${STORAGE_FILES * BUDGET_DATABASES})`,
          },
      ...(node
        ? []
        : [
            {
              name: 'isolate heap after a full collection: slope after warm-up under 1 MB/min',
              passed: worstHeap > Number.NEGATIVE_INFINITY && worstHeap < RSS_SLOPE_LIMIT,
              detail:
                worstHeap > Number.NEGATIVE_INFINITY ? `${(worstHeap / 1024).toFixed(0)} KiB/min` : 'too few samples',
            },
          ]),
      { name: 'alive and answering at the end', passed: health.startsWith('200 ok'), detail: `/healthz: ${health}` },
    );
    if (node) {
      checks.push({
        name: 'worker kill: at most the in-flight requests failed',
        passed: tally.lostToKill <= options.concurrency,
        detail: `${tally.lostToKill} lost, ${options.concurrency} in flight`,
      });
      checks.push(...(await sigtermDrain(running, upstream.origin, 8)));
    }
    return checks;
  } finally {
    removeCleanup();
    await cleanup();
  }
}

export { printChecks };
