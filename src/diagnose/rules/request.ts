import { isToken } from '../../core/fields.ts';
import { REFUSED_METHODS } from '../../core/policy.ts';
import type { Finding } from './finding.ts';

/* Fetch standard: which requests a page may send, and which need a preflight. */

/** "CORS-safelisted method". */
const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST']);

export function isSafelistedMethod(method: string): boolean {
  return SAFELISTED_METHODS.has(method);
}

export function isForbiddenMethod(method: string): boolean {
  // The Fetch standard's "forbidden method"s are exactly the methods this proxy refuses.
  return REFUSED_METHODS.has(method.toUpperCase());
}

/** The finding for a method `fetch()` refuses to send ("forbidden method"), or null. */
export function methodCheck(method: string): Finding | null {
  if (!isForbiddenMethod(method)) return null;
  return {
    code: 'forbidden_method',
    message: `Browsers refuse to send ${method.toUpperCase()} requests at all: fetch() throws before anything is sent.`,
  };
}

/**
 * "forbidden request-header": a page cannot set these; the browser silently
 * drops them from `fetch()`'s headers.
 */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
]);

export function isForbiddenRequestHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return FORBIDDEN_REQUEST_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-');
}

/** Names of "CORS-safelisted request-header"s; each also has limits on its value. */
export const SAFELISTED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-language',
  'content-language',
  'content-type',
  'range',
]);

/** "CORS-unsafe request-header byte": controls other than tab, DEL, and `"():<>?@[\]{}`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the standard lists these bytes.
const UNSAFE_BYTE = /[\u0000-\u0008\u000a-\u001f"():<>?@[\\\]{}\u007f]/;
/** The bytes `Accept-Language` and `Content-Language` are limited to. */
const LANGUAGE_VALUE = /^[0-9A-Za-z *,\-.;=]*$/;
/** The three request body types a form could always send cross-origin. */
const SAFELISTED_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Longest value of one safelisted header, and of all of them together, in bytes. */
const MAX_SAFELISTED_VALUE = 128;
const MAX_SAFELISTED_TOTAL = 1024;

function byteLength(value: string): number {
  return new TextEncoder().encode(value).byteLength;
}

/** The essence (`type/subtype`, lower-cased) of a MIME type, or null ("parse a MIME type"). */
export function mimeEssence(value: string): string | null {
  const text = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const type = text.slice(0, slash);
  const semicolon = text.indexOf(';', slash);
  const subtype = text.slice(slash + 1, semicolon < 0 ? undefined : semicolon).replace(/[\t\n\r ]+$/, '');
  if (!isToken(type) || !isToken(subtype)) return null;
  return `${type}/${subtype}`.toLowerCase();
}

/**
 * "simple range header value" with whitespace not allowed: `bytes=start-` or
 * `bytes=start-end`. A suffix range (`bytes=-500`) or several ranges are not.
 */
function isSafelistedRange(value: string): boolean {
  const m = /^bytes=(\d+)-(\d*)$/.exec(value);
  if (!m) return false;
  return m[2] === '' || BigInt(m[1] as string) <= BigInt(m[2] as string);
}

/** "CORS-safelisted request-header": a header a page may send without a preflight. */
export function isSafelistedRequestHeader(name: string, value: string): boolean {
  let safe: boolean;
  switch (name.toLowerCase()) {
    case 'accept':
      safe = !UNSAFE_BYTE.test(value);
      break;
    case 'accept-language':
    case 'content-language':
      safe = LANGUAGE_VALUE.test(value);
      break;
    case 'content-type': {
      const essence = UNSAFE_BYTE.test(value) ? null : mimeEssence(value);
      safe = essence !== null && SAFELISTED_CONTENT_TYPES.has(essence);
      break;
    }
    case 'range':
      safe = isSafelistedRange(value);
      break;
    default:
      safe = false;
  }
  return safe && byteLength(value) <= MAX_SAFELISTED_VALUE;
}

/**
 * "CORS-unsafe request-header names": the lower-cased, sorted names a preflight
 * asks about in `Access-Control-Request-Headers`. Safelisted headers count too
 * once their values add up to more than 1024 bytes.
 */
export function unsafeHeaderNames(headers: ReadonlyArray<readonly [string, string]>): string[] {
  const unsafe: string[] = [];
  const potentiallyUnsafe: string[] = [];
  let safelistedBytes = 0;
  for (const [name, value] of headers) {
    if (isSafelistedRequestHeader(name, value)) {
      potentiallyUnsafe.push(name);
      safelistedBytes += byteLength(value);
    } else {
      unsafe.push(name);
    }
  }
  if (safelistedBytes > MAX_SAFELISTED_TOTAL) unsafe.push(...potentiallyUnsafe);
  return [...new Set(unsafe.map((n) => n.toLowerCase()))].sort();
}

/** Why a request needs a preflight, in words; empty for a request sent without one. */
export function preflightReasons(method: string, headers: ReadonlyArray<readonly [string, string]>): string[] {
  const reasons: string[] = [];
  if (!isSafelistedMethod(method)) reasons.push(`the method ${method} is not GET, HEAD or POST`);
  for (const name of unsafeHeaderNames(headers)) {
    const value = headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? '';
    if (isSafelistedRequestHeader(name, value)) {
      reasons.push(`the safelisted headers together are longer than ${MAX_SAFELISTED_TOTAL} bytes`);
    } else if (name === 'content-type') {
      reasons.push(
        `Content-Type "${value}" is not application/x-www-form-urlencoded, multipart/form-data or text/plain`,
      );
    } else if (SAFELISTED_REQUEST_HEADERS.has(name)) {
      reasons.push(`the value "${value}" of ${name} is beyond what may be sent without a preflight`);
    } else {
      reasons.push(`the header ${name} is not CORS-safelisted`);
    }
  }
  return [...new Set(reasons)];
}
