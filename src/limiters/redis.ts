import { createClient } from 'redis';
import type { RateLimitSpec } from '../config/config.ts';
import { type ByteLimiter, byteGcra } from './bandwidth.ts';
import { type SharedLimiter, withByteFailover, withFailover } from './failover.ts';
import { gcra, type RateLimiter } from './rate-limit.ts';

/**
 * A budget check is one round trip on a LAN; past this a request stops waiting
 * for Redis. Our own timer: the client's `timeout` command option stops
 * counting once a command is written, so it cannot catch a Redis that hangs.
 */
const COMMAND_TIMEOUT_MS = 500;
/** Commands waiting on a hung connection are capped; beyond this they fail at once. */
const MAX_PENDING_COMMANDS = 1_000;
/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect back-off doubles from 50 ms up to this, and keeps trying: Redis usually comes back. */
const MAX_RECONNECT_DELAY_MS = 2_000;
/** Every budget key starts with this, so corsway's keys are easy to find and never collide. */
const KEY_PREFIX = 'corsway:ratelimit:';

/**
 * gcra() from rate-limit.ts, made atomic inside Redis: the same arithmetic
 * (its SLACK_MS rounding tolerance included) on the stored arrival time
 * (milliseconds, as a decimal string), on Redis's own clock so instances with
 * skewed clocks still share one timeline. It returns
 * what gcra() needs to rebuild the decision in JavaScript: the arrival time it
 * found and the time it used, both printed with %.17g so the doubles arrive
 * bit for bit and both sides agree on every comparison. TIME before a write
 * needs effects replication, the default since Redis 5.
 */
const CONSUME_SCRIPT = `
local window = tonumber(ARGV[1])
local interval = window / tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local stored = redis.call('GET', KEYS[1])
local tat = math.max(tonumber(stored) or now, now)
local nextTat = tat + interval
local slack = math.min(1, interval / 4)
if nextTat - now <= window + slack then
  redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
end
return { stored or '', string.format('%.17g', now) }
`;

/**
 * byteGcra() from bandwidth.ts inside Redis, like CONSUME_SCRIPT: ARGV[3]
 * bytes (0 to check) move the arrival time on, never refused. Returns the
 * arrival time found and the time used, for byteGcra() to rebuild the decision.
 */
const BYTES_SCRIPT = `
local window = tonumber(ARGV[1])
local interval = window / tonumber(ARGV[2])
local bytes = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local stored = redis.call('GET', KEYS[1])
if bytes > 0 then
  local nextTat = math.max(tonumber(stored) or now, now) + bytes * interval
  redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
end
return { stored or '', string.format('%.17g', now) }
`;
/** Bandwidth budgets live beside the request budgets, under their own prefix. */
const BYTES_PREFIX = 'corsway:bandwidth:';

/** The Redis store with its connection, for the Node entry to report on and close. */
export interface RedisLimiter extends SharedLimiter {
  /** Bandwidth budgets in the same Redis, over the same connection. */
  readonly bytes: ByteLimiter;
  /** Drops the connection; call it once no request needs a budget any more. */
  close(): void;
}

/**
 * Budgets in Redis, shared by every instance pointed at the same `url`. The
 * client never throws into the process: connection errors are events (logged
 * by the failover wrapper when a request meets them), reconnects back off
 * without end, commands fail at once while disconnected instead of queueing,
 * and a connected but hung Redis costs a request at most COMMAND_TIMEOUT_MS.
 */
export function redisLimiter(url: string, spec: RateLimitSpec, mode: 'open' | 'closed'): RedisLimiter {
  let lastError = 'not connected yet';
  const client = createClient({
    url,
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_PENDING_COMMANDS,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
  // Without a listener an 'error' event would crash the process.
  // Each new reason is logged once: public /healthz only says the store is unreachable.
  client.on('error', (error: Error) => {
    const reason = error.message || error.name;
    if (reason !== lastError) console.error(`corsway: rate-limit store Redis: ${reason}`);
    lastError = reason;
  });
  client.on('ready', () => {
    lastError = 'not connected yet';
  });
  // The first attempt may fail too; the reconnect strategy takes it from there.
  client.connect().catch(() => {});
  // Requests arriving while the first attempt is under way wait for it (within COMMAND_TIMEOUT_MS).
  const firstAttempt = new Promise<void>((resolve) => {
    client.once('ready', resolve);
    client.once('error', () => resolve());
  });

  const shas = new Map<string, string>();

  async function run(script: string, key: string, args: string[]): Promise<[string, string]> {
    await firstAttempt;
    const options = { keys: [key], arguments: args };
    let sha = shas.get(script);
    if (sha) {
      try {
        return (await client.evalSha(sha, options)) as [string, string];
      } catch (error) {
        // A restarted or flushed Redis forgets scripts; load it again below.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      }
    }
    sha = await client.scriptLoad(script);
    shas.set(script, sha);
    return (await client.evalSha(sha, options)) as [string, string];
  }
  const sizeArgs = (size: RateLimitSpec) => [String(size.windowSeconds * 1000), String(size.limit)];

  const store: RateLimiter = {
    async consume(key, size = spec) {
      const [stored, now] = await withTimeout(
        run(CONSUME_SCRIPT, KEY_PREFIX + key, sizeArgs(size)),
        COMMAND_TIMEOUT_MS,
      );
      return gcra(size, stored === '' ? undefined : Number(stored), Number(now)).decision;
    },
  };
  const bytes: ByteLimiter = {
    async check(key, size) {
      const [stored, now] = await withTimeout(
        run(BYTES_SCRIPT, BYTES_PREFIX + key, [...sizeArgs(size), '0']),
        COMMAND_TIMEOUT_MS,
      );
      return byteGcra(size, stored === '' ? undefined : Number(stored), Number(now), 0).decision;
    },
    async charge(key, size, count) {
      await withTimeout(run(BYTES_SCRIPT, BYTES_PREFIX + key, [...sizeArgs(size), String(count)]), COMMAND_TIMEOUT_MS);
    },
  };
  const shared = withFailover(store, spec, { mode, name: 'Redis' });

  return {
    consume: shared.consume,
    bytes: withByteFailover(bytes, { mode, name: 'Redis' }),
    problem: () => (client.isReady ? shared.problem() : `Redis unreachable (${lastError})`),
    close() {
      // destroy(), not close(): close() waits for replies a hung Redis never sends.
      if (client.isOpen) client.destroy();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
