import { ProxyError } from '../core/errors.ts';
import { isToken } from '../core/fields.ts';
import { parseTarget } from '../core/target.ts';
import { isForbiddenRequestHeader } from './rules/request.ts';
import type { Fields, Question } from './types.ts';

/* The question a diagnosis answers, read from the form's fields or the JSON API's query. */

/** Values assumed for safelisted headers named without one: ordinary values, within the Fetch limits. */
export const ORDINARY_VALUES: Record<string, string> = {
  accept: '*/*',
  'accept-language': 'en',
  'content-language': 'en',
  range: 'bytes=0-',
};
function invalidParameter(message: string): ProxyError {
  // The SPEC's code for a malformed request to the proxy; /diagnose's parameters describe the target request.
  return new ProxyError('invalid_target', message);
}

/** A comma list of header names, lower-case, each a token. */
function headerNames(field: string, text: string | undefined): string[] {
  const names = (text ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = names.find((n) => !isToken(n));
  if (bad !== undefined) throw invalidParameter(`${field}: "${bad}" is not a header name.`);
  return [...new Set(names)];
}

/**
 * Reads the question from the fields.
 * @throws ProxyError `invalid_target` naming the field that is wrong.
 */
export function readQuestion(fields: Fields, requestOrigin: string | null): { question: Question; notes: string[] } {
  const notes: string[] = [];
  const url = parseTarget(fields.url?.trim() ?? '');

  const originText = fields.origin?.trim() || requestOrigin;
  if (!originText) {
    throw invalidParameter(
      "origin: say which page makes the request, e.g. origin=https://app.example.com (the page's scheme, host and port).",
    );
  }
  let origin = 'null';
  if (originText !== 'null') {
    let parsed: URL | null = null;
    try {
      parsed = new URL(originText);
    } catch {}
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw invalidParameter(`origin: "${originText}" is not an http(s) origin such as https://app.example.com.`);
    }
    origin = parsed.origin;
    if (origin !== originText) notes.push(`The origin was read as ${origin}, the way a browser serializes it.`);
  }

  const method = (fields.method?.trim() || 'GET').toUpperCase();
  if (!isToken(method)) throw invalidParameter(`method: "${method}" is not an HTTP method name.`);

  let headers = headerNames('headers', fields.headers);
  const forbidden = headers.filter(isForbiddenRequestHeader);
  if (forbidden.length > 0) {
    notes.push(
      `A page cannot set ${forbidden.join(', ')}: the browser drops ${forbidden.length > 1 ? 'these headers' : 'this header'} from fetch() silently, so ${forbidden.length > 1 ? 'they play' : 'it plays'} no part here.`,
    );
    headers = headers.filter((h) => !isForbiddenRequestHeader(h));
  }
  const contentType = fields['content-type']?.trim() || null;
  if (contentType !== null && !headers.includes('content-type')) headers.push('content-type');
  if (contentType === null && headers.includes('content-type')) {
    throw invalidParameter('headers names content-type: give its value too, e.g. content-type=application/json.');
  }
  const assumed = headers.filter((h) => ORDINARY_VALUES[h] !== undefined);
  if (assumed.length > 0) {
    notes.push(
      `${assumed.join(', ')} ${assumed.length > 1 ? 'are' : 'is'} assumed to carry an ordinary value; a value with characters such as ( ) : < > ? @ [ ] { } or quotes, or longer than 128 bytes, would need a preflight.`,
    );
  }

  const credentialsText = fields.credentials?.trim() || 'same-origin';
  if (credentialsText !== 'omit' && credentialsText !== 'same-origin' && credentialsText !== 'include') {
    throw invalidParameter(`credentials: expected include, omit or same-origin, got "${credentialsText}".`);
  }
  return {
    question: {
      url,
      origin,
      method,
      headers,
      contentType,
      credentials: credentialsText,
      read: headerNames('read', fields.read),
    },
    notes,
  };
}

/** The headers as the page would set them, with values where the question gives none. */
export function headerList(names: readonly string[], contentType: string | null): [string, string][] {
  return names.map((n) => [n, n === 'content-type' ? (contentType ?? '') : (ORDINARY_VALUES[n] ?? '')]);
}
