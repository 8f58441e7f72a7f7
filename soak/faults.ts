import { request } from 'node:http';
import type { RedisServer } from '../test/support/redis-server.ts';
import type { RunningProxy } from '../test/support/runtimes.ts';
import { sleep, waitUntil } from '../test/support/wait.ts';
import { alive, workerPids } from '../test/support/workers.ts';
import { exchange } from './exchange.ts';
import { BLOB_SHA } from './targets.ts';

/** A pass criterion: what was checked and what was seen. */
export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

/** `/healthz`'s first line on a fresh connection (each may reach another worker). */
async function health(proxy: string): Promise<string> {
  const ex = await exchange(`${proxy}/healthz`, { agent: false, keep: true, timeoutMs: 5_000 });
  return ex.status === 200 ? (ex.body.toString().split('\n')[0] ?? '') : `status ${ex.status ?? ex.error}`;
}

/** `/healthz` says `want` on `times` answers in a row within `timeoutMs`. */
async function healthSays(proxy: string, want: RegExp, times: number, timeoutMs: number): Promise<boolean> {
  let row = 0;
  return waitUntil(
    async () => {
      row = want.test(await health(proxy)) ? row + 1 : 0;
      return row >= times;
    },
    timeoutMs,
    200,
  );
}

/**
 * Kills redis-server (SIGKILL) and restarts it on the same port: `/healthz` must
 * say degraded while it is away and ok again after; budgets keep answering meanwhile
 * (the traffic beside it judges that).
 */
export async function redisOutage(proxy: string, redis: RedisServer, round: number, awayMs: number): Promise<Check[]> {
  const killed = Date.now();
  await redis.kill();
  const degraded = await healthSays(proxy, /^degraded/, 2, Math.max(awayMs, 10_000));
  await sleep(Math.max(0, killed + awayMs - Date.now()));
  await redis.start();
  const recovered = await healthSays(proxy, /^ok$/, 4, 30_000);
  return [
    {
      name: `Redis killed (${round}): /healthz says degraded`,
      passed: degraded,
      detail: degraded ? 'seen' : 'never said',
    },
    {
      name: `Redis restarted (${round}): /healthz says ok again`,
      passed: recovered,
      detail: recovered ? 'seen' : 'still degraded after 30 s',
    },
  ];
}

/** SIGKILLs one worker of a CORSWAY_WORKERS primary; the primary must start another within 15 s. */
export async function killWorker(proxy: RunningProxy): Promise<Check> {
  const before = workerPids(proxy.pid);
  const victim = before[0];
  if (victim === undefined) return { name: 'one worker killed: replaced', passed: false, detail: 'no worker found' };
  process.kill(victim, 'SIGKILL');
  const replaced = await waitUntil(() => {
    const now = workerPids(proxy.pid);
    return now.length === before.length && !now.includes(victim);
  }, 15_000);
  const answering = replaced && /^(ok|degraded)/.test(await health(proxy.url));
  return {
    name: 'one worker killed: the primary replaces it',
    passed: replaced && answering,
    detail: `killed ${before.length > 1 ? 'one of' : ''} ${before.length} workers; ${replaced ? 'replaced' : 'not replaced within 15 s'}${answering ? ', answering' : ''}`,
  };
}

/** Connecting now is refused (nothing listens any more). */
function refused(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET'),
    );
    req.setTimeout(5_000, () => req.destroy());
    req.end();
  });
}

/**
 * SIGTERM while `inFlight` slow downloads run: they must all finish whole,
 * a new connection must be refused, and the process exit 0.
 */
export async function sigtermDrain(proxy: RunningProxy, target: string, inFlight: number): Promise<Check[]> {
  const downloads = Array.from({ length: inFlight }, () =>
    exchange(`${proxy.url}/${target}/stall-body`, { agent: false, headers: { origin: 'http://drain.soak.test' } }),
  );
  await sleep(400);
  process.kill(proxy.pid, 'SIGTERM');
  await sleep(300);
  const closed = await refused(`${proxy.url}/healthz`);
  const results = await Promise.all(downloads);
  const whole = results.filter((r) => r.status === 200 && r.sha256 === BLOB_SHA).length;
  const exitedAt = await waitUntil(() => !alive(proxy.pid), 20_000);
  const code = exitedAt ? await proxy.stop() : null;
  return [
    {
      name: 'SIGTERM: in-flight requests finish whole',
      passed: whole === inFlight,
      detail: `${whole}/${inFlight} whole`,
    },
    { name: 'SIGTERM: new connections refused', passed: closed, detail: closed ? 'refused' : 'still accepted' },
    { name: 'SIGTERM: exits 0', passed: code === 0, detail: `exit ${exitedAt ? code : 'none within 20 s'}` },
  ];
}
