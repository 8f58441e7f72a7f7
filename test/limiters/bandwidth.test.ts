import { describe, expect, test } from 'vitest';
import { type ByteLimiter, memoryByteLimiter, meter } from '../../src/limiters/bandwidth.ts';

const SPEC = { limit: 1000, windowSeconds: 100 };

describe('bandwidth budgets in memory', () => {
  test('a budget lets requests in while bytes are left, charges all bytes relayed, and refills with time', async () => {
    let now = 1_700_000_000_000;
    const bytes = memoryByteLimiter({ now: () => now });
    expect(await bytes.check('a', SPEC)).toMatchObject({ allowed: true, remaining: 1000, limit: 1000 });
    await bytes.charge('a', SPEC, 600);
    expect(await bytes.check('a', SPEC)).toMatchObject({ allowed: true, remaining: 400 });
    // The response in flight finishes past the budget: all of it is charged.
    await bytes.charge('a', SPEC, 900);
    const spent = await bytes.check('a', SPEC);
    expect(spent).toMatchObject({ allowed: false, remaining: 0 });
    // 500 bytes over: back once 500 bytes' worth of time (50 s) plus one byte passed.
    expect(spent.retryAfter).toBe(51);
    expect(await bytes.check('b', SPEC)).toMatchObject({ allowed: true, remaining: 1000 });
    now += 51_000;
    expect(await bytes.check('a', SPEC)).toMatchObject({ allowed: true });
  });
});

describe('a meter', () => {
  function recording(): { limiter: ByteLimiter; charges: number[] } {
    const charges: number[] = [];
    return {
      charges,
      limiter: {
        check: async () => ({ allowed: true, limit: 0, remaining: 0, reset: 0, retryAfter: 0 }),
        charge: async (_key, _spec, bytes) => {
          charges.push(bytes);
        },
      },
    };
  }

  test('charges in batches as bytes pass, then what is left at the end, once', () => {
    const { limiter, charges } = recording();
    const m = meter(limiter, 'k', SPEC, () => {}, 100);
    for (let total = 30; total <= 330; total += 30) m.progress(total);
    expect(charges).toEqual([120, 120]);
    m.end(345);
    m.end(345);
    m.progress(1000);
    expect(charges).toEqual([120, 120, 105]);
    expect(charges.reduce((a, b) => a + b)).toBe(345);
  });

  test('a failed charge is logged, never thrown into the relay', async () => {
    const failing: ByteLimiter = {
      check: async () => {
        throw new Error('unused');
      },
      charge: async () => {
        throw new Error('store away');
      },
    };
    const pending: Promise<void>[] = [];
    meter(failing, 'k', SPEC, (p) => pending.push(p)).end(10);
    await expect(Promise.all(pending)).resolves.toBeDefined();
  });
});
