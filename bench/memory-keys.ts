/**
 * Memory under a flood of distinct clients: one million client keys through the
 * Node in-memory limiter (60/1m), each spending one request. The limiter keeps
 * at most MEMORY_LIMITER_KEYS keys (least recently seen evicted first), so the
 * heap grows until that bound and then stays flat.
 *
 *   npm run bench:memory   (node --expose-gc --import tsx bench/memory-keys.ts)
 */
import { MEMORY_LIMITER_KEYS, memoryLimiter } from '../src/limiters/rate-limit.ts';

const KEYS = 1_000_000;
/** The bound the README documents for the heap the limiter may add at its default size. */
const BOUND_MIB = 32;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc so the figures measure live memory, not garbage');
  process.exit(2);
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
function measure(): { rss: number; heap: number } {
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
}

/** The longest kind of key the proxy makes: an IPv6 client's /64, all groups in use. */
function key(i: number): string {
  const hex = (n: number) => (n & 0xffff).toString(16);
  return `ip:2001:db8:${hex(0x8000 + (i >>> 16))}:${hex(i)}::/64`;
}

const limiter = memoryLimiter({ limit: 60, windowSeconds: 60 });
const before = measure();
console.log(`limiter bound: ${MEMORY_LIMITER_KEYS} keys; documented heap bound: ${BOUND_MIB} MiB`);
console.log(`before:   rss ${mib(before.rss)} MiB, heap ${mib(before.heap)} MiB`);

let refused = 0;
for (let i = 0; i < KEYS; i++) {
  if (!(await limiter.consume(key(i))).allowed) refused++;
  if ((i + 1) % 250_000 === 0) {
    const now = measure();
    console.log(
      `${String(i + 1).padStart(7)} keys: rss ${mib(now.rss)} MiB, heap ${mib(now.heap)} MiB (+${mib(now.heap - before.heap)} MiB)`,
    );
  }
}

const after = measure();
const grown = after.heap - before.heap;
console.log(`after:    rss ${mib(after.rss)} MiB, heap ${mib(after.heap)} MiB`);
console.log(`heap grown by ${mib(grown)} MiB for ${KEYS} distinct keys (${refused} refused: expected 0)`);
// The newest key must still be budgeted: the bound evicts old keys, it does not stop counting.
const last = key(KEYS - 1);
const again = await limiter.consume(last);
console.log(`newest key's second request: remaining ${again.remaining} (expected 58)`);
const ok = grown <= BOUND_MIB * 2 ** 20 && refused === 0 && again.remaining === 58;
console.log(ok ? 'within the documented bound' : 'OUTSIDE the documented bound');
process.exitCode = ok ? 0 : 1;
