import { isToken } from '../core/fields.ts';
import { RESERVED_REQUEST_HEADERS } from '../core/headers.ts';
import { type OriginMatcher, originMatcher, parseOriginPattern } from '../core/origin.ts';
import { type HostMatcher, hostMatcher, parseHostPattern } from '../core/target.ts';

/**
 * The kinds of value a setting holds. Each kind parses what an operator or a
 * library user wrote: an environment string, a typed Workers `[vars]` value
 * (a TOML number, boolean, array or table) or a typed `corsway()` option, all
 * through the same rules. A problem is a TypeError whose message says what was
 * expected and what was given; the caller names the variable, option or flag.
 */
export interface Kind<T, O> {
  /** What a value looks like in `--help` and the docs (`<number>`, `ip|origin`); '' for a switch. */
  readonly hint: string;
  /** The value from its written form; `''` stands for "not set". @throws TypeError */
  parse(input: unknown): T;
  /** The parsed value for people (the help page). */
  show(value: T): string;
  /** The type a `corsway()` option of this kind has, checked before `parse`. */
  readonly option: OptionType<O>;
}

/** A typed option's type: its check, and its name for the message when it fails. */
export interface OptionType<O> {
  readonly is: (value: unknown) => value is O;
  readonly expected: string;
}

const BOOLEAN: OptionType<boolean> = { is: (v) => typeof v === 'boolean', expected: 'true or false' };
const NUMBER: OptionType<number> = { is: (v) => typeof v === 'number', expected: 'a number' };
const STRING: OptionType<string> = { is: (v) => typeof v === 'string', expected: 'a string' };
const STRINGS: OptionType<readonly string[]> = {
  is: (v) => Array.isArray(v) && v.every((e) => typeof e === 'string'),
  expected: 'an array of strings',
};
const OBJECTS: OptionType<readonly AccessKeyOption[]> = {
  is: (v): v is readonly AccessKeyOption[] => Array.isArray(v),
  expected: 'an array of {key, origins?, rateLimit?, bandwidthLimit?} objects',
};
const RECORD: OptionType<Readonly<Record<string, Readonly<Record<string, string>>>>> = {
  is: (v): v is Readonly<Record<string, Readonly<Record<string, string>>>> =>
    typeof v === 'object' && v !== null && !Array.isArray(v),
  expected: 'an object of host patterns to {header: value} objects',
};

/** A list setting's matcher, with its entries as written (for the help page). */
export type Listed<M> = M & { readonly entries: readonly string[] };

