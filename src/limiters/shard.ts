import type { RateLimitSpec } from '../config/kinds.ts';

/** The budget one request spends: a whole budget, or the part of a shared one that its client draws on. */
export interface Share {
  /** The budget's name in the store; a part's is the whole's with `#<index>/<parts>`. */
  readonly name: string;
  readonly spec: RateLimitSpec;
  /** How many parts the whole is split into (1: not split). */
  readonly parts: number;
}

/** Parts of a budget of `limit`: `shards`, but never more than the limit, so every part admits at least one. */
export function partCount(limit: number, shards: number): number {
  return Math.max(1, Math.min(Math.floor(shards), limit));
}

/** Part `index`'s size: `limit` dealt out evenly, the remainder one each to the first parts, so the parts sum to `limit`. */
export function partSize(limit: number, parts: number, index: number): number {
  return Math.floor(limit / parts) + (index < limit % parts ? 1 : 0);
}

/**
 * The part a client draws on: a stable hash of its address (the budget key
 * clientKey() gives, so an IPv6 client's whole /64 lands in one part), the
 * same in every process and isolate, so all of them count a client in the
 * same part. FNV-1a, then murmur3's finaliser so that nearby addresses spread.
 */
export function partIndex(client: string, parts: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < client.length; i++) hash = Math.imul(hash ^ client.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return ((hash ^ (hash >>> 16)) >>> 0) % parts;
}

/**
 * The share of budget `name` (of size `spec`) that `client` spends when the
 * budget is split into `shards` parts (CORSWAY_RATE_LIMIT_SHARDS): each part
 * holds its size of the same window in a store entry of its own, so a budget
 * used by many clients spreads over that many entries (Durable Objects) and
 * one client can spend only its part.
 */
export function shareOf(name: string, spec: RateLimitSpec, client: string, shards: number): Share {
  const parts = partCount(spec.limit, shards);
  if (parts === 1) return { name, spec, parts };
  const index = partIndex(client, parts);
  return {
    name: `${name}#${index}/${parts}`,
    spec: { limit: partSize(spec.limit, parts, index), windowSeconds: spec.windowSeconds },
    parts,
  };
}
