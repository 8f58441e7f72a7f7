import type { HeaderMap } from './fields.ts';

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
 */
export function preflightFields(request: HeaderMap, maxAge: number): Record<string, string> {
  const fields: Record<string, string> = {
    'access-control-allow-origin': request.get('origin') ?? '*',
    'access-control-allow-methods': request.get('access-control-request-method') ?? '',
    'access-control-max-age': String(maxAge),
    vary: 'Origin',
  };
  const requested = request.get('access-control-request-headers');
  if (requested) fields['access-control-allow-headers'] = requested;
  return fields;
}

/** Adds `value` to a comma-list header unless it is already there. */
function mergeToken(headers: HeaderMap, name: string, value: string): void {
  const current = headers.get(name);
  if (!current) {
    headers.set(name, value);
    return;
  }
  const tokens = current.split(',').map((t) => t.trim().toLowerCase());
  if (!tokens.includes(value.toLowerCase()) && !tokens.includes('*')) headers.set(name, `${current}, ${value}`);
}

/**
 * Makes a response readable by the requesting page: the origin reflected (or
 * `*` without one) and every header name exposed. Call it last, once all other
 * headers are set, so the exposed list is complete.
 */
export function addCorsHeaders(headers: HeaderMap, origin: string | null): void {
  headers.set('access-control-allow-origin', origin ?? '*');
  // Even the `*` copy: a cache must not hand it to a page whose origin is refused.
  mergeToken(headers, 'vary', 'Origin');
  headers.set('access-control-expose-headers', exposedNames(headers));
}

/**
 * The header names but the CORS ones, once each, in code-unit order, joined
 * with ", ". Sorted by insertion as they come and joined by concatenation:
 * Array.prototype.sort and join took about 1% of a small proxied request's
 * CPU (docs/decisions/node-s1.md).
 */
function exposedNames(headers: HeaderMap): string {
  const names: string[] = [];
  headers.forEach((_, name) => {
    if (name.startsWith('access-control-')) return;
    let i = names.length;
    while (i > 0 && (names[i - 1] as string) > name) i--;
    if (i > 0 && names[i - 1] === name) return;
    names.push(name);
    for (let j = names.length - 1; j > i; j--) names[j] = names[j - 1] as string;
    names[i] = name;
  });
  let list = names.length > 0 ? (names[0] as string) : '';
  for (let i = 1; i < names.length; i++) {
    list += ', ';
    list += names[i];
  }
  return list;
}
