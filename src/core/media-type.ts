/**
 * The content-type policy (CORSWAY_ALLOW_CONTENT_TYPES, CORSWAY_BLOCK_CONTENT_TYPES):
 * lists of media types parsed once, judged on the essence of a response's
 * `Content-Type` (type/subtype, lower-cased, parameters ignored).
 */

/** A response without `Content-Type` is judged as this (the SPEC; what browsers sniff from is unknown bytes). */
export const UNLABELLED = 'application/octet-stream';

/** RFC 9110 5.6.2 token, the syntax of a type and a subtype. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** One list entry: `text/html`, `text/*` for every subtype of `text`, or any type at all (star slash star). */
export interface MediaPattern {
  readonly type: string;
  /** `*` for any subtype. */
  readonly subtype: string;
  /** As written in the list, lower-cased, for messages. */
  readonly text: string;
}

/**
 * Parses one list entry; parameters are not allowed in it since they are ignored.
 * @throws TypeError saying how to write the entry.
 */
export function parseMediaPattern(entry: string): MediaPattern {
  const text = entry.trim().toLowerCase();
  const [type = '', subtype = '', ...rest] = text.split('/');
  const wild = type === '*';
  if (rest.length > 0 || !TOKEN.test(type) || !(subtype === '*' || (!wild && TOKEN.test(subtype)))) {
    throw new TypeError(`"${entry}" is not a media type; write it like application/json or video/*`);
  }
  return { type, subtype, text };
}

/**
 * The essence of a `Content-Type` value (`Text/HTML; charset=utf-8` -> `text/html`),
 * or UNLABELLED when the header is absent. A value that is no media type stays as
 * written so that an allow list never matches it.
 */
export function mediaTypeOf(contentType: string | null): string {
  if (contentType === null) return UNLABELLED;
  const essence = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return essence === '' ? UNLABELLED : essence;
}

function matches(pattern: MediaPattern, essence: string): boolean {
  const slash = essence.indexOf('/');
  if (slash <= 0) return false;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  return (pattern.type === '*' || pattern.type === type) && (pattern.subtype === '*' || pattern.subtype === subtype);
}

/** Why a media type is refused: the rule that refused it, as the operator wrote it. */
export interface ContentVerdict {
  readonly type: string;
  /** `blocked by video/*` or `not on the allow list (application/json, text/*)`. */
  readonly rule: string;
}

/** Judges a response's `Content-Type`: null when allowed, else what refused it. */
export type ContentPolicy = (contentType: string | null) => ContentVerdict | null;

/**
 * The policy of an allow and a block list (either may be empty); the block
 * list wins, and an empty allow list allows every type not blocked. Null when
 * both are empty: nothing to judge.
 */
export function contentPolicyOf(allow: readonly string[], block: readonly string[]): ContentPolicy | null {
  if (allow.length + block.length === 0) return null;
  return contentPolicy(allow.map(parseMediaPattern), block.map(parseMediaPattern));
}

export function contentPolicy(allow: readonly MediaPattern[], block: readonly MediaPattern[]): ContentPolicy {
  return (contentType) => {
    const type = mediaTypeOf(contentType);
    const blocked = block.find((p) => matches(p, type));
    if (blocked) return { type, rule: `blocked by ${blocked.text} (CORSWAY_BLOCK_CONTENT_TYPES)` };
    if (allow.length > 0 && !allow.some((p) => matches(p, type))) {
      return {
        type,
        rule: `not on the allow list ${allow.map((p) => p.text).join(', ')} (CORSWAY_ALLOW_CONTENT_TYPES)`,
      };
    }
    return null;
  };
}
