/**
 * Deadlines of one length (CORSWAY_TIMEOUT_MS): `start` arms one, which calls
 * `expire` once the length has passed unless `clear` was called with its
 * handle first. A runtime may lend its own (Node's queues them on one timer).
 */
export interface Deadlines<Handle = unknown> {
  start(expire: () => void): Handle;
  clear(handle: Handle): void;
}

/**
 * A runtime timer per deadline: what every runtime has. A Worker needs it so:
 * workerd binds a timer to the request that set it, so a timer shared between
 * requests would stop with the first one's.
 */
export function timerDeadlines(ms: number): Deadlines<ReturnType<typeof setTimeout>> {
  return {
    start: (expire) => setTimeout(expire, ms),
    clear: (timer) => clearTimeout(timer),
  };
}
