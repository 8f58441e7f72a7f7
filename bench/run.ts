import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, startWorker } from '../test/support/runtimes.ts';
import { download, type Exchange, exchange, idleClients } from './http.ts';
import { idleRss } from './idle-rss.ts';
import { heavier, loadShare, markLoad, NO_LOAD, type OtherLoad, otherLoad } from './machine-load.ts';
import { CACHEABLE_JSON, GZIP_PLAIN_BYTES, gzipBody, MEDIUM_BYTES, SMALL_JSON, UPLOAD_BYTES } from './payloads.ts';
import {
  cpuMs,
  memory,
  onInterrupt,
  ROOT,
  SERVER_NODE,
  type Service,
  serverNodeVersion,
  startService,
  track,
  watchMemory,
} from './processes.ts';
import {
  fmt,
  type Measured,
  machine,
  onBaseNode,
  type Row,
  type RunData,
  render,
  verdicts,
  verdictText,
} from './report.ts';
import { loadText, median, middle, middleBy, RETAKES, roundToDiscard, spread } from './rounds.ts';
import { readSettings, type Settings } from './settings.ts';
import { type Load, type WrkResult, wrk, wrkVersion } from './wrk.ts';

/*
 * `npm run bench`: corsway on Node against the direct upstream and
 * cors-anywhere (and corsway in `wrangler dev` when it starts), one scenario
 * at a time, every run bounded in time, every byte on loopback or inside a
 * network namespace this script creates. See BENCHMARKS.md for the results
 * and README "Benchmarks" for the knobs.
 */

const env = process.env;
/** When this run started: the report gives its total run time. */
const STARTED = performance.now();
const settings = readOrExit();
/** The share of the machine's CPU time other load may take during a run that is kept (BENCH_OTHER_LOAD). */
const OTHER_LOAD_LIMIT = settings.otherLoadPercent / 100;

