import { Fields, type HeaderMap } from './fields.ts';

/*
 * The CORS headers the proxy adds. A preflight is OPTIONS with Origin and
 * Access-Control-Request-Method (Fetch standard, "CORS-preflight request");
 * every other OPTIONS is an ordinary request to forward.
 */

export function isPreflight(method: string, headers: HeaderMap): boolean {
  return method === 'OPTIONS' && headers.has('origin') && headers.has('access-control-request-method');
}

/**
 * The answer to a preflight: everything the browser asked for is allowed.
 * Built as Fields, not as a record to copy into them: a preflight does
 * little else (docs/decisions/preflight.md).
 */
export function preflightFields(request: HeaderMap, maxAge: number): Fields {
  const fields = new Fields();
  fields.append('access-control-allow-origin', request.get('origin') ?? '*');
  fields.append('access-control-allow-methods', request.get('access-control-request-method') ?? '');
  fields.append('access-control-max-age', String(maxAge));
  fields.append('vary', 'Origin');
  const requested = request.get('access-control-request-headers');
  if (requested) fields.append('access-control-allow-headers', requested);
  return fields;
}

/** True when the comma list `current` names `token` (lower case) or `*`. */
function listsToken(current: string, token: string): boolean {
  for (const item of current.split(',')) {
    const t = item.trim().toLowerCase();
    if (t === token || t === '*') return true;
  }
  return false;
}

/**
 * Makes a response readable by the requesting page: the origin reflected (or
 * `*` without one) and every header name exposed. Call it last, once all other
 * headers are set, so the exposed list is complete. One pass over the fields
 * finds the names to expose, Vary, and whether any CORS field is there to
 * replace; fields known absent are appended, not set (set scans to delete).
 */
export function addCorsHeaders(headers: HeaderMap, origin: string | null): void {
  exposed.start();
  headers.forEach(see);
  const { vary, cors } = exposed;
  if (cors) headers.set('access-control-allow-origin', origin ?? '*');
  else headers.append('access-control-allow-origin', origin ?? '*');
  // Even the `*` copy: a cache must not hand it to a page whose origin is refused.
  if (vary === null) {
    headers.append('vary', 'Origin');
    exposed.insert('vary');
  } else if (!listsToken(vary, 'origin')) headers.set('vary', `${vary}, Origin`);
  if (cors) headers.set('access-control-expose-headers', exposed.joined());
  else headers.append('access-control-expose-headers', exposed.joined());
}

/**
 * What one addCorsHeaders pass finds. One for the module, reused: a pass runs
 * to its end synchronously, and a list and a closure per response were a
 * twentieth of a small proxied request's allocation (docs/decisions/node24-pretenuring.md).
 */
class Exposed {
  /** The names to expose, kept once each in code-unit order, in the first `count` slots. */
  readonly names: string[] = [];
  count = 0;
  vary: string | null = null;
  cors = false;
  /** The last list joined, and its names: a target answers with the same names request after request. */
  #lastNames: string[] = [];
  #lastJoined = '';

  start(): void {
    this.count = 0;
    this.vary = null;
    this.cors = false;
  }

  /**
   * Adds `name`, sorted by insertion as they come: Array.prototype.sort took
   * about 1% of a small proxied request's CPU (docs/decisions/node-s1.md).
   */
  insert(name: string): void {
    const names = this.names;
    let i = this.count;
    while (i > 0 && (names[i - 1] as string) > name) i--;
    if (i > 0 && names[i - 1] === name) return;
    for (let j = this.count; j > i; j--) names[j] = names[j - 1] as string;
    names[i] = name;
    this.count++;
  }

  /** The names joined with ", ", the last list's string again when the names are the same. */
  joined(): string {
    const { names, count } = this;
    const last = this.#lastNames;
    let same = last.length === count;
    for (let i = 0; same && i < count; i++) same = last[i] === names[i];
    if (same) return this.#lastJoined;
    // Concatenation costs less than `join`.
    let list = count > 0 ? (names[0] as string) : '';
    for (let i = 1; i < count; i++) {
      list += ', ';
      list += names[i];
    }
    this.#lastNames = names.slice(0, count);
    this.#lastJoined = list;
    return list;
  }
}

const exposed = new Exposed();

/** addCorsHeaders' callback, made once: one closing over the pass's locals was made on every response. */
function see(value: string, name: string): void {
  if (name.startsWith('access-control-')) {
    exposed.cors = true;
    return;
  }
  if (name === 'vary') exposed.vary = exposed.vary === null ? value : `${exposed.vary}, ${value}`;
  exposed.insert(name);
}
