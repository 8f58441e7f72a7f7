import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { heavier, type LoadMark, loadShare, markLoad, otherLoad, ownTicks } from '../../bench/machine-load.ts';
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
    expect(after.others - before.others).toBeGreaterThanOrEqual(0.25 * TICKS_PER_SECOND);
    expect(otherLoad(before, after).processes).toBeGreaterThan(0);
  });

  test("the bench's own child is not other load", async () => {
    // Against a root no process has, everything is "other": the difference is this process's tree.
    const [allBefore, before] = [markLoad(-1), markLoad()];
    const child = spawn(process.execPath, ['-e', burn(500)], { stdio: 'ignore' });
    await once(child, 'exit');
    const [allAfter, after] = [markLoad(-1), markLoad()];
    const tree = allAfter.others - allBefore.others - (after.others - before.others);
    expect(tree).toBeGreaterThanOrEqual(0.4 * TICKS_PER_SECOND);
  });

  test.each([
    { name: 'others used a tenth', after: { others: 200, steal: 10, total: 2_000 }, processes: 0.1, steal: 0 },
    { name: 'steal counts', after: { others: 150, steal: 60, total: 2_000 }, processes: 0.05, steal: 0.05 },
    { name: 'nobody else', after: { others: 100, steal: 10, total: 2_000 }, processes: 0, steal: 0 },
    { name: 'no time passed', after: { others: 100, steal: 10, total: 1_000 }, processes: 0, steal: 0 },
  ])('share of the machine: $name', ({ after, processes, steal }) => {
    const before: LoadMark = { others: 100, steal: 10, total: 1_000 };
    const load = otherLoad(before, after);
    expect(load.processes).toBeCloseTo(processes, 6);
    expect(load.steal).toBeCloseTo(steal, 6);
    expect(loadShare(load)).toBeCloseTo(processes + steal, 6);
  });

  test('the heavier of two loads is the one with the larger whole share', () => {
    const [mostlySteal, mostlyOthers] = [
      { processes: 0.01, steal: 0.09 },
      { processes: 0.08, steal: 0 },
    ];
    expect(heavier(mostlySteal, mostlyOthers)).toBe(mostlySteal);
    expect(heavier(mostlyOthers, mostlySteal)).toBe(mostlySteal);
  });
});
