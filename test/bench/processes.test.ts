import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { cpuNs } from '../../bench/processes.ts';

/** Spins a thread of this process through `iterations` steps; resolves once it finished, still alive. */
async function spinThread(iterations: number): Promise<Worker> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let x = 0; for (let i = 0; i < ${iterations}; i++) x = (x + i) % 7919;
     parentPort.postMessage(x); setInterval(() => {}, 1000);`,
    { eval: true },
  );
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return worker;
}

describe('cpuNs', () => {
  test("counts every thread's CPU, as the kernel's account of the whole process does", async () => {
    const before = cpuNs(process.pid) as number;
    const usage = process.cpuUsage();
    // Work on another thread, while this one waits: reading the main thread alone would miss it.
    const worker = await spinThread(50_000_000);
    const spent = (cpuNs(process.pid) as number) - before;
    const used = process.cpuUsage(usage);
    await worker.terminate();
    const usedNs = (used.user + used.system) * 1000;
    expect(usedNs).toBeGreaterThan(10_000_000);
    expect(spent).toBeGreaterThan(usedNs * 0.7);
    expect(spent).toBeLessThan(usedNs * 1.3 + 5_000_000);
  });

  test('a process that is gone has no figure', () => {
    expect(cpuNs(2 ** 22 + 1)).toBeNull();
  });
});
