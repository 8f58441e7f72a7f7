import type { HeaderMap } from '../core/fields.ts';

/*
 * The Cache-Status field (RFC 9211): one member naming this cache, appended
 * after those of caches nearer the target.
 */

/** The cache's name in Cache-Status. */
export const CACHE_NAME = 'corsway';

/** Why the request went to the target (RFC 9211 2.2). */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale';

export interface CacheOutcome {
  /** Served from the cache without asking the target. */
  readonly hit?: boolean;
  readonly fwd?: ForwardReason;
  /** The target's status when it was asked (304 after a revalidation). */
  readonly fwdStatus?: number;
  /** Seconds of freshness left (negative when stale). */
  readonly ttl?: number;
  /** The response was stored. */
  readonly stored?: boolean;
  /** The request waited for another's identical request to the target. */
  readonly collapsed?: boolean;
  /** A token saying why (not stored, bypassed). */
  readonly detail?: string;
}

/** This cache's member of the field, e.g. `corsway; fwd=uri-miss; stored`. */
export function cacheStatusMember(outcome: CacheOutcome): string {
  let member = CACHE_NAME;
  if (outcome.hit) member += '; hit';
  if (outcome.fwd) member += `; fwd=${outcome.fwd}`;
  if (outcome.fwdStatus !== undefined) member += `; fwd-status=${outcome.fwdStatus}`;
  if (outcome.ttl !== undefined) member += `; ttl=${outcome.ttl}`;
  if (outcome.stored) member += '; stored';
  if (outcome.collapsed) member += '; collapsed';
  if (outcome.detail) member += `; detail=${outcome.detail}`;
  return member;
}

/** Appends this cache's member to the field the response already has. */
export function appendCacheStatus(headers: HeaderMap, outcome: CacheOutcome): void {
  const member = cacheStatusMember(outcome);
  const existing = headers.get('cache-status');
  headers.set('cache-status', existing ? `${existing}, ${member}` : member);
}
