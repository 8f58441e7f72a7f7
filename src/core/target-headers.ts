import type { TargetHeaders as Entry } from '../config/config.ts';

/**
 * CORSWAY_TARGET_HEADERS (parsed by the settings table): request headers the
 * operator sets on requests to certain hosts, an API's secret kept server-side.
 * Their values are never part of a message, since messages reach responses and logs.
 */

/** The headers to set on a request to one host, lower-cased names. */
export type HeaderSet = ReadonlyArray<readonly [name: string, value: string]>;

export interface TargetHeaderTable {
  /** The headers for a request to `hostname`: the most specific entry's, or null when none matches. */
  forHost(hostname: string): HeaderSet | null;
}

/**
 * Orders the entries most specific first (exact hosts, then wildcards by the
 * length of their suffix), so `*.eu.example.com` wins over `*.example.com`.
 */
export function targetHeaderTable(entries: readonly Entry[]): TargetHeaderTable {
  const ordered = [...entries].sort((a, b) => specificity(b.host) - specificity(a.host));
  return {
    forHost(hostname) {
      return ordered.find((entry) => entry.matches(hostname.toLowerCase()))?.headers ?? null;
    },
  };
}

function specificity(host: string): number {
  return host.startsWith('*.') ? host.length : Number.MAX_SAFE_INTEGER;
}
