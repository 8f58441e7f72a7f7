import { WebSocket } from 'undici';

/**
 * The V8 heap of workerd's isolate, read through its inspector protocol
 * (`workerd serve --inspector-addr`): workerd has no probe of its own to preload.
 */
export interface HeapReader {
  /** Bytes of live objects after a full garbage collection, or null when the inspector did not answer in time. */
  used(): Promise<number | null>;
  close(): void;
}

/** How long one inspector call may take before it counts as unanswered. */
const CALL_TIMEOUT_MS = 5_000;

/** Connects to the inspector at `address` (host:port), to the isolate of the service `service`. */
export async function heapReader(address: string, service = 'main'): Promise<HeapReader> {
  const socket = new WebSocket(`ws://${address}/${service}`);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`no inspector at ${address}`)), { once: true });
  });
  let next = 1;
  const pending = new Map<number, (result: Record<string, unknown> | null) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id === undefined) return;
    pending.get(message.id)?.(message.result ?? null);
    pending.delete(message.id);
  });
  const call = (method: string): Promise<Record<string, unknown> | null> =>
    new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, CALL_TIMEOUT_MS);
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      socket.send(JSON.stringify({ id, method }));
    });
  return {
    async used() {
      // Collected first: what remains is what something still holds, not garbage not yet swept.
      if ((await call('HeapProfiler.collectGarbage')) === null) return null;
      const usage = await call('Runtime.getHeapUsage');
      return typeof usage?.usedSize === 'number' ? usage.usedSize : null;
    },
    close: () => socket.close(),
  };
}