/** A budget: `limit` units per `windowSeconds`. */
export interface RateLimitSpec {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** One entry of `CORSWAY_KEYS`, parsed. */
export interface AccessKey {
  readonly key: string;
  /** The origins the key is valid from; null: any. */
  readonly origins: Listed<OriginMatcher> | null;
  /** Replaces `CORSWAY_RATE_LIMIT` for this key's requests; null: the anonymous one. */
  readonly rateLimit: RateLimitSpec | null;
  /** Replaces `CORSWAY_BANDWIDTH_LIMIT` for this key's requests; null: the anonymous one. */
  readonly bandwidthLimit: RateLimitSpec | null;
}

/** One entry of `CORSWAY_KEYS` as written. */
export interface AccessKeyOption {
  readonly key: string;
  readonly origins?: readonly string[];
  readonly rateLimit?: string;
  readonly bandwidthLimit?: string;
}

/** One host entry of `CORSWAY_TARGET_HEADERS`, parsed. */
export interface TargetHeaders {
  /** The host pattern as written, lower-cased: `api.example.com` or `*.example.org`. */
  readonly host: string;
  readonly matches: HostMatcher;
  /** Header names lower-cased, with their values. */
  readonly headers: readonly (readonly [name: string, value: string])[];
}

const BOOLEANS: Record<string, boolean> = {
  '1': true,
  true: true,
  on: true,
  yes: true,
  '0': false,
  false: false,
  off: false,
  no: false,
};

const WINDOW_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function problem(message: string): TypeError {
  return new TypeError(message);
}

function shown(input: unknown): string {
  return typeof input === 'string' ? `"${input}"` : JSON.stringify(input);
}

/** A string input trimmed; numbers and booleans are refused here, so kinds that take them check first. */
function text(input: unknown): string {
  if (typeof input !== 'string') throw problem(`expected a string, got ${shown(input)}`);
  return input.trim();
}

/** Entries of a comma list (a string) or of an array of strings. */
function entries(input: unknown): string[] {
  if (Array.isArray(input)) {
    return input.map((entry) => {
      if (typeof entry !== 'string' || entry.includes(',')) {
        throw problem(`expected an array of strings without commas, got ${shown(input)}`);
      }
      return entry.trim();
    });
  }
  return text(input)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function bool(): Kind<boolean, boolean> {
  return {
    hint: '',
    option: BOOLEAN,
    parse(input) {
      if (typeof input === 'boolean') return input;
      if (input === 0 || input === 1) return input === 1;
      const parsed = typeof input === 'string' ? BOOLEANS[input.trim().toLowerCase()] : undefined;
      if (parsed === undefined) throw problem(`expected one of 1/0, true/false, on/off, yes/no, got ${shown(input)}`);
      return parsed;
    },
    show: (value) => (value ? 'on' : 'off'),
  };
}

interface IntOptions {
  readonly min: number;
  readonly max?: number;
  /** What the number counts, for people: `' ms'` after it. @default '' */
  readonly unit?: string;
  /** The hint in `--help`. @default '<number>' */
  readonly hint?: string;
}

export function int({
  min,
  max = Number.MAX_SAFE_INTEGER,
  unit = '',
  hint = '<number>',
}: IntOptions): Kind<number, number> {
  return {
    hint,
    option: NUMBER,
    parse(input) {
      const n = typeof input === 'number' ? input : /^\d+$/.test(text(input)) ? Number(text(input)) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw problem(`expected a whole number from ${min} to ${max}, got ${shown(input)}`);
      }
      return n;
    },
    show: (value) => `${value}${unit}`,
  };
}

const BYTE_UNITS = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const;

/** `10485760` as `10 MiB`; a size that is no whole number of a unit keeps its bytes. */
export function readableBytes(n: number): string {
  for (const [unit, size] of BYTE_UNITS) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
    if (n >= size) return `${(n / size).toFixed(1)} ${unit} (${n} bytes)`;
  }
  return `${n} bytes`;
}

/** A size in bytes, `min` or more; `zero` names what 0 means, when it means something else than nothing. */
export function bytes({ min = 0, zero }: { readonly min?: number; readonly zero?: string } = {}): Kind<number, number> {
  const base = int({ min, hint: '<bytes>' });
  return { ...base, show: (value) => (value === 0 && zero ? zero : readableBytes(value)) };
}

export function oneOf<const C extends string>(choices: readonly C[]): Kind<C, C> {
  return {
    hint: choices.join('|'),
    option: STRING as OptionType<C>,
    parse(input) {
      const value = text(input).toLowerCase();
      if (!(choices as readonly string[]).includes(value)) {
        throw problem(`expected one of ${choices.join(', ')}, got ${shown(input)}`);
      }
      return value as C;
    },
    show: (value) => value,
  };
}

/** Free text; empty stays empty. */
export function plainText(hint: string): Kind<string, string> {
  return { hint, option: STRING, parse: (input) => text(input), show: (value) => value };
}

/** Free text; empty is null. */
export function optionalText(hint: string): Kind<string | null, string> {
  return { hint, option: STRING, parse: (input) => text(input) || null, show: (value) => value ?? '' };
}

/** A URL with one of `protocols` (`redis:`); empty is null. */
export function url(protocols: readonly string[]): Kind<string | null, string> {
  return {
    hint: '<url>',
    option: STRING,
    parse(input) {
      const value = text(input);
      if (!value) return null;
      try {
        if (protocols.includes(new URL(value).protocol)) return value;
      } catch {}
      throw problem(`expected a URL starting with ${protocols.join(' or ')}//, got ${shown(input)}`);
    },
    show: (value) => value ?? '',
  };
}

