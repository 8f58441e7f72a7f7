import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type LoadMark, markLoad, otherLoad, ownTicks } from '../../bench/machine-load.ts';
import { eventually } from '../support/wait.ts';

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
/** A node program that uses `ms` of its own CPU time (however busy the machine), then touches `flag` if given. */
const burn = (ms: number, flag = '') =>
  `const s = process.cpuUsage(); while (process.cpuUsage(s).user < ${ms * 1000}); ${
    flag ? `require('node:fs').writeFileSync(${JSON.stringify(flag)}, '')` : ''
  }`;
const scratch = mkdtempSync(join(tmpdir(), 'corsway-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('machine load', () => {
  test("a child's CPU counts as the bench's own, after it has exited", async () => {
    const before = ownTicks();
    const child = spawn(process.execPath, ['-e', burn(300)], { stdio: 'ignore' });
    await once(child, 'exit');
    expect(ownTicks() - before).toBeGreaterThanOrEqual(0.25 * TICKS_PER_SECOND);
  });

  test("a process outside the bench's tree counts as other load", async () => {
    const flag = join(scratch, 'done');
    const before = markLoad();
    // The shell exits at once, so the burner is orphaned: no longer under this process.
    const shell = spawn('sh', ['-c', `"${process.execPath}" -e "$BURN" >/dev/null 2>&1 &`], {
      stdio: 'ignore',
      env: { ...process.env, BURN: burn(300, flag) },
    });
    await once(shell, 'exit');
    await eventually(() => existsSync(flag), 20_000);
    const after = markLoad();
    const others = after.busy - before.busy - (after.own - before.own);
    expect(others).toBeGreaterThanOrEqual(0.25 * TICKS_PER_SECOND);
    expect(otherLoad(before, after)).toBeGreaterThan(0);
  });

  test.each([
    { name: 'others used a tenth', after: { busy: 350, total: 2_000, own: 200 }, share: 0.1 },
    { name: 'the bench alone', after: { busy: 250, total: 2_000, own: 200 }, share: 0 },
    { name: 'tick rounding never goes below 0', after: { busy: 240, total: 2_000, own: 200 }, share: 0 },
    { name: 'no time passed', after: { busy: 100, total: 1_000, own: 50 }, share: 0 },
  ])('share of the machine: $name', ({ after, share }) => {
    const before: LoadMark = { busy: 100, total: 1_000, own: 50 };
    expect(otherLoad(before, after)).toBeCloseTo(share, 6);
  });
});
