import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { SMALL_JSON } from '../bench/payloads.ts';
import { type Exchange, exchange } from './exchange.ts';
import { BLOB, BLOB_SHA, GZIP, GZIP_SHA, SSE_EVENTS, STALL_BODY_MS, sha256 } from './targets.ts';

/**
 * The allowed origins clean traffic cycles through: one budget each, a bounded set of keys,
 * enough that 2 requests a second each (the budget's rate) is 4x what 12 clients on 2 cores send.
 */
export const ORIGINS = 512;
export const ALLOW_ORIGINS = 'http://*.soak.test';
/** Per-origin budget: far above what one clean origin spends, far below one budget burst. */
export const RATE_LIMIT = '20/10s';
const BURST = 50;
export const TIMEOUT_MS = 1_000;

export interface SoakContext {
  /** The proxy's base URL. */
  proxy: string;
  /** The target's origin (http://127.0.0.1:<port>). */
  target: string;
  agent: Agent;
  /** Whether a process fault (a worker killed) is under way: then a lost connection is expected. */
  processFault(): boolean;
}

export interface Outcome {
  /** What happened, e.g. `ok`, `502 upstream_failed`, `cut`, `ECONNRESET`. */
  outcome: string;
  expected: boolean;
  /** Bytes whose hash was checked against what the target sent. */
  verified: number;
  ms: number;
}

export type Kind = 'clean' | 'refusal' | 'fault';

export interface Scenario {
  name: string;
  kind: Kind;
  /** Relative share of the traffic of its phase. */
  weight: number;
  /** Only where names fail to resolve for sure (the script's own network namespace). */
  needsNetns?: boolean;
  run(ctx: SoakContext): Promise<Outcome>;
}

let turn = 0;
function cleanOrigin(): string {
  turn = (turn + 1) % ORIGINS;
  return `http://c${turn}.soak.test`;
}

function errorCode(ex: Exchange): string | null {
  if (ex.status === null || ex.status < 400) return null;
  try {
    return (JSON.parse(ex.body.toString()) as { error?: string }).error ?? null;
  } catch {
    return null;
  }
}

function describe(ex: Exchange): string {
  if (ex.error && ex.status === null) return ex.error;
  if (ex.cut) return `${ex.status} cut (${ex.error ?? 'early end'})`;
  const code = errorCode(ex);
  return code ? `${ex.status} ${code}` : String(ex.status);
}

/** `ok` when `good`; otherwise the exchange described, expected only as a casualty of a process fault. */
function judge(ctx: SoakContext, ex: Exchange, good: boolean, verified = 0): Outcome {
  if (good) return { outcome: 'ok', expected: true, verified, ms: ex.ms };
  // A whole 200 whose bytes differ from what the target sent.
  if (verified > 0 && ex.status === 200 && !ex.cut && ex.error === null) {
    return { outcome: 'corrupted', expected: false, verified: 0, ms: ex.ms };
  }
  const lost = ex.error !== null && ex.error !== 'CLIENT_TIMEOUT' && ctx.processFault();
  return { outcome: lost ? `${describe(ex)} (worker killed)` : describe(ex), expected: lost, verified: 0, ms: ex.ms };
}

function get(ctx: SoakContext, path: string, extra: Partial<Parameters<typeof exchange>[1]> = {}): Promise<Exchange> {
  return exchange(`${ctx.proxy}/${ctx.target}${path}`, {
    ...extra,
    agent: ctx.agent,
    headers: { origin: cleanOrigin(), ...extra.headers },
  });
}

