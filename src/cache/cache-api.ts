import type { CacheStore, StoredResponse, VaryIndex } from './store.ts';

/*
 * A store on the Cache API (Workers' `caches.default`): per data centre,
 * evicted at Cloudflare's discretion. Each entry is kept as a plain 200
 * response under a key of its own, with the target's status, fields and
 * clock readings in one header, so the Cache API's own HTTP rules (Vary,
 * Set-Cookie, 206) never apply to what the target sent: corsway's do.
 */

/** The part of the Cache API this store uses. */
export interface CacheLike {
  match(request: Request): Promise<Response | undefined>;
  put(request: Request, response: Response): Promise<void>;
  delete(request: Request): Promise<boolean>;
}

/** The host of the keys: a reserved name (RFC 2606), never a target's. */
const KEY_BASE = 'https://corsway-cache.invalid/';
const META = 'x-corsway-entry';

function keyRequest(kind: 'i' | 'e', key: string): Request {
  return new Request(`${KEY_BASE}${kind}/${encodeURIComponent(key)}`);
}

function kept(body: BodyInit, meta: unknown, keepSeconds: number): Response {
  return new Response(body, {
    headers: {
      'cache-control': `public, max-age=${Math.max(1, Math.ceil(keepSeconds))}`,
      [META]: encodeURIComponent(JSON.stringify(meta)),
    },
  });
}

async function metaOf<T>(cache: CacheLike, request: Request): Promise<{ meta: T; response: Response } | undefined> {
  const response = await cache.match(request);
  const raw = response?.headers.get(META);
  if (!response || !raw) return undefined;
  try {
    return { meta: JSON.parse(decodeURIComponent(raw)) as T, response };
  } catch {
    await response.body?.cancel();
    return undefined;
  }
}

export function cacheApiStore(cache: CacheLike): CacheStore {
  return {
    async index(url) {
      const found = await metaOf<VaryIndex>(cache, keyRequest('i', url));
      await found?.response.body?.cancel();
      return found?.meta;
    },
    async setIndex(url, index, keepSeconds) {
      await cache.put(keyRequest('i', url), kept('', index, keepSeconds));
    },
    async get(key) {
      const found = await metaOf<Omit<StoredResponse, 'body'>>(cache, keyRequest('e', key));
      if (!found) return undefined;
      return { ...found.meta, body: new Uint8Array(await found.response.arrayBuffer()) };
    },
    async put(key, entry, keepSeconds) {
      const { body, ...meta } = entry;
      await cache.put(keyRequest('e', key), kept(body, meta, keepSeconds));
    },
    async invalidate(url) {
      await cache.delete(keyRequest('i', url));
    },
    stats: () => null,
  };
}
