import { DurableObject } from 'cloudflare:workers';
import type { RateLimitSpec } from '../config/config.ts';
import { type ByteLimiter, byteGcra } from './bandwidth.ts';
import { gcra, type RateLimitDecision, type RateLimiter } from './rate-limit.ts';

/** Storage key of the budget's theoretical arrival time (milliseconds since the epoch). */
const TAT = 'tat';
/**
 * A budget's storage is deleted this long after it is whole again. Deleting
 * sooner saves nothing worth having, and the delay keeps alarms (each one a
 * billed request) to about one an hour for a busy client instead of one per
 * emission interval.
 */
const CLEANUP_DELAY_MS = 3_600_000;

/**
 * One client's budget, as a Durable Object: Cloudflare runs exactly one
 * instance of it worldwide, so every Worker location asks the same object and
 * the budget is exact. It lives where it was first asked, usually next to the
 * client, since one client mostly reaches one location. consume() is
 * synchronous on SQLite-backed storage, so no two requests can interleave.
 */
export class RateLimitBudget extends DurableObject {
  /** Whether this instance made sure a clean-up alarm is scheduled. */
  #alarmChecked = false;

  /** Spends one request of `spec` with gcra(), the same arithmetic as the memory store. */
  consume(spec: RateLimitSpec): RateLimitDecision {
    const now = Date.now();
    const { decision, tat } = gcra(spec, this.ctx.storage.kv.get<number>(TAT), now);
    if (tat !== null) this.#store(tat);
    return decision;
  }

  /** A bandwidth budget (its own object, by name): byteGcra() with `bytes` 0 checks, more charges. */
  bytes(spec: RateLimitSpec, bytes: number): RateLimitDecision {
    const { decision, tat } = byteGcra(spec, this.ctx.storage.kv.get<number>(TAT), Date.now(), bytes);
    if (bytes > 0) this.#store(tat);
    return decision;
  }

  #store(tat: number): void {
    this.ctx.storage.kv.put(TAT, tat);
    if (!this.#alarmChecked) {
      this.#alarmChecked = true;
      // An alarm set before this instance was evicted still stands: reading it is cheaper than writing one.
      this.ctx.storage
        .getAlarm()
        .then((at) => (at === null ? this.ctx.storage.setAlarm(tat + CLEANUP_DELAY_MS) : undefined))
        .catch(() => {
          this.#alarmChecked = false;
        });
    }
  }

  /** Once the budget is whole again there is nothing to remember: delete it, so idle clients cost no storage. */
  override async alarm(): Promise<void> {
    const tat = this.ctx.storage.kv.get<number>(TAT);
    if (tat !== undefined && tat > Date.now()) {
      await this.ctx.storage.setAlarm(tat + CLEANUP_DELAY_MS);
      return;
    }
    this.#alarmChecked = false;
    await this.ctx.storage.deleteAll();
  }
}

/** Budgets in RateLimitBudget objects, one per client key (`idFromName`). */
export function durableLimiter(namespace: DurableObjectNamespace<RateLimitBudget>, spec: RateLimitSpec): RateLimiter {
  return {
    consume: (key, size = spec) => namespace.get(namespace.idFromName(key)).consume(size),
  };
}

/** Bandwidth budgets in RateLimitBudget objects, named apart from the request budgets. */
export function durableByteLimiter(namespace: DurableObjectNamespace<RateLimitBudget>): ByteLimiter {
  const budget = (key: string) => namespace.get(namespace.idFromName(`bytes:${key}`));
  return {
    check: async (key, spec) => budget(key).bytes(spec, 0),
    charge: async (key, spec, bytes) => {
      await budget(key).bytes(spec, bytes);
    },
  };
}
