import type { EventEmitter } from 'node:events';
/** Checks `check` every `intervalMs` until it holds or `timeoutMs` passed; says whether it held. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

/** Retries `check` every `intervalMs` until it holds; throws once `timeoutMs` passed without. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<void> {
  if (!(await waitUntil(check, timeoutMs, intervalMs))) throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** Real time passing: for stores and processes whose clock a test cannot move. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves when a writer that refused a write may write again, or has closed;
 * whichever comes first, both listeners go, so waits in a loop do not pile up.
 */
export function drainedOrClosed(writer: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writer.off('drain', done);
      writer.off('close', done);
      resolve();
    };
    writer.on('drain', done);
    writer.on('close', done);
  });
}