function readOrExit(): Settings {
  try {
    return readSettings(env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

/** JIT warm-up before each measured run; every server gets the same. */
const WARMUP_SECONDS = Math.min(3, Math.max(1, Math.round(settings.seconds / 3)));
/** Scenario 8's load stays inside Node's default 5 s keep-alive timeout, so the idle clients stay connected. */
const IDLE_LOAD_SECONDS = Math.min(settings.seconds, 4);
/**
 * The pause before each run: requests wrk cut off at the end of the last run
 * are still being answered (their upstream requests, their aborts), and that
 * work would otherwise fall on the next server's time.
 */
const RUN_GAP_MS = 100;
const ORIGIN = 'https://app.bench.example';
/**
 * The node of `npm run bench:both`'s first run, which it sets on the later
 * runs. Scenario 1 then also measures corsway and the relay on it, in the same
 * rounds as this run's pair, so the target that compares the versions' shares
 * judges figures taken seconds apart, not in runs half an hour apart.
 */
const BASE_NODE = env.BENCH_BASE_NODE || null;

/*
 * corsway refuses loopback targets unless CORSWAY_ALLOW_PRIVATE_NETWORK is on,
 * and the production setting is off. To measure it that way, the run moves
 * into a fresh network namespace (`unshare -rn`: a user namespace owning a
 * network namespace, no privileges needed) whose only interface is its own
 * loopback, and binds the upstream to a public-range address on it. The
 * connect-time guard then accepts the target as it would a real one, and no
 * packet can leave: the namespace has no route anywhere else.
 */
const NAMESPACE_ADDRESS = '11.0.0.1';
const IN_NAMESPACE = env.CORSWAY_BENCH_NAMESPACE === '1';

function enterNamespace(): boolean {
  if (IN_NAMESPACE || /^(0|false|off|no)$/i.test(env.BENCH_NAMESPACE ?? '')) return false;
  if (spawnSync('unshare', ['-rn', 'true']).status !== 0) return false;
  const script = fileURLToPath(import.meta.url);
  const child = spawn('unshare', ['-rn', process.execPath, ...process.execArgv, script], {
    stdio: 'inherit',
    env: { ...env, CORSWAY_BENCH_NAMESPACE: '1' },
  });
  track(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}

function setUpNamespace(): void {
  for (const args of [
    ['link', 'set', 'lo', 'up'],
    ['addr', 'add', `${NAMESPACE_ADDRESS}/32`, 'dev', 'lo'],
  ]) {
    const run = spawnSync('ip', args, { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${run.stderr || run.error}`);
  }
}

interface Scenario {
  readonly id: number;
  readonly title: string;
  readonly path: string;
  readonly load: Load;
  /** Throws when a single exchange shows the server does not do the job. */
  readonly check?: (res: Exchange, proxied: boolean) => void;
  readonly kind: 'wrk' | 'download' | 'idle';
  /** Which corsway and cors-anywhere instances answer it. */
  readonly rateLimited?: boolean;
  /** Also measured on a corsway with CORSWAY_CACHE on. */
  readonly cached?: boolean;
  readonly worker: boolean;
}

const get = (headers: Record<string, string> = {}): Load => ({
  method: 'GET',
  headers: { origin: ORIGIN, ...headers },
});

const fmtMb = (bytes: number) => Math.round(bytes / 1e6);

function expect(condition: unknown, message: string): void {
  if (!condition) throw new Error(message);
}

function corsChecked(res: Exchange, proxied: boolean): void {
  expect(res.status === 200, `status ${res.status}`);
  if (proxied) expect(res.headers['access-control-allow-origin'], 'no Access-Control-Allow-Origin');
}

const gzipped = gzipBody();

const SCENARIOS: Scenario[] = [
  {
    id: 1,
    title: `GET small JSON (${SMALL_JSON.length} B)`,
    path: '/small',
    load: get(),
    kind: 'wrk',
    worker: true,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.toString() === SMALL_JSON, 'wrong body');
    },
  },
  {
    id: 2,
    title: 'GET 256 KiB',
    path: '/medium',
    load: get(),
    kind: 'wrk',
    worker: true,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.length === MEDIUM_BYTES, `body of ${res.body.length} bytes`);
    },
  },
  {
    id: 3,
    title: 'POST 64 KiB, echoed',
    path: '/echo',
    load: {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/octet-stream' },
      bodyBytes: UPLOAD_BYTES,
    },
    kind: 'wrk',
    worker: true,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.equals(Buffer.alloc(UPLOAD_BYTES, 'x')), `echo of ${res.body.length} bytes`);
    },
  },
  {
    id: 4,
    title: `GET gzip (${GZIP_PLAIN_BYTES / 1024} KiB, ${(gzipped.length / 1024).toFixed(1)} KiB on the wire)`,
    path: '/gzip',
    load: get({ 'accept-encoding': 'gzip' }),
    kind: 'wrk',
    worker: true,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.headers['content-encoding'] === 'gzip', `Content-Encoding ${res.headers['content-encoding']}`);
      expect(res.body.equals(gzipped), `body of ${res.body.length} bytes is not the upstream's gzip bytes`);
    },
  },
  {
    id: 5,
    title: 'OPTIONS preflight',
    path: '/small',
    load: {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    },
    kind: 'wrk',
    worker: true,
    check: (res) => {
      expect(res.status === 200 || res.status === 204, `status ${res.status}`);
      expect(res.headers['access-control-allow-origin'], 'no Access-Control-Allow-Origin');
    },
  },
  {
    id: 6,
    title: 'GET small JSON, rate limiting on',
    path: '/small',
    load: get(),
    kind: 'wrk',
    rateLimited: true,
    worker: false,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.toString() === SMALL_JSON, 'wrong body');
    },
  },
  {
    id: 7,
    title: `GET ${settings.downloadBytes / 1024 / 1024} MiB, streamed`,
    path: `/stream?bytes=${settings.downloadBytes}`,
    load: get(),
    kind: 'download',
    worker: false,
  },
  {
    id: 8,
    title: `GET small JSON beside ${settings.idleClients} idle keep-alive clients`,
    path: '/small',
    load: get(),
    kind: 'idle',
    worker: false,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.toString() === SMALL_JSON, 'wrong body');
    },
  },
  {
    id: 9,
    title: `GET cacheable JSON (${CACHEABLE_JSON.length / 1024} KiB, max-age=3600), cache on and off`,
    path: '/cacheable',
    load: get(),
    kind: 'wrk',
    cached: true,
    worker: true,
    check: (res, proxied) => {
      corsChecked(res, proxied);
      expect(res.body.toString() === CACHEABLE_JSON, 'wrong body');
    },
  },
];

interface Server {
  readonly label: string;
  readonly role: Row['role'];
  readonly url: (path: string) => string;
  readonly pid: number | null;
}

function proxied(
  label: string,
  role: Row['role'],
  proxy: { origin: string; pid: number | null },
  target: string,
): Server {
  return { label, role, pid: proxy.pid, url: (path) => `${proxy.origin}/${target}${path}` };
}

/** The scenario's rows, one per server; a row that failed its check is not measured further. */
async function measure(scenario: Scenario, servers: readonly Server[]): Promise<Row[]> {
  const rows = servers.map(
    (server): Row => ({
      scenario: scenario.id,
      title: scenario.title,
      server: server.label,
      role: server.role,
      notes: [],
    }),
  );
  const live: Array<{ server: Server; row: Row }> = [];
  for (const [i, server] of servers.entries()) {
    const row = rows[i] as Row;
    process.stderr.write(`bench: scenario ${scenario.id} (${scenario.title}) on ${server.label} ...\n`);
    try {
      if (scenario.check)
        scenario.check(await exchange(server.url(scenario.path), scenario.load), server.role !== 'direct');
    } catch (error) {
      row.failed = `check failed: ${(error as Error).message}`;
      continue;
    }
    live.push({ server, row });
  }
  if (live.length === 0) return rows;
  if (scenario.kind === 'download') {
    await measureDownloads(scenario, live);
    return rows;
  }
  // Rounds, each server once per round: a burst of other load on a shared
  // machine then lands on one run of every server, not on all runs of one, and
  // the median round is reported. corsway and the relay, whose ratio the
  // targets judge, take turns in one-second slices within a round, as the
  // machine's speed drifts by a quarter over tens of seconds; a round of each
  // in turn read that drift as their ratio (docs/decisions/benchmark-ranges.md,
  // "Paired slices"). The first Node's pair (BENCH_BASE_NODE) is sliced the
  // same way, before or after this one in turn. A round that other load hit, or
  // in which the bare relay's figure is an outlier, is discarded and repeated (at
  // most `rounds` times); a single run that other load hit is first taken again
  // (rounds.ts).
  for (const { server } of live) await run(scenario, server, WARMUP_SECONDS);
  // Peak RSS from here on: every measured round, not the warm-up.
  const peaks = new Map(
    live.flatMap(({ server }) => (server.pid && server.role !== 'direct' ? [[server, watchMemory(server.pid)]] : [])),
  );
  type Round = { runs: Map<Server, { result: WrkResult; cpuMs: number | null }>; otherLoad: OtherLoad };
  const kept: Round[] = [];
  const relay = live.find(({ server }) => server.role === 'floor')?.server;
  const base = live.filter(({ server }) => onBaseNode(server.role));
  const pairs = relay
    ? [live.filter(({ server }) => server === relay || server.role === 'corsway'), ...(base.length === 2 ? [base] : [])]
    : [];
  const alone = live.filter((entry) => !pairs.some((pair) => pair.includes(entry)));
  const seconds = scenario.kind === 'idle' ? IDLE_LOAD_SECONDS : settings.seconds;
  const discards: string[] = [];
  while (kept.length < settings.rounds && discards.length < settings.rounds) {
    const round: Round = { runs: new Map(), otherLoad: NO_LOAD };
    const add = (server: Server, { result, cpuMs: used, otherLoad: load }: Slice) => {
      round.runs.set(server, { result, cpuMs: used });
      round.otherLoad = heavier(round.otherLoad, load);
    };
    for (const { server, row } of alone) add(server, await measureRun(scenario, server, row, seconds));
    const turn = kept.length + discards.length;
    for (const pair of alternate(pairs, turn)) {
      // Idle while the others ran: after a few seconds idle, a server's first second of load
      // costs it more, and not by the same share for both (benchmark-ranges.md).
      for (const { server } of pair) await run(scenario, server, 1);
      const slices = new Map(pair.map(({ server }) => [server, [] as Slice[]]));
      for (let slice = 0; slice < Math.max(1, Math.round(seconds)); slice++) {
        for (const { server, row } of alternate(pair, turn + slice))
          slices.get(server)?.push(await measureRun(scenario, server, row, 1));
      }
      for (const [server, taken] of slices) add(server, joinSlices(taken));
    }
    kept.push(round);
    const judged = kept.map((r) => ({ relay: relay && r.runs.get(relay)?.result.rps, otherLoad: r.otherLoad }));
    discardRound(
      scenario,
      judged,
      (n) => `${fmt(n)} req/s`,
      discards,
      (index) => kept.splice(index, 1),
    );
  }
  const runs = new Map<Server, { results: WrkResult[]; cpuMs: number; requests: number }>();
  for (const round of kept)
    for (const [server, { result, cpuMs: used }] of round.runs) {
      const seen = runs.get(server) ?? { results: [], cpuMs: 0, requests: 0 };
      seen.results.push(result);
      seen.requests += result.requests;
      if (used !== null) seen.cpuMs += used;
      runs.set(server, seen);
    }
  for (const { server, row } of live) {
    const seen = runs.get(server);
    if (server === (relay ?? live[0]?.server)) row.notes.push(...roundsNotes(scenario, kept, discards));
    if (!seen) {
      row.rounds = [];
      continue;
    }
    const mid = middleBy(seen.results, (r) => r.rps);
    Object.assign(row, { rps: mid.rps, p50: mid.p50, p99: mid.p99, rounds: seen.results.map((r) => r.rps) });
    const peak = peaks.get(server)?.();
    if (peak) row.peakRss = peak;
    if (server.pid && seen.requests > 0) row.cpuPerRequest = (seen.cpuMs * 1000) / seen.requests;
    if (seen.results.length > 1) {
      const all = seen.results.map((r) => fmt(r.rps)).join(', ');
      row.notes.push(
        `median of ${seen.results.length} runs, spread ${spread(
          seen.results.map((r) => r.rps),
          fmt,
        )} req/s (${all})`,
      );
    }
    const idle = fewestIdle.get(row);
    if (idle) {
      row.notes.push(
        `idle connections open, fewest in any run: ${idle.before}/${settings.idleClients} before the load, ${idle.after} after`,
      );
    }
    noteErrors(scenario, server, row, seen.results);
  }
  return rows;
}

/** `items` as given on even turns and reversed on odd ones, so each keeps the same mean position. */
function alternate<T>(items: readonly T[], turn: number): readonly T[] {
  return turn % 2 === 0 ? items : [...items].reverse();
}

/** Scenario 8's idle connections still open around the load, the fewest of any run, by row. */
const fewestIdle = new Map<Row, { before: number; after: number }>();

/** One server's run, or slice of a round: wrk's figures, the CPU it used, the most other load. */
interface Slice {
  readonly result: WrkResult;
  readonly cpuMs: number | null;
  readonly otherLoad: OtherLoad;
}

/**
 * A server's slices of a round as one run: requests and seconds summed, the
 * slices' median latency percentiles (wrk's histograms are not kept to merge),
 * CPU summed, and the most other load of any slice.
 */
function joinSlices(slices: readonly Slice[]): Slice {
  const results = slices.map((s) => s.result);
  const sum = (figure: (r: WrkResult) => number) => results.reduce((n, r) => n + figure(r), 0);
  const [requests, seconds] = [sum((r) => r.requests), sum((r) => r.seconds)];
  const used = slices.map((s) => s.cpuMs);
  return {
    result: {
      requests,
      seconds,
      rps: requests / seconds,
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: {
        socket: sum((r) => r.errors.socket),
        status: sum((r) => r.errors.status),
        timeout: sum((r) => r.errors.timeout),
      },
    },
    cpuMs: used.includes(null) ? null : used.reduce((n: number, c) => n + (c as number), 0),
    otherLoad: slices.map((s) => s.otherLoad).reduce(heavier, NO_LOAD),
  };
}

/** Scenario by scenario, the other load of each run that was taken again. */
const retaken = new Map<Scenario, OtherLoad[]>();

/** What `take` measured, taken again at once (up to RETAKES times) while other load hit it. */
async function retaking<T extends { readonly otherLoad: OtherLoad }>(
  scenario: Scenario,
  server: Server,
  take: () => Promise<T>,
): Promise<T> {
  for (let retake = 0; ; retake++) {
    const taken = await take();
    if (loadShare(taken.otherLoad) <= OTHER_LOAD_LIMIT || retake === RETAKES) return taken;
    retaken.set(scenario, [...(retaken.get(scenario) ?? []), taken.otherLoad]);
    process.stderr.write(
      `bench: scenario ${scenario.id}: a run of ${server.label} taken again: ${loadText(taken.otherLoad)}\n`,
    );
  }
}

/** One server's run (or slice) and the CPU it used, taken again while other load hit it. */
function measureRun(scenario: Scenario, server: Server, row: Row, seconds: number): Promise<Slice> {
  return retaking(scenario, server, () => measureOnce(scenario, server, row, seconds));
}

/**
 * One server's run (or slice) and the CPU it used. For scenario 8 the idle
 * clients connect first and are closed after, so every run starts alike; the
 * CPU counts the load only.
 */
async function measureOnce(scenario: Scenario, server: Server, row: Row, seconds: number): Promise<Slice> {
  await sleep(RUN_GAP_MS);
  const idle =
    scenario.kind === 'idle' ? await idleClients(server.url(scenario.path), scenario.load, settings.idleClients) : null;
  const before = idle?.held() ?? 0;
  const mark = markLoad();
  const cpuBefore = server.pid ? cpuMs(server.pid) : null;
  const result = await run(scenario, server, seconds);
  const cpuAfter = server.pid ? cpuMs(server.pid) : null;
  if (idle) {
    const fewest = fewestIdle.get(row) ?? { before, after: idle.held() };
    fewestIdle.set(row, { before: Math.min(fewest.before, before), after: Math.min(fewest.after, idle.held()) });
    idle.agent.destroy();
  }
  return {
    result,
    cpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    otherLoad: otherLoad(mark, markLoad()),
  };
}

/** The kept rounds' one discard, if any is due: removed by `remove`, its reason added to `discards`. */
function discardRound(
  scenario: Scenario,
  judged: Parameters<typeof roundToDiscard>[0],
  format: (n: number) => string,
  discards: string[],
  remove: (index: number) => void,
): void {
  const discard = roundToDiscard(judged, format, OTHER_LOAD_LIMIT);
  if (!discard) return;
  remove(discard.index);
  discards.push(discard.why);
  process.stderr.write(`bench: scenario ${scenario.id}: a round discarded and repeated: ${discard.why}\n`);
}

/** The notes on how a scenario's rounds went, on the relay's row (or the first row where it sits out). */
function roundsNotes(
  scenario: Scenario,
  kept: ReadonlyArray<{ otherLoad: OtherLoad }>,
  discards: readonly string[],
): string[] {
  const notes: string[] = [];
  if (kept.length > 0) {
    const most = kept.map((r) => r.otherLoad).reduce(heavier, NO_LOAD);
    notes.push(
      `other load took at most ${(loadShare(most) * 100).toFixed(1)}% of the machine's CPU time in any kept run (${loadText(most)})`,
    );
  }
  const again = retaken.get(scenario) ?? [];
  if (again.length > 0)
    notes.push(
      `${again.length} run(s) taken again at once for other load, the heaviest: ${loadText(again.reduce(heavier, NO_LOAD))}`,
    );
  if (discards.length > 0) notes.push(`${discards.length} round(s) discarded and repeated: ${discards.join('; ')}`);
  if (kept.length < settings.rounds)
    notes.push(`**only ${kept.length} of ${settings.rounds} rounds kept: too uneven a load for this run to stand**`);
  return notes;
}

function run(scenario: Scenario, server: Server, seconds: number): Promise<WrkResult> {
  return wrk(server.url(scenario.path), scenario.load, { seconds, connections: settings.connections });
}

function noteErrors(scenario: Scenario, server: Server, row: Row, results: readonly WrkResult[]): void {
  const sum = (key: keyof WrkResult['errors']) => results.reduce((n, r) => n + r.errors[key], 0);
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const [socket, status, timeout] = [sum('socket'), sum('status'), sum('timeout')];
  if (status) row.notes.push(`${status} non-2xx answers`);
  if (socket) row.notes.push(`${socket} socket errors`);
  if (timeout) row.notes.push(`${timeout} timeouts`);
  if (status && server.role.startsWith('corsway')) row.failed = `${status} of ${requests} answers were not 2xx`;
  if (scenario.id === 4 && !row.failed) row.notes.push('gzip bytes relayed as sent');
}

/**
 * Scenario 7, in rounds like the wrk scenarios: one download at a time, every
 * server once per round, the order reversed from one round to the next (a
 * download is the slice here). One download is a few seconds, so a burst of
 * other load on a shared machine can halve it; the median round is reported,
 * and the highest peak RSS of all rounds, since the target bounds the whole run.
 */
async function measureDownloads(scenario: Scenario, live: ReadonlyArray<{ server: Server; row: Row }>): Promise<void> {
  const seen = new Map<Row, { mbps: number[]; peakRss: number; rssBefore: number | null }>();
  const relay = live.find(({ server }) => server.role === 'floor')?.row;
  const discards: string[] = [];
  /** Each kept round's most other load, index-aligned with every row's downloads. */
  const loads: Array<{ otherLoad: OtherLoad }> = [];
  while (loads.length < settings.rounds && discards.length < settings.rounds) {
    const round = { otherLoad: NO_LOAD };
    for (const { server, row } of alternate(live, loads.length + discards.length)) {
      if (row.failed) continue;
      const watched = server.pid && server.role !== 'direct' ? server.pid : null;
      const before = watched ? memory(watched) : null;
      const peak = watched ? watchMemory(watched) : null;
      try {
        const {
          bytes,
          seconds,
          otherLoad: load,
        } = await retaking(scenario, server, async () => {
          const mark = markLoad();
          const got = await download(server.url(scenario.path), scenario.load.headers, 10 * 60_000);
          return { ...got, otherLoad: otherLoad(mark, markLoad()) };
        });
        if (bytes !== settings.downloadBytes) throw new Error(`received ${bytes} of ${settings.downloadBytes} bytes`);
        const entry = seen.get(row) ?? { mbps: [], peakRss: 0, rssBefore: before?.rss ?? null };
        entry.mbps.push(bytes / seconds / 1e6);
        round.otherLoad = heavier(round.otherLoad, load);
        entry.peakRss = Math.max(entry.peakRss, peak?.() ?? 0);
        seen.set(row, entry);
      } catch (error) {
        peak?.();
        row.failed = (error as Error).message;
      }
    }
    loads.push(round);
    // Rounds are index-aligned across rows while no row failed; a failed row is not reported.
    const relayMbps = relay && !relay.failed ? seen.get(relay)?.mbps : undefined;
    const judged = loads.map((r, i) => ({ relay: relayMbps?.[i], otherLoad: r.otherLoad }));
    discardRound(
      scenario,
      judged,
      (n) => `${fmt(n)} MB/s`,
      discards,
      (index) => {
        loads.splice(index, 1);
        for (const entry of seen.values()) entry.mbps.splice(index, 1);
      },
    );
  }
  const notesRow = relay ?? live[0]?.row;
  if (notesRow && !notesRow.failed) notesRow.notes.push(...roundsNotes(scenario, loads, discards));
  for (const [row, { mbps, peakRss, rssBefore }] of seen) {
    if (row.failed) continue;
    row.rounds = mbps;
    if (mbps.length === 0) continue;
    row.mbps = middle(mbps);
    if (mbps.length > 1)
      row.notes.push(
        `median of ${mbps.length} downloads, spread ${spread(mbps, fmt)} MB/s (${mbps.map((m) => fmt(m)).join(', ')})`,
      );
    if (peakRss > 0) {
      row.peakRss = peakRss;
      if (rssBefore !== null) row.notes.push(`RSS ${fmtMb(rssBefore)} MB before the first download`);
    }
  }
}

async function main(): Promise<number> {
  const wrkVersionText = wrkVersion();
  if (!wrkVersionText) {
    console.error('bench: wrk is not installed. Install it (Debian/Ubuntu: apt-get install wrk) and run again.');
    return 1;
  }
  const nodeVersion = serverNodeVersion();
  if (!nodeVersion) {
    console.error(`bench: BENCH_NODE=${SERVER_NODE} is not a node binary that runs`);
    return 1;
  }
  const baseVersion = BASE_NODE && serverNodeVersion(BASE_NODE);
  if (BASE_NODE && !baseVersion) {
    console.error(`bench: BENCH_BASE_NODE=${BASE_NODE} is not a node binary that runs`);
    return 1;
  }
  if (enterNamespace()) return -1;
  // corsway runs as its package does (`npx corsway`): the compiled JavaScript
  // in dist/, not the TypeScript sources through tsx, which alone adds ~75 MB.
  if (spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) {
    console.error('bench: npm run build failed');
    return 1;
  }
  if (IN_NAMESPACE) setUpNamespace();
  else settings.guard = 'allow-private';
  const upstreamHost = IN_NAMESPACE ? NAMESPACE_ADDRESS : '127.0.0.1';
  const guardEnv: Record<string, string> = IN_NAMESPACE ? {} : { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' };

  const services: Service[] = [];
  const start = async (...args: Parameters<typeof startService>) => {
    const service = await startService(...args);
    services.push(service);
    return service;
  };
  const rows: Row[] = [];
  let failed = false;
  // First, on a machine nothing of this run loads yet; in the namespace, so no packet leaves.
  process.stderr.write(`bench: idle RSS of the built CLI, ${settings.idleStarts} start(s) ...\n`);
  const idle = settings.only ? [] : await idleRss(settings.idleStarts, '127.0.0.1');
  try {
    const upstream = await start('upstream', 'bench/upstream.ts', { PORT: '0' }, upstreamHost);
    const target = upstream.origin;
    const corswayEnv = { CORSWAY_LOG_LEVEL: 'silent', ...guardEnv };
    const corsway = await start(
      'corsway',
      'dist/node/cli.js',
      { ...corswayEnv, PORT: String(await freePort()) },
      '127.0.0.1',
    );
    const corswayWorkers =
      settings.nodeWorkers > 1
        ? await start(
            'corsway (workers)',
            'dist/node/cli.js',
            { ...corswayEnv, CORSWAY_WORKERS: String(settings.nodeWorkers), PORT: String(await freePort()) },
            '127.0.0.1',
          )
        : null;
    const floor = await start('bare pass-through', 'bench/passthrough.mjs', { PORT: '0' }, '127.0.0.1');
    const corsAnywhere = await start('cors-anywhere', 'bench/cors-anywhere.mjs', { PORT: '0' }, '127.0.0.1');
    const direct: Server = { label: 'direct', role: 'direct', pid: upstream.pid, url: (path) => `${target}${path}` };
    const servers = {
      corsway: proxied('corsway (Node)', 'corsway', corsway, target),
      corsAnywhere: proxied('cors-anywhere', 'cors-anywhere', corsAnywhere, target),
    };

    const scenarios = SCENARIOS.filter((s) => !settings.only || settings.only.has(s.id));
    let worker: Awaited<ReturnType<typeof startWorker>> | null = null;
    let forgetWorker: () => void = () => {};
    if (settings.worker && scenarios.some((s) => s.worker)) {
      try {
        const started = await startWorker({ ...guardEnv });
        worker = started;
        forgetWorker = onInterrupt(started.stop);
      } catch (error) {
        settings.workerNote = `wrangler dev did not start: ${(error as Error).message.split('\n')[0]}`;
      }
    }
    try {
      for (const scenario of scenarios) {
        const list: Server[] = [direct];
        const extra: Service[] = [];
        if (scenario.rateLimited) {
          const rl = await start(
            'corsway (rate limit)',
            'dist/node/cli.js',
            { ...corswayEnv, CORSWAY_RATE_LIMIT: '1000000000/1h', PORT: String(await freePort()) },
            '127.0.0.1',
          );
          const caRl = await start(
            'cors-anywhere (rate limit)',
            'bench/cors-anywhere.mjs',
            { PORT: '0', BENCH_RATE_LIMIT: '1000000000 60' },
            '127.0.0.1',
          );
          extra.push(rl, caRl);
          list.push(
            proxied('corsway (Node)', 'corsway', rl, target),
            proxied('cors-anywhere', 'cors-anywhere', caRl, target),
          );
        } else {
          list.push(servers.corsway, servers.corsAnywhere);
          // Preflights are answered by a CORS proxy itself; a pass-through would forward them.
          if (scenario.id !== 5) list.push(proxied('bare pass-through (floor)', 'floor', floor, target));
          // One download is one connection, so one worker: the single process's row says it all.
          if (corswayWorkers && scenario.kind !== 'download') {
            const label = `corsway (Node, ${settings.nodeWorkers} workers)`;
            list.push(proxied(label, 'corsway-workers', corswayWorkers, target));
          }
        }
        if (scenario.id === 1 && BASE_NODE) {
          const options = { node: BASE_NODE };
          const [corswayBase, floorBase] = [
            await start(
              'corsway (base)',
              'dist/node/cli.js',
              { ...corswayEnv, PORT: String(await freePort()) },
              '127.0.0.1',
              options,
            ),
            await start('bare pass-through (base)', 'bench/passthrough.mjs', { PORT: '0' }, '127.0.0.1', options),
          ];
          extra.push(corswayBase, floorBase);
          list.push(
            proxied(`corsway (Node ${baseVersion})`, 'corsway-base', corswayBase, target),
            proxied(`bare pass-through (floor, Node ${baseVersion})`, 'floor-base', floorBase, target),
          );
        }
        if (scenario.cached) {
          const cached = await start(
            'corsway (cache)',
            'dist/node/cli.js',
            { ...corswayEnv, CORSWAY_CACHE: 'on', PORT: String(await freePort()) },
            '127.0.0.1',
          );
          extra.push(cached);
          list.push(proxied('corsway (Node, CORSWAY_CACHE=on)', 'corsway-cache', cached, target));
        }
        if (scenario.worker && worker) {
          list.push(proxied('corsway (wrangler dev)', 'worker', { origin: worker.url, pid: null }, target));
        }
        for (const row of await measure(scenario, list)) {
          if (row.failed && (row.role === 'direct' || row.role.startsWith('corsway'))) failed = true;
          rows.push(row);
        }
        for (const service of extra) await service.stop();
      }
    } finally {
      forgetWorker();
      await worker?.stop();
    }
  } finally {
    for (const service of services.reverse()) await service.stop();
  }

  const measured: Measured = { rows, idleRss: idle, seconds: (performance.now() - STARTED) / 1000 };
  const info = machine(wrkVersionText, nodeVersion);
  const text = render(measured, settings, info);
  console.log(text.table);
  console.log(verdictText(verdicts(measured, settings.rounds)));
  // For npm run bench:both, which judges the runs against each other.
  if (env.BENCH_DATA)
    writeFileSync(
      env.BENCH_DATA,
      JSON.stringify({
        node: nodeVersion,
        ...(baseVersion ? { base: baseVersion } : {}),
        rounds: settings.rounds,
        measured,
      } satisfies RunData),
    );
  const out = env.BENCH_OUT ?? (settings.quick || settings.only ? null : 'BENCHMARKS.md');
  if (out) {
    writeFileSync(resolve(ROOT, out), text.markdown);
    console.log(`bench: wrote ${out}`);
  }
  if (failed) console.error('bench: corsway or the direct upstream failed a scenario (see the table).');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
