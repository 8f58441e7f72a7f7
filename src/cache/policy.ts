import type { HeaderMap } from '../core/fields.ts';

/*
 * RFC 9111 rules for a shared cache, as pure functions of header fields and
 * clock readings (seconds). Nothing here stores or fetches.
 */

/** A Cache-Control field: directive names (lower case) -> argument, or true without one. */
export type Directives = ReadonlyMap<string, string | true>;

/** Parses `Cache-Control` (RFC 9111 5.2); unknown directives are kept and ignored by the rules. */
export function parseCacheControl(value: string | null): Directives {
  const out = new Map<string, string | true>();
  if (!value) return out;
  // A comma inside a quoted argument (no-cache="a, b") does not split directives.
  for (const part of value.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!name || out.has(name)) continue;
    out.set(
      name,
      eq === -1
        ? true
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1'),
    );
  }
  return out;
}

/** A delta-seconds argument (RFC 9111 1.2.2); null when absent or malformed. */
export function deltaSeconds(directives: Directives, name: string): number | null {
  const value = directives.get(name);
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null;
  return Math.min(Number(value), 2 ** 31);
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
/** The three HTTP-date forms a recipient must accept (RFC 9110 5.6.7), and no looser spelling. */
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ( \\d|\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`,
);

/** An HTTP-date in seconds since the epoch; null when absent or invalid (RFC 9111 4.2: treat as expired). */
export function httpDate(value: string | null): number | null {
  if (!value) return null;
  let parts: (string | undefined)[] | null = IMF_FIXDATE.exec(value)?.slice(1) ?? null;
  let year = Number(parts?.[2]);
  if (!parts) {
    parts = RFC850_DATE.exec(value)?.slice(1) ?? null;
    // A two-digit year more than 50 years ahead is in the past (RFC 9110 5.6.7).
    const yy = Number(parts?.[2]);
    year = yy + (2000 + yy > new Date().getUTCFullYear() + 50 ? 1900 : 2000);
  }
  if (!parts) {
    const m = ASCTIME_DATE.exec(value);
    if (!m) return null;
    parts = [m[2], m[1], m[6], m[3], m[4], m[5]];
    year = Number(m[6]);
  }
  const [day, month, , hour, minute, second] = parts;
  const ms = Date.UTC(
    year,
    MONTHS.split('|').indexOf(month as string),
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  );
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** A response's `Age` (RFC 9111 5.1): the first value when repeated, whole seconds only; 0 when invalid. */
export function ageValue(headers: HeaderMap): number {
  const first = (headers.get('age') ?? '').split(',')[0]?.trim() ?? '';
  return /^\d+$/.test(first) ? Math.min(Number(first), 2 ** 31) : 0;
}

/**
 * The directives a shared cache obeys: `CDN-Cache-Control` when the
 * response has it (RFC 9213: it is aimed at caches like this one, and then
 * Cache-Control is ignored), otherwise `Cache-Control`.
 */
export function responseDirectives(headers: HeaderMap): Directives {
  const cdn = headers.get('cdn-cache-control');
  return (cdn !== null && cdnDirectives(cdn)) || parseCacheControl(headers.get('cache-control'));
}

/** A Structured Fields dictionary member (RFC 8941 3.2): key, an optional bare item, parameters. */
const SF_MEMBER =
  /^([a-z*][a-z0-9_.*-]*)(?:=(-?\d{1,15}(?:\.\d{1,3})?|"(?:[^"\\]|\\.)*"|[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*|\?[01]))?(?:;.*)?$/;

/** `CDN-Cache-Control` as RFC 9213 reads it, or null when it is not a valid dictionary and is ignored. */
function cdnDirectives(value: string): Directives | null {
  const out = new Map<string, string | true>();
  for (const part of value.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const m = SF_MEMBER.exec(part.trim());
    if (!m) return null;
    const [, name, item] = m as unknown as [string, string, string | undefined];
    // Delta-seconds directives must be Integers; a String there makes the field invalid.
    if ((name === 'max-age' || name === 's-maxage') && !/^\d+$/.test(item ?? '')) return null;
    if (!out.has(name)) out.set(name, item === undefined ? true : item.replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

/**
 * Status codes whose meaning this cache understands, for `must-understand`
 * (RFC 9111 5.2.2.3). 206 is not among them: range requests pass by the cache.
 */
export const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501,
]);

/** Heuristically cacheable by default (RFC 9110 15.1). */
const HEURISTIC_STATUS: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Heuristic freshness: this fraction of the time since Last-Modified (RFC 9111 4.2.2 suggests 10%)... */
export const HEURISTIC_FRACTION = 0.1;
/** ...capped, so one old document is not served unchecked for days. */
export const HEURISTIC_MAX_SECONDS = 3600;

export interface RequestFacts {
  readonly method: string;
  readonly headers: HeaderMap;
}

export interface ResponseFacts {
  readonly status: number;
  readonly headers: HeaderMap;
}

/**
 * Why a response may not be stored by a shared cache (RFC 9111 3 and 3.5),
 * or null when it may. The reason becomes Cache-Status `detail`.
 */
export function notStorable(req: RequestFacts, res: ResponseFacts): string | null {
  if (req.method !== 'GET') return 'method';
  const cc = responseDirectives(res.headers);
  // Any final status may be stored (RFC 9111 3) but a partial one: range requests pass by the cache.
  if (res.status < 200 || res.status === 206 || res.status === 304) return 'status';
  if (cc.has('must-understand')) {
    // must-understand replaces no-store for a status the cache understands (RFC 9111 5.2.2.3).
    if (!UNDERSTOOD_STATUS.has(res.status)) return 'status';
  } else if (cc.has('no-store')) return 'no-store';
  if (parseCacheControl(req.headers.get('cache-control')).has('no-store')) return 'no-store';
  if (cc.has('private')) return 'private';
  if (req.headers.has('authorization') && !cc.has('public') && !cc.has('s-maxage') && !cc.has('must-revalidate')) {
    return 'authorization';
  }
  if (varyNames(res.headers) === null) return 'vary';
  const explicit =
    cc.has('public') ||
    deltaSeconds(cc, 's-maxage') !== null ||
    deltaSeconds(cc, 'max-age') !== null ||
    res.headers.has('expires');
  if (explicit || HEURISTIC_STATUS.has(res.status)) return null;
  return 'no-freshness';
}

/**
 * How long a response is fresh, in seconds (RFC 9111 4.2.1): s-maxage, then
 * max-age, then Expires minus Date, then the heuristic from Last-Modified.
 * `received` stands in for a missing Date.
 */
export function freshnessLifetime(res: ResponseFacts, received: number): number {
  const cc = responseDirectives(res.headers);
  const shared = deltaSeconds(cc, 's-maxage');
  if (shared !== null) return shared;
  const maxAge = deltaSeconds(cc, 'max-age');
  if (maxAge !== null) return maxAge;
  const date = httpDate(res.headers.get('date')) ?? received;
  if (res.headers.has('expires')) {
    const expires = httpDate(res.headers.get('expires'));
    return expires === null ? 0 : Math.max(0, expires - date);
  }
  if (!HEURISTIC_STATUS.has(res.status) && !cc.has('public')) return 0;
  const modified = httpDate(res.headers.get('last-modified'));
  if (modified === null || modified >= date) return 0;
  return Math.min(HEURISTIC_MAX_SECONDS, Math.floor((date - modified) * HEURISTIC_FRACTION));
}

/**
 * The response's age when it arrived (RFC 9111 4.2.3, corrected_initial_age):
 * `requested` and `received` are when the request left and the response arrived.
 */
export function initialAge(res: ResponseFacts, requested: number, received: number): number {
  const date = httpDate(res.headers.get('date'));
  const apparent = date === null ? 0 : Math.max(0, received - date);
  const corrected = ageValue(res.headers) + (received - requested);
  return Math.max(apparent, corrected);
}

/**
 * The request header names a response varies on, lower case and sorted, or
 * null for `Vary: *`, which no later request matches (RFC 9111 4.1).
 */
export function varyNames(headers: HeaderMap): readonly string[] | null {
  const names = new Set<string>();
  for (const part of (headers.get('vary') ?? '').split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return null;
    if (name) names.add(name);
  }
  return [...names].sort();
}

/**
 * The request's values for the varying names, normalised as RFC 9111 4.1
 * allows (whitespace around commas), as one string to key a variant by.
 */
export function varyValues(names: readonly string[], headers: HeaderMap): string {
  return names
    .map((name) => {
      const value = headers.get(name);
      return value === null
        ? ''
        : `=${value
            .split(',')
            .map((v) => v.trim())
            .join(',')}`;
    })
    .join('\n');
}

/** What a stored response's use for a request requires (RFC 9111 4.2 and 4.3). */
export type Freshness = 'fresh' | 'stale';

/**
 * Whether a stored response may be served without asking the target: it is
 * fresh, neither it nor the request asks for validation (`no-cache`,
 * `Pragma: no-cache`, request `max-age`/`min-fresh`), or it is stale within
 * the request's `max-stale` and nothing forbids serving stale.
 */
export function usable(
  stored: ResponseFacts,
  request: HeaderMap,
  age: number,
  lifetime: number,
): { readonly ok: boolean; readonly reason: 'fresh' | 'stale' | 'request' } {
  const res = responseDirectives(stored.headers);
  const reqCc = request.get('cache-control');
  const req = parseCacheControl(reqCc);
  // Pragma: no-cache counts only without a request Cache-Control (RFC 9111 5.4).
  if (req.has('no-cache') || (reqCc === null && /(^|,)\s*no-cache\s*(,|$)/i.test(request.get('pragma') ?? ''))) {
    return { ok: false, reason: 'request' };
  }
  // no-cache with field names is treated as plain no-cache: the safe reading.
  if (res.has('no-cache')) return { ok: false, reason: 'stale' };
  const fresh = lifetime > age;
  const maxAge = deltaSeconds(req, 'max-age');
  if (maxAge !== null && age > maxAge) return { ok: false, reason: fresh ? 'request' : 'stale' };
  const minFresh = deltaSeconds(req, 'min-fresh');
  if (minFresh !== null && lifetime - age < minFresh) return { ok: false, reason: fresh ? 'request' : 'stale' };
  if (fresh) return { ok: true, reason: 'fresh' };
  const forbidsStale =
    res.has('must-revalidate') || res.has('proxy-revalidate') || res.has('s-maxage') || res.has('no-cache');
  const maxStale = req.get('max-stale');
  if (!forbidsStale && maxStale !== undefined) {
    const allowed = maxStale === true ? Number.POSITIVE_INFINITY : (deltaSeconds(req, 'max-stale') ?? 0);
    if (age - lifetime <= allowed) return { ok: true, reason: 'stale' };
  }
  return { ok: false, reason: 'stale' };
}

/** The conditional headers that ask the target whether a stored response is still current (RFC 9111 4.3.1). */
export function validators(stored: HeaderMap): Record<string, string> | null {
  const etag = stored.get('etag');
  const modified = stored.get('last-modified');
  if (etag === null && modified === null) return null;
  const out: Record<string, string> = {};
  if (etag !== null) out['if-none-match'] = etag;
  if (modified !== null) out['if-modified-since'] = modified;
  return out;
}

/**
 * Fields a 304 does not replace in the stored response (RFC 9111 3.2): they
 * describe the stored body, not the metadata the 304 refreshes.
 */
const KEPT_ON_UPDATE = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding']);

/** The stored fields updated with those of a 304 (RFC 9111 4.3.4). */
export function updatedHeaders(stored: HeaderMap, notModified: HeaderMap): [string, string][] {
  const replaced = new Set<string>();
  notModified.forEach((_, name) => {
    if (!KEPT_ON_UPDATE.has(name.toLowerCase())) replaced.add(name.toLowerCase());
  });
  const out: [string, string][] = [];
  stored.forEach((value, name) => {
    if (!replaced.has(name.toLowerCase())) out.push([name.toLowerCase(), value]);
  });
  notModified.forEach((value, name) => {
    if (replaced.has(name.toLowerCase())) out.push([name.toLowerCase(), value]);
  });
  return out;
}

/** Methods that never change the target (RFC 9110 9.2.1); the others invalidate (RFC 9111 4.4). */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * The URLs an unsafe request's non-error response invalidates: its target,
 * and Location and Content-Location when on the same origin (RFC 9111 4.4).
 */
export function invalidated(method: string, url: URL, res: ResponseFacts): URL[] {
  if (SAFE.has(method) || res.status < 200 || res.status >= 400) return [];
  const out = [url];
  for (const name of ['location', 'content-location']) {
    const value = res.headers.get(name);
    if (!value) continue;
    try {
      const other = new URL(value, url);
      if (other.origin === url.origin) out.push(other);
    } catch {}
  }
  return out;
}

/**
 * Whether a client's conditional GET is answered by the stored response's
 * validators (RFC 9110 13.1.2 and 13.1.3: weak comparison for If-None-Match;
 * If-Modified-Since only without it).
 */
export function notModified(request: HeaderMap, stored: HeaderMap): boolean {
  const inm = request.get('if-none-match');
  if (inm !== null) {
    const etag = stored.get('etag');
    if (etag === null) return false;
    const weak = (tag: string) => tag.trim().replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((tag) => weak(tag) === weak(etag));
  }
  const since = httpDate(request.get('if-modified-since'));
  const modified = httpDate(stored.get('last-modified'));
  return since !== null && modified !== null && modified <= since;
}
