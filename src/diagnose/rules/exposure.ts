import type { Credentials, Finding } from './finding.ts';
import { parseList, quoted } from './response.ts';

/* Fetch standard: which response headers a page may read. */

/** "CORS-safelisted response-header name": what a page may always read. */
export const SAFELISTED_RESPONSE_HEADERS = [
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
] as const;
/** "forbidden response-header name": never readable by a page. */
const FORBIDDEN_RESPONSE_HEADERS = new Set(['set-cookie', 'set-cookie2']);

/**
 * The response headers the page wants to read (`read`, any case) that the
 * target sent but the browser hides: neither safelisted nor listed in
 * `Access-Control-Expose-Headers` (whose `*` counts only without credentials).
 */
export function hiddenHeaders(headers: Headers, read: readonly string[], credentials: Credentials): string[] {
  const exposedValue = parseList(headers.get('access-control-expose-headers'));
  const exposed = new Set(exposedValue === 'invalid' ? [] : exposedValue?.map((n) => n.toLowerCase()));
  const all = exposed.has('*') && credentials !== 'include';
  const safelisted = new Set<string>(SAFELISTED_RESPONSE_HEADERS);
  return read
    .map((n) => n.toLowerCase())
    .filter((name) => headers.has(name))
    .filter((name) => FORBIDDEN_RESPONSE_HEADERS.has(name) || !(safelisted.has(name) || all || exposed.has(name)));
}

/** The finding for headers the page cannot read, or null when it can read all of them. */
export function exposureCheck(headers: Headers, read: readonly string[], credentials: Credentials): Finding | null {
  const hidden = hiddenHeaders(headers, read, credentials);
  if (hidden.length === 0) return null;
  const value = headers.get('access-control-expose-headers');
  const list = parseList(value);
  const wildcard = credentials === 'include' && Array.isArray(list) && list.includes('*');
  const cookie = hidden.some((n) => FORBIDDEN_RESPONSE_HEADERS.has(n));
  return {
    code: 'header_not_exposed',
    message: `The request succeeds, but the browser hides the response header${hidden.length > 1 ? 's' : ''} ${hidden.join(', ')} from the page: a page reads only Cache-Control, Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma and the names listed in Access-Control-Expose-Headers (here ${quoted(value)}).${wildcard ? ' The wildcard * counts only for requests without credentials.' : ''}${cookie ? ' Set-Cookie is never readable by a page.' : ''}`,
  };
}
