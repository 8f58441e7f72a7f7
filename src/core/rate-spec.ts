import type { RateLimitSpec } from '../config/config.ts';

const WINDOW_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses `<count>/<window>` (`60/1m`, `1073741824/1d`): a count of requests or
 * bytes per window of seconds, minutes, hours or days.
 * @throws TypeError saying how to write it.
 */
export function parseRateSpec(value: string, example = '60/1m, 1000/1h or 10/30s'): RateLimitSpec {
  const m = /^(\d+)\s*\/\s*(\d*)\s*([smhd])$/i.exec(value.trim());
  const limit = m ? Number(m[1]) : 0;
  const windowSeconds = m ? Number(m[2] || 1) * (WINDOW_UNITS[(m[3] as string).toLowerCase()] ?? 0) : 0;
  if (!m || limit < 1 || windowSeconds < 1 || !Number.isSafeInteger(limit)) {
    throw new TypeError(`expected <count>/<window> such as ${example}, got "${value}"`);
  }
  return { limit, windowSeconds };
}
