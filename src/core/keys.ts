import type { RateLimitSpec } from '../config/config.ts';
import { type OriginMatcher, originMatcher, parseOriginPattern } from './origin.ts';
import { parseRateSpec } from './rate-spec.ts';

/**
 * CORSWAY_KEYS: access keys presented in `X-Corsway-Key`. A key is never
 * kept in a message, a log line or a budget's name: those use its SHA-256.
 */

/** The request header that carries a key; never forwarded to a target. */
export const KEY_HEADER = 'x-corsway-key';
/** Shorter keys can be guessed; the same floor as CORSWAY_METRICS_TOKEN. */
export const MIN_KEY_LENGTH = 16;

/** One key's policy, known by its fingerprint only. */
export interface AccessKey {
  /** First 8 hex digits of the key's SHA-256: what logs show. */
  readonly fingerprint: string;
  /** The name of its budgets in the limiter stores: the whole SHA-256, so two keys never share one. */
  readonly budget: string;
  /** Origins it is valid from; null for any. */
  readonly origins: OriginMatcher | null;
  /** Replaces CORSWAY_RATE_LIMIT for its requests; null keeps that one. */
  readonly rateLimit: RateLimitSpec | null;
  /** Replaces CORSWAY_BANDWIDTH_LIMIT for its requests; null keeps that one. */
  readonly bandwidthLimit: RateLimitSpec | null;
}

export interface KeyRing {
  /** How many keys there are, for the help page. */
  readonly size: number;
  /** The key `presented` is, or null; takes the same time whichever key (if any) it matches. */
  find(presented: string): Promise<AccessKey | null>;
}

interface Entry {
  readonly key: string;
  readonly origins: OriginMatcher | null;
  readonly rateLimit: RateLimitSpec | null;
  readonly bandwidthLimit: RateLimitSpec | null;
}

const EXAMPLE = '[{"key": "...", "origins": ["https://app.example.com"], "rateLimit": "600/1m"}]';
/** Visible ASCII: what a header value can carry unchanged. */
const KEY_SYNTAX = /^[\x21-\x7e]+$/;

/**
 * Parses the JSON list of keys. Problems name an entry by its position, never by its key.
 * @throws TypeError listing every problem.
 */
export function parseKeys(json: string): KeyRing {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new TypeError(`expected a JSON list such as ${EXAMPLE}`);
  }
  if (!Array.isArray(data)) throw new TypeError(`expected a JSON list such as ${EXAMPLE}`);
  const problems: string[] = [];
  const entries: Entry[] = [];
  data.forEach((item: unknown, index) => {
    const at = `entry ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at}: expected an object with "key"`);
      return;
    }
    const { key, origins, rateLimit, bandwidthLimit, ...rest } = item as Record<string, unknown>;
    for (const name of Object.keys(rest)) problems.push(`${at}: unknown field "${name}"`);
    if (typeof key !== 'string' || key.length < MIN_KEY_LENGTH || !KEY_SYNTAX.test(key)) {
      problems.push(`${at}: "key" must be ${MIN_KEY_LENGTH} or more visible ASCII characters`);
      return;
    }
    if (entries.some((e) => e.key === key)) problems.push(`${at}: the same key as an earlier entry`);
    entries.push({
      key,
      origins: optional(at, 'origins', origins, (list) => {
        if (!Array.isArray(list) || !list.every((o) => typeof o === 'string')) {
          throw new TypeError('expected a list of origins');
        }
        return originMatcher(list.map(parseOriginPattern));
      }),
      rateLimit: optional(at, 'rateLimit', rateLimit, (text) => parseRateSpec(String(text))),
      bandwidthLimit: optional(at, 'bandwidthLimit', bandwidthLimit, (text) =>
        parseRateSpec(String(text), '1073741824/1d (bytes per window)'),
      ),
    });
  });
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  return keyRing(entries);

  function optional<T>(at: string, field: string, value: unknown, parse: (value: unknown) => T): T | null {
    if (value === undefined || value === null) return null;
    try {
      return parse(value);
    } catch (error) {
      problems.push(`${at}: "${field}": ${(error as Error).message}`);
      return null;
    }
  }
}

function keyRing(entries: readonly Entry[]): KeyRing {
  // WebCrypto digests are asynchronous, so the keys are hashed on first use, once.
  let hashed: Promise<{ digest: Uint8Array; key: AccessKey }[]> | null = null;
  return {
    size: entries.length,
    async find(presented) {
      hashed ??= Promise.all(
        entries.map(async (e) => {
          const digest = await sha256(e.key);
          const { key: _, ...policy } = e;
          return { digest, key: { ...policy, fingerprint: hex(digest).slice(0, 8), budget: hex(digest) } };
        }),
      );
      const [all, digest] = await Promise.all([hashed, sha256(presented)]);
      // Digests of equal length compared in full, every key: no timing says how close a guess came, or its length.
      let found: AccessKey | null = null;
      for (const entry of all) if (sameBytes(entry.digest, digest)) found = entry.key;
      return found;
    },
  };
}

/** First 8 hex digits of the SHA-256 of `text`: how logs name a key (presented or not) without showing it. */
export async function fingerprint(text: string): Promise<string> {
  return hex(await sha256(text)).slice(0, 8);
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