const GUNZIPPED_SHA = sha256(gunzipSync(GZIP));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'json',
    kind: 'clean',
    weight: 6,
    async run(ctx) {
      const ex = await get(ctx, '/json', { keep: true });
      const good =
        ex.status === 200 &&
        !ex.cut &&
        ex.body.toString() === SMALL_JSON &&
        !!ex.headers['access-control-allow-origin'];
      return judge(ctx, ex, good, ex.bytes);
    },
  },
  {
    name: 'download 2 MiB',
    kind: 'clean',
    weight: 2,
    async run(ctx) {
      const ex = await get(ctx, '/blob');
      return judge(ctx, ex, ex.status === 200 && ex.sha256 === BLOB_SHA, ex.bytes);
    },
  },
  {
    name: 'upload echo',
    kind: 'clean',
    weight: 2,
    async run(ctx) {
      const body = randomBytes(1 + Math.floor(Math.random() * 1024 * 1024));
      const ex = await get(ctx, '/echo', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/octet-stream' },
      });
      return judge(ctx, ex, ex.status === 200 && ex.sha256 === sha256(body), ex.bytes);
    },
  },
  {
    name: 'gzip passthrough',
    kind: 'clean',
    weight: 2,
    async run(ctx) {
      const ex = await get(ctx, '/gzip', { headers: { 'accept-encoding': 'gzip' } });
      // Passed through compressed, or decoded without the encoding header: both keep body and headers in agreement.
      const good =
        ex.status === 200 &&
        (ex.headers['content-encoding'] === 'gzip' ? ex.sha256 === GZIP_SHA : ex.sha256 === GUNZIPPED_SHA);
      return judge(ctx, ex, good, ex.bytes);
    },
  },
  {
    name: 'sse',
    kind: 'clean',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/sse', { keep: true });
      const events = ex.body.toString().match(/^data: /gm)?.length ?? 0;
      return judge(ctx, ex, ex.status === 200 && events === SSE_EVENTS, ex.bytes);
    },
  },
  {
    name: 'redirect',
    kind: 'clean',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/redirect', { keep: true });
      const good =
        ex.status === 200 && ex.body.toString() === SMALL_JSON && `${ex.headers['x-final-url']}`.endsWith('/json');
      return judge(ctx, ex, good, ex.bytes);
    },
  },
  {
    name: 'preflight',
    kind: 'clean',
    weight: 2,
    async run(ctx) {
      const origin = cleanOrigin();
      const ex = await exchange(`${ctx.proxy}/${ctx.target}/json`, {
        method: 'OPTIONS',
        agent: ctx.agent,
        headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-soak' },
      });
      return judge(ctx, ex, ex.status === 204 && ex.headers['access-control-allow-origin'] === origin);
    },
  },
  {
    name: 'diagnose',
    kind: 'clean',
    weight: 1,
    async run(ctx) {
      const ex = await exchange(`${ctx.proxy}/diagnose/${ctx.target}/json`, {
        agent: ctx.agent,
        headers: { origin: cleanOrigin(), accept: 'application/json' },
      });
      return judge(ctx, ex, ex.status === 200);
    },
  },
  {
    name: 'refused origin',
    kind: 'refusal',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/json', { keep: true, headers: { origin: 'http://evil.example' } });
      return judge(ctx, ex, ex.status === 403 && errorCode(ex) === 'origin_not_allowed');
    },
  },
  {
    name: 'budget burst',
    kind: 'refusal',
    weight: 0.2,
    async run(ctx) {
      const started = performance.now();
      let limited = 0;
      for (let i = 0; i < BURST; i++) {
        const ex = await get(ctx, '/json', { keep: true, headers: { origin: 'http://budget.soak.test' } });
        if (ex.status === 429 && errorCode(ex) === 'rate_limited') limited++;
        else if (ex.status !== 200) return judge(ctx, ex, false);
      }
      // 50 requests at once against a budget of 20: some must be refused.
      const ms = performance.now() - started;
      return limited > 0
        ? { outcome: 'ok', expected: true, verified: 0, ms }
        : { outcome: 'never limited', expected: false, verified: 0, ms };
    },
  },
  {
    name: 'target resets mid-body',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/reset', { keep: true });
      // The client sees the failure: a 502 before the body, or a visibly cut body.
      const seen = (ex.status === 502 && errorCode(ex) === 'upstream_failed') || (ex.status === 200 && ex.cut);
      return seen ? { outcome: describe(ex), expected: true, verified: 0, ms: ex.ms } : judge(ctx, ex, false);
    },
  },
  {
    name: 'target stalls before headers',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/stall-headers', { keep: true });
      const good = ex.status === 504 && errorCode(ex) === 'upstream_timeout' && ex.ms >= TIMEOUT_MS * 0.9;
      return judge(ctx, ex, good);
    },
  },
  {
    name: 'target stalls mid-body',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/stall-body');
      return judge(ctx, ex, ex.status === 200 && ex.sha256 === BLOB_SHA && ex.ms >= STALL_BODY_MS * 0.9, ex.bytes);
    },
  },
  {
    name: 'target malformed',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/malformed', { keep: true });
      return judge(ctx, ex, ex.status === 502 && errorCode(ex) === 'upstream_failed');
    },
  },
  {
    name: 'client aborts download',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/blob', { abortAfterBytes: 256 * 1024 });
      return judge(ctx, ex, ex.error === 'CLIENT_ABORT');
    },
  },
  {
    name: 'client aborts upload',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/echo', { method: 'POST', body: BLOB, abortUploadAfter: 256 * 1024 });
      return judge(ctx, ex, ex.error === 'CLIENT_ABORT');
    },
  },
  {
    name: 'slow reader',
    kind: 'fault',
    weight: 1,
    async run(ctx) {
      const ex = await get(ctx, '/blob', { readPauseMs: 15 });
      return judge(ctx, ex, ex.status === 200 && ex.sha256 === BLOB_SHA, ex.bytes);
    },
  },
  {
    name: 'DNS name fails',
    kind: 'fault',
    weight: 1,
    needsNetns: true,
    async run(ctx) {
      const ex = await exchange(`${ctx.proxy}/http://no-such-host.soak.invalid/json`, {
        agent: ctx.agent,
        keep: true,
        headers: { origin: cleanOrigin() },
      });
      return judge(ctx, ex, ex.status === 502 && errorCode(ex) === 'upstream_failed');
    },
  },
];
