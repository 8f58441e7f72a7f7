import type { AccessKey, RateLimitSpec } from '../config/config.ts';
import type { OriginMatcher } from './origin.ts';

/**
 * CORSWAY_KEYS: access keys presented in `X-Corsway-Key`. A key is never
 * kept in a message, a log line or a budget's name: those use its SHA-256.
 */

/** One key's policy, known by its fingerprint only. */
export interface ValidKey {
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
  /** Whether any key has its own `rateLimit` / `bandwidthLimit`, so budgets are needed even without anonymous ones. */
  readonly limits: { readonly rate: boolean; readonly bandwidth: boolean };
  /** The key `presented` is, or null; takes the same time whichever key (if any) it matches. */
  find(presented: string): Promise<ValidKey | null>;
}

/** The keys of CORSWAY_KEYS (parsed by the settings table), ready to be looked up. */
export function keyRing(entries: readonly AccessKey[]): KeyRing {
  // WebCrypto digests are asynchronous, so the keys are hashed on first use, once.
  let hashed: Promise<{ digest: Uint8Array; key: ValidKey }[]> | null = null;
  return {
    size: entries.length,
    limits: {
      rate: entries.some((e) => e.rateLimit !== null),
      bandwidth: entries.some((e) => e.bandwidthLimit !== null),
    },
    async find(presented) {
      hashed ??= Promise.all(
        entries.map(async (e) => {
          const digest = await sha256(e.key);
          const key: ValidKey = {
            fingerprint: hex(digest).slice(0, 8),
            budget: hex(digest),
            origins: e.origins,
            rateLimit: e.rateLimit,
            bandwidthLimit: e.bandwidthLimit,
          };
          return { digest, key };
        }),
      );
      const [all, digest] = await Promise.all([hashed, sha256(presented)]);
      // Digests of equal length compared in full, every key: no timing says how close a guess came, or its length.
      let found: ValidKey | null = null;
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
