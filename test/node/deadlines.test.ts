import { describe, expect, test, vi } from 'vitest';
import { queuedDeadlines } from '../../src/node/deadlines.ts';

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('queuedDeadlines: deadlines of one length on one Node timer', () => {
  test('a deadline runs once, never before its length has passed', async () => {
    const deadlines = queuedDeadlines(30);
    const started = Date.now();
    let runs = 0;
    const ran = await new Promise<number>((resolve) => {
      deadlines.start(() => {
        runs++;
        resolve(Date.now());
      });
    });
    expect(ran - started).toBeGreaterThanOrEqual(30);
    // Whatever else the queue does later, it does not run this one again.
    await new Promise<void>((resolve) => deadlines.start(resolve));
    expect(runs).toBe(1);
  });

  test('cleared deadlines never run; the others run in the order started', async () => {
    const deadlines = queuedDeadlines(20);
    const ran: string[] = [];
    const a = deadlines.start(() => ran.push('a'));
    deadlines.start(() => ran.push('b'));
    const c = deadlines.start(() => ran.push('c'));
    deadlines.clear(a);
    deadlines.clear(c);
    await new Promise<void>((resolve) =>
      deadlines.start(() => {
        ran.push('d');
        resolve();
      }),
    );
    expect(ran).toEqual(['b', 'd']);
  });

  test('a clear before the deadline stops it, also one behind thousands cleared in turn', async () => {
    const deadlines = queuedDeadlines(20);
    const ran: number[] = [];
    const handles = Array.from({ length: 3000 }, (_, i) => deadlines.start(() => ran.push(i)));
    // In the order started, as requests usually end: each clear drops the front of the queue.
    for (const handle of handles.slice(0, 2999)) deadlines.clear(handle);
    await new Promise<void>((resolve) => deadlines.start(resolve));
    expect(ran).toEqual([2999]);
  });

  test('a wall clock set back an hour does not hold a deadline past its length', async () => {
    const deadlines = queuedDeadlines(20);
    const ran = new Promise<string>((resolve) => deadlines.start(() => resolve('ran')));
    const wall = Date.now();
    const setBack = vi.spyOn(Date, 'now').mockReturnValue(wall - 3_600_000);
    try {
      const late = new Promise<string>((resolve) => setTimeout(resolve, 2_000, 'held'));
      expect(await Promise.race([ran, late])).toBe('ran');
    } finally {
      setBack.mockRestore();
    }
  });

  test('with every deadline cleared the timer is gone, so an idle server holds none', () => {
    const before = timers();
    const deadlines = queuedDeadlines(60_000);
    const first = deadlines.start(() => {});
    const second = deadlines.start(() => {});
    expect(timers()).toBe(before + 1);
    deadlines.clear(second);
    expect(timers()).toBe(before + 1);
    deadlines.clear(first);
    expect(timers()).toBe(before);
  });
});
