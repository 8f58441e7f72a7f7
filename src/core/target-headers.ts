import { type HostPattern, parseHostPattern } from './target.ts';

/**
 * CORSWAY_TARGET_HEADERS: request headers the operator sets on requests to
 * certain hosts (an API's secret, kept server-side). Parsed once; the values
 * are never part of a message, since messages reach responses and logs.
 */

/** The headers to set on a request to one host, lower-cased names. */
export type HeaderSet = ReadonlyArray<readonly [name: string, value: string]>;

export interface TargetHeaders {
  /** The host entries as written, for the help page and /diagnose (names only, never values). */
  readonly hosts: readonly string[];
  /** The headers for a request to `hostname`: the most specific entry's, or null when none matches. */
  forHost(hostname: string): HeaderSet | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** A value may not end the header line early (RFC 9110 5.5). */
const BAD_VALUE = /[\r\n\0]/;
/**
 * Headers the proxy sets itself or that frame the message: an operator's
 * value there would break the request or the proxy's own rules.
 */
const RESERVED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'via',
  'x-corsway-key',
]);

interface Entry {
  readonly pattern: HostPattern;
  readonly headers: HeaderSet;
}

/**
 * Parses `{"api.example.com": {"Authorization": "Bearer ..."}, "*.example.org": {...}}`.
 * @throws TypeError listing what is wrong, naming hosts and header names but never a value.
 */
export function parseTargetHeaders(json: string): TargetHeaders {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new TypeError('expected a JSON object such as {"api.example.com": {"Authorization": "Bearer ..."}}');
  }
  if (!isObject(data)) {
    throw new TypeError('expected a JSON object such as {"api.example.com": {"Authorization": "Bearer ..."}}');
  }
  const problems: string[] = [];
  const entries: Entry[] = [];
  for (const [host, headers] of Object.entries(data)) {
    let pattern: HostPattern;
    try {
      pattern = parseHostPattern(host);
    } catch (error) {
      problems.push((error as Error).message);
      continue;
    }
    if (!isObject(headers)) {
      problems.push(`"${host}": expected an object of header names and values`);
      continue;
    }
    const set: [string, string][] = [];
    for (const [rawName, value] of Object.entries(headers)) {
      const name = rawName.toLowerCase();
      if (!TOKEN.test(name)) problems.push(`"${host}": "${rawName}" is not a header name`);
      else if (RESERVED.has(name)) problems.push(`"${host}": ${rawName} is set by the proxy itself`);
      else if (typeof value !== 'string' || BAD_VALUE.test(value)) {
        problems.push(`"${host}": the value of ${rawName} must be a string on one line`);
      } else set.push([name, value]);
    }
    entries.push({ pattern, headers: set });
  }
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  // Most specific first: exact hosts, then wildcards by the length of their suffix.
  entries.sort((a, b) => specificity(b.pattern) - specificity(a.pattern));
  return {
    hosts: Object.keys(data),
    forHost(hostname) {
      const host = (hostname.endsWith('.') ? hostname.slice(0, -1) : hostname).toLowerCase();
      const entry = entries.find(({ pattern: p }) => (p.wildcard ? host.endsWith(p.host) : host === p.host));
      return entry?.headers ?? null;
    },
  };
}

function specificity(pattern: HostPattern): number {
  return pattern.wildcard ? pattern.host.length : Number.MAX_SAFE_INTEGER;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
