import { LRUCache } from 'lru-cache';

/*
 * Where cached responses live: process memory on Node (memory-store below),
 * the Cache API on Workers (cache-api.ts). The layer (layer.ts) decides what
 * goes in; a store only keeps and forgets.
 */

/** A stored response: the target's fields (without Set-Cookie) and its whole body. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  /** When the request that fetched (or last revalidated) it left, in seconds since the epoch. */
  readonly requested: number;
  /** When that response arrived, in seconds since the epoch. */
  readonly received: number;
}

/**
 * Which request fields a URL's stored responses vary on, and the generation
 * their keys carry: an invalidation drops the index, so variants stored
 * before it can never be found again, even once a new index is written.
 */
export interface VaryIndex {
  readonly names: readonly string[];
  readonly generation: string;
}

export interface CacheStore {
  index(url: string): Promise<VaryIndex | undefined>;
  /** `keepSeconds`: how long it is worth keeping (a hint; the store may drop it sooner). */
  setIndex(url: string, index: VaryIndex, keepSeconds: number): Promise<void>;
  get(key: string): Promise<StoredResponse | undefined>;
  put(key: string, entry: StoredResponse, keepSeconds: number): Promise<void>;
  /** Forgets every response stored for `url` (its index). */
  invalidate(url: string): Promise<void>;
  /** What it holds now, when the store can tell (process memory can; the Cache API cannot). */
  stats(): { readonly entries: number; readonly bytes: number } | null;
}

/**
 * Bytes counted for each stored response beyond its body and fields: the
 * objects that hold them and the LRU's own slot. Measured as described in
 * docs/decisions/cache.md.
 */
export const ENTRY_OVERHEAD_BYTES = 512;

type Slot =
  | { readonly kind: 'index'; readonly index: VaryIndex }
  | { readonly kind: 'entry'; readonly entry: StoredResponse };

/** An in-memory store bounded by `maxBytes`: least recently used responses leave first. */
export function memoryStore(maxBytes: number): CacheStore {
  const lru = new LRUCache<string, Slot>({
    maxSize: maxBytes,
    sizeCalculation: (slot) => {
      if (slot.kind === 'index') return ENTRY_OVERHEAD_BYTES;
      let size = ENTRY_OVERHEAD_BYTES + slot.entry.body.byteLength;
      for (const [name, value] of slot.entry.headers) size += name.length + value.length;
      return size;
    },
    dispose: (_, key) => {
      if (key.startsWith('e ')) entries--;
    },
  });
  let entries = 0;
  return {
    async index(url) {
      const slot = lru.get(`i ${url}`);
      return slot?.kind === 'index' ? slot.index : undefined;
    },
    async setIndex(url, index, keepSeconds) {
      lru.set(`i ${url}`, { kind: 'index', index }, { ttl: keepSeconds * 1000 });
    },
    async get(key) {
      const slot = lru.get(`e ${key}`);
      return slot?.kind === 'entry' ? slot.entry : undefined;
    },
    async put(key, entry, keepSeconds) {
      entries++;
      lru.set(`e ${key}`, { kind: 'entry', entry }, { ttl: keepSeconds * 1000 });
      // lru-cache refuses, without a dispose, an entry larger than the whole bound.
      if (!lru.has(`e ${key}`)) entries--;
    },
    async invalidate(url) {
      lru.delete(`i ${url}`);
    },
    stats() {
      return { entries, bytes: lru.calculatedSize };
    },
  };
}
