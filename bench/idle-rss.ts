import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/runtimes.ts';
import { memory, startService } from './processes.ts';

/*
 * Idle RSS of the built CLI (issue 26, target 3), as docs/decisions/idle-rss.md
 * measured it: `dist/node/cli.js` with the default configuration (only a
 * loopback port), VmRSS a few seconds after its "listening" line, before any
 * request, over several starts.
 */

/** How long after "listening" the RSS is read: start-up's garbage settles by then. */
export const IDLE_SETTLE_MS = 3_000;

/** The RSS of `starts` fresh starts of the built CLI, in bytes, in the order taken. */
export async function idleRss(starts: number, host: string, settleMs = IDLE_SETTLE_MS): Promise<number[]> {
  const figures: number[] = [];
  for (let i = 0; i < starts; i++) {
    const cli = await startService('corsway (idle)', 'dist/node/cli.js', { PORT: String(await freePort()) }, host);
    try {
      await sleep(settleMs);
      const rss = memory(cli.pid)?.rss;
      if (!rss) throw new Error('bench: the idle CLI exited before its RSS was read');
      figures.push(rss);
    } finally {
      await cli.stop();
    }
  }
  return figures;
}
