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

/**
 * A Vary value that names Origin or `*` among its comma-separated members.
 * A test, not a split, trim and lower-casing of every member: a target that
 * sends Vary sends it on every response.
 */
const VARIES_BY_ORIGIN = /(?:^|,)[ \t]*(?:origin|\*)[ \t]*(?:,|$)/i;

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
    exposed.add('vary');
  } else if (!VARIES_BY_ORIGIN.test(vary)) headers.set('vary', `${vary}, Origin`);
  if (cors) headers.set('access-control-expose-headers', exposed.joined());
  else headers.append('access-control-expose-headers', exposed.joined());
}

/**
 * What one addCorsHeaders pass finds. One for the module, reused: a pass runs
 * to its end synchronously, and a list and a closure per response were a
 * twentieth of a small proxied request's allocation (docs/decisions/node24-pretenuring.md).
 */
class Exposed {
  /** The names to expose as they came, repeats included, in the first `count` slots. */
  readonly names: string[] = [];
  count = 0;
  vary: string | null = null;
  cors = false;
  /** The last pass's names as they came, and the list they made: a target answers with the same names request after request. */
  #lastNames: string[] = [];
  #lastJoined = '';

  start(): void {
    this.count = 0;
    this.vary = null;
    this.cors = false;
  }

  add(name: string): void {
    this.names[this.count++] = name;
  }

  /**
   * The names once each, in code-unit order, joined with ", ": the last pass's
   * list again when its names came the same, so sorting is only for a new set.
   */
  joined(): string {
    const { names, count } = this;
    const last = this.#lastNames;
    let same = last.length === count;
    for (let i = 0; same && i < count; i++) same = last[i] === names[i];
    if (same) return this.#lastJoined;
    this.#lastNames = names.slice(0, count);
    this.#lastJoined = sortedList(this.#lastNames);
    return this.#lastJoined;
  }
}

/**
 * `names` once each in code-unit order, joined with ", ": sorted as they are
 * put in place and concatenated, where Array.prototype.sort and `join` took
 * about 1% of a small proxied request's CPU (docs/decisions/node-s1.md).
 */
function sortedList(names: readonly string[]): string {
  const sorted: string[] = [];
  for (const name of names) {
    let i = sorted.length;
    while (i > 0 && (sorted[i - 1] as string) > name) i--;
    if (i > 0 && sorted[i - 1] === name) continue;
    sorted.splice(i, 0, name);
  }
  let list = sorted.length > 0 ? (sorted[0] as string) : '';
  for (let i = 1; i < sorted.length; i++) {
    list += ', ';
    list += sorted[i];
  }
  return list;
}

const exposed = new Exposed();

/** addCorsHeaders' callback, made once: one closing over the pass's locals was made on every response. */
function see(value: string, name: string): void {
  if (name.startsWith('access-control-')) {
    exposed.cors = true;
    return;
  }
  if (name === 'vary') exposed.vary = exposed.vary === null ? value : `${exposed.vary}, ${value}`;
  exposed.add(name);
}
