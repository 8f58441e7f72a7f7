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
  const names: string[] = [];
  let vary: string | null = null;
  let cors = false;
  headers.forEach((value, name) => {
    if (name.startsWith('access-control-')) {
      cors = true;
      return;
    }
    if (name === 'vary') vary = vary === null ? value : `${vary}, ${value}`;
    insertName(names, name);
  });
  if (cors) headers.set('access-control-allow-origin', origin ?? '*');
  else headers.append('access-control-allow-origin', origin ?? '*');
  // Even the `*` copy: a cache must not hand it to a page whose origin is refused.
  if (vary === null) {
    headers.append('vary', 'Origin');
    insertName(names, 'vary');
  } else if (!listsToken(vary, 'origin')) headers.set('vary', `${vary}, Origin`);
  if (cors) headers.set('access-control-expose-headers', joined(names));
  else headers.append('access-control-expose-headers', joined(names));
}

/**
 * Adds `name` to `names`, kept once each in code-unit order: sorted by
 * insertion as they come, as Array.prototype.sort took about 1% of a small
 * proxied request's CPU (docs/decisions/node-s1.md).
 */
function insertName(names: string[], name: string): void {
  let i = names.length;
  while (i > 0 && (names[i - 1] as string) > name) i--;
  if (i > 0 && names[i - 1] === name) return;
  names.push(name);
  for (let j = names.length - 1; j > i; j--) names[j] = names[j - 1] as string;
  names[i] = name;
}

/** The names joined with ", " by concatenation, which costs less than `join`. */
function joined(names: readonly string[]): string {
  let list = names.length > 0 ? (names[0] as string) : '';
  for (let i = 1; i < names.length; i++) {
    list += ', ';
    list += names[i];
  }
  return list;
}
