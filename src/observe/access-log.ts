import type { LogLevel } from '../config/config.ts';
import type { RequestRecord } from '../core/record.ts';

const SEVERITY: Record<LogLevel, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** A request's severity: answered below 400 `info`, refused (4xx) `warn`, failed (5xx) `error`. */
export function levelOf(record: RequestRecord): Exclude<LogLevel, 'silent'> {
  return record.status >= 500 ? 'error' : record.status >= 400 ? 'warn' : 'info';
}

/**
 * An access log writing one JSON object per line (`time` is when the response
 * ended), or undefined when `level` lets nothing through.
 */
export function accessLogger(
  level: LogLevel,
  write: (line: string) => void,
): ((record: RequestRecord) => void) | undefined {
  const threshold = SEVERITY[level];
  if (threshold >= SEVERITY.silent) return undefined;
  return (record) => {
    const recordLevel = levelOf(record);
    if (SEVERITY[recordLevel] < threshold) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: recordLevel, ...record })}\n`);
  };
}