/** A comma list whose entries `parseEntry` checks (throwing a TypeError), built into a matcher; empty is null. */
function patternList<P, M>(
  parseEntry: (entry: string) => P,
  build: (patterns: P[]) => M,
): Kind<Listed<M> | null, readonly string[]> {
  return {
    hint: '<list>',
    option: STRINGS,
    parse(input) {
      const list = entries(input);
      if (list.length === 0) return null;
      const problems: string[] = [];
      const patterns: P[] = [];
      for (const entry of list) {
        try {
          patterns.push(parseEntry(entry));
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
      if (problems.length > 0) throw problem(problems.join('; '));
      return Object.assign(build(patterns) as object, { entries: Object.freeze(list) }) as Listed<M>;
    },
    show: (value) => value?.entries.join(', ') ?? '',
  };
}

/** Origins: `https://app.example.com`, `https://*.example.com`, `null`. */
export function origins(): Kind<Listed<OriginMatcher> | null, readonly string[]> {
  return patternList(parseOriginPattern, originMatcher);
}

/** Target hosts: `api.example.com`, `*.example.com`. */
export function hosts(): Kind<Listed<HostMatcher> | null, readonly string[]> {
  return patternList(parseHostPattern, hostMatcher);
}

/** Header names (RFC 9110 tokens), lower-cased. */
export function headerNames(): Kind<readonly string[], readonly string[]> {
  return {
    hint: '<list>',
    option: STRINGS,
    parse(input) {
      const names = entries(input).map((h) => h.toLowerCase());
      const bad = names.filter((h) => !isToken(h));
      if (bad.length > 0)
        throw problem(`expected header names such as origin,x-requested-with, got "${bad.join('", "')}"`);
      return Object.freeze(names);
    },
    show: (value) => value.join(', '),
  };
}

/** Media ranges (`application/json`, `text/*`), lower-cased, without parameters. */
export function mediaRanges(): Kind<readonly string[], readonly string[]> {
  return {
    hint: '<list>',
    option: STRINGS,
    parse(input) {
      const ranges = entries(input).map((r) => r.toLowerCase());
      const bad = ranges.filter((r) => {
        const [type = '', subtype, extra] = r.split('/');
        return extra !== undefined || subtype === undefined || !isToken(type) || !isToken(subtype);
      });
      if (bad.length > 0)
        throw problem(`expected media types such as application/json or text/*, got "${bad.join('", "')}"`);
      return Object.freeze(ranges);
    },
    show: (value) => value.join(', '),
  };
}

function parseBudget(value: string, unit: 'requests' | 'bytes'): RateLimitSpec {
  const m = /^(\d+)\s*\/\s*(\d*)\s*([smhd])$/i.exec(value);
  const limit = m ? Number(m[1]) : 0;
  const windowSeconds = m ? Number(m[2] || 1) * (WINDOW_UNITS[(m[3] as string).toLowerCase()] ?? 0) : 0;
  if (!m || limit < 1 || windowSeconds < 1 || !Number.isSafeInteger(limit)) {
    const example = unit === 'requests' ? '60/1m, 1000/1h or 10/30s' : '1073741824/1d or 10485760/1m';
    throw problem(`expected <${unit === 'requests' ? 'count' : 'bytes'}>/<window> such as ${example}, got "${value}"`);
  }
  return Object.freeze({ limit, windowSeconds });
}

/** `<count>/<window>` (requests) or `<bytes>/<window>` (response bytes); empty is null (off). */
export function budget(unit: 'requests' | 'bytes'): Kind<RateLimitSpec | null, string> {
  return {
    hint: unit === 'requests' ? '<count/window>' : '<bytes/window>',
    option: STRING,
    parse(input) {
      const value = text(input);
      return value ? parseBudget(value, unit) : null;
    },
    show: (value) => (value ? `${value.limit} per ${value.windowSeconds} s` : ''),
  };
}

/** A JSON value: parsed from a string, or given as the value itself (a Workers `[vars]` table, a library option). */
function json(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  const value = input.trim();
  if (!value) return null;
  try {
    return JSON.parse(value);
  } catch {
    // Never quoted: the JSON settings are secrets, and this message reaches a Worker's every response.
    throw problem(`expected JSON, got ${value.length} characters that do not parse as JSON`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KEY_FIELDS = new Set(['key', 'origins', 'rateLimit', 'bandwidthLimit']);
const MIN_KEY_LENGTH = 16;

/** `CORSWAY_KEYS`: `[{"key": "...", "origins": [...], "rateLimit": "600/1m", "bandwidthLimit": "..."}]`; values never shown. */
export function accessKeys(): Kind<readonly AccessKey[], readonly AccessKeyOption[]> {
  const originList = origins();
  return {
    hint: '<json>',
    option: OBJECTS,
    parse(input) {
      const value = json(input);
      if (value === null) return Object.freeze([]);
      if (!Array.isArray(value)) throw problem('expected a JSON array of {"key": "...", "origins": [...]} objects');
      const seen = new Set<string>();
      const keys = value.map((entry, i) => {
        const at = `entry ${i + 1}`;
        if (!isRecord(entry)) throw problem(`${at}: expected an object such as {"key": "..."}`);
        const unknown = Object.keys(entry).filter((k) => !KEY_FIELDS.has(k));
        if (unknown.length > 0)
          throw problem(`${at}: unknown field "${unknown.join('", "')}" (key, origins, rateLimit, bandwidthLimit)`);
        const { key, origins: allowed, rateLimit, bandwidthLimit } = entry;
        if (typeof key !== 'string' || !/^[\x21-\x2b\x2d-\x7e]+$/.test(key)) {
          throw problem(`${at}: "key" must be a non-empty string of visible ASCII without spaces or commas`);
        }
        // A key with budgets of its own is worth guessing; the metrics token has the same floor.
        if (key.length < MIN_KEY_LENGTH) throw problem(`${at}: "key" must be ${MIN_KEY_LENGTH} characters or more`);
        if (seen.has(key)) throw problem(`${at}: the same key appears twice`);
        seen.add(key);
        const check = <T>(field: string, value: unknown, parse: (v: unknown) => T): T => {
          if (value === undefined) return null as T;
          try {
            return parse(value);
          } catch (error) {
            throw problem(`${at}: "${field}": ${(error as Error).message}`);
          }
        };
        return Object.freeze({
          key,
          origins: check('origins', allowed, (v) => {
            if (!Array.isArray(v)) throw problem('expected an array of origins');
            return originList.parse(v);
          }),
          rateLimit: check('rateLimit', rateLimit, (v) => parseBudget(text(v), 'requests')),
          bandwidthLimit: check('bandwidthLimit', bandwidthLimit, (v) => parseBudget(text(v), 'bytes')),
        });
      });
      return Object.freeze(keys);
    },
    show: (value) => (value.length === 1 ? '1 key' : `${value.length} keys`),
  };
}

/** `CORSWAY_TARGET_HEADERS`: `{"api.example.com": {"Authorization": "Bearer ..."}}`; values never shown. */
export function targetHeaders(): Kind<
  readonly TargetHeaders[],
  Readonly<Record<string, Readonly<Record<string, string>>>>
> {
  return {
    hint: '<json>',
    option: RECORD,
    parse(input) {
      const value = json(input);
      if (value === null) return Object.freeze([]);
      if (!isRecord(value))
        throw problem('expected a JSON object such as {"api.example.com": {"Authorization": "..."}}');
      const parsed = Object.entries(value).map(([host, headers]) => {
        const pattern = (() => {
          try {
            return parseHostPattern(host);
          } catch (error) {
            throw problem((error as Error).message);
          }
        })();
        if (!isRecord(headers)) throw problem(`"${host}": expected an object of header names and values`);
        const pairs = Object.entries(headers).map(([name, v]) => {
          if (!isToken(name)) throw problem(`"${host}": "${name}" is not a header name`);
          if (RESERVED_REQUEST_HEADERS.has(name.toLowerCase())) {
            throw problem(`"${host}": "${name}" is reserved: the proxy sets it itself or never forwards it`);
          }
          // biome-ignore lint/suspicious/noControlCharactersInRegex: a value with control characters could split the request.
          if (typeof v !== 'string' || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(v)) {
            throw problem(`"${host}": the value of "${name}" must be a string without control characters`);
          }
          return Object.freeze([name.toLowerCase(), v.trim()] as const);
        });
        return Object.freeze({
          host: host.toLowerCase(),
          matches: hostMatcher([pattern]),
          headers: Object.freeze(pairs),
        });
      });
      return Object.freeze(parsed);
    },
    show: (value) => value.map((t) => t.host).join(', '),
  };
}
