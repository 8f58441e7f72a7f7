import { DurableObject } from 'cloudflare:workers';
import type { RateLimitSpec } from './config.ts';
import { gcra, type RateLimitDecision, type RateLimiter } from './rate-limit.ts';

/** Storage key of the budget's theoretical arrival time (milliseconds since the epoch). */
const TAT = 'tat';

/**
 * One client's budget, as a Durable Object: Cloudflare runs exactly one
 * instance of it worldwide, so every Worker location asks the same object and
 * the budget is exact. It lives where it was first asked, usually next to the
 * client, since one client mostly reaches one location. consume() is
 * synchronous on SQLite-backed storage, so no two requests can interleave.
 */
export class RateLimitBudget extends DurableObject {
  /** Whether this instance already scheduled the clean-up alarm. */
  #alarmSet = false;

  /** Spends one request of `spec` with gcra(), the same arithmetic as the memory store. */
  consume(spec: RateLimitSpec): RateLimitDecision {
    const now = Date.now();
    const { decision, tat } = gcra(spec, this.ctx.storage.kv.get<number>(TAT), now);
    if (tat !== null) {
      this.ctx.storage.kv.put(TAT, tat);
      if (!this.#alarmSet) {
        this.#alarmSet = true;
        void this.ctx.storage.setAlarm(tat);
      }
    }
    return decision;
  }

  /** Once the budget is whole again there is nothing to remember: delete it, so idle clients cost no storage. */
  override async alarm(): Promise<void> {
    const tat = this.ctx.storage.kv.get<number>(TAT);
    if (tat !== undefined && tat > Date.now()) {
      await this.ctx.storage.setAlarm(tat);
      return;
    }
    this.#alarmSet = false;
    await this.ctx.storage.deleteAll();
  }
}

/** Budgets in RateLimitBudget objects, one per client key (`idFromName`). */
export function durableLimiter(namespace: DurableObjectNamespace<RateLimitBudget>, spec: RateLimitSpec): RateLimiter {
  return {
    consume: (key) => namespace.get(namespace.idFromName(key)).consume(spec),
  };
}
