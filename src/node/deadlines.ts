import type { Deadlines } from '../core/deadlines.ts';

/** One deadline in the queue; `expire` is null once it was cleared or has run. */
class Pending {
  readonly at: number;
  expire: (() => void) | null;

  constructor(at: number, expire: () => void) {
    this.at = at;
    this.expire = expire;
  }
}

/** Dropped from the front of the queue's array in one copy once this many are done and they are most of it. */
const COMPACT_AFTER = 1024;

/**
 * Deadlines of one length on one Node timer. One started later passes later,
 * so they wait in the order started and the timer is armed for the first
 * only; a cleared one leaves when it reaches the front, and with none left
 * the timer is cleared (an idle server holds no timer). It replaces a
 * setTimeout and clearTimeout per proxied request (docs/decisions/node-s1.md).
 */
export function queuedDeadlines(ms: number): Deadlines<Pending> {
  // Times come from the monotonic clock, as setTimeout's do: a wall clock set back must not hold a deadline.
  // A slot the front has passed is emptied at once: a deadline held on by the queue would outlive its request.
  let queue: Array<Pending | undefined> = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  /** Drops the cleared deadlines at the front; the timer goes with the last one. */
  const settle = (): void => {
    while (head < queue.length && (queue[head] as Pending).expire === null) queue[head++] = undefined;
    if (head === queue.length) {
      queue = [];
      head = 0;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    } else if (head >= COMPACT_AFTER && head * 2 >= queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  const fire = (): void => {
    timer = null;
    const now = performance.now();
    const due: Array<() => void> = [];
    for (; head < queue.length; head++) {
      const pending = queue[head] as Pending;
      const expire = pending.expire;
      if (expire !== null) {
        if (pending.at > now) break;
        due.push(expire);
        pending.expire = null;
      }
      queue[head] = undefined;
    }
    settle();
    // Armed before the callbacks run, so one that throws cannot leave later deadlines unwatched.
    if (head < queue.length) timer = setTimeout(fire, (queue[head] as Pending).at - now);
    for (const expire of due) expire();
  };

  return {
    start(expire) {
      const pending = new Pending(performance.now() + ms, expire);
      queue.push(pending);
      if (timer === null) timer = setTimeout(fire, ms);
      return pending;
    },
    clear(pending) {
      if (pending.expire === null) return;
      pending.expire = null;
      if (pending === queue[head]) settle();
    },
  };
}
