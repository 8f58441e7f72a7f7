import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { contentPolicy, mediaTypeOf, parseMediaPattern } from '../../src/core/media-type.ts';

const policy = (allow: string[], block: string[]) =>
  contentPolicy(allow.map(parseMediaPattern), block.map(parseMediaPattern));

describe('media types', () => {
  test.each([
    ['application/json', 'application/json'],
    ['Text/HTML; charset=UTF-8', 'text/html'],
    ['  video/mp4 ;codecs="avc1"', 'video/mp4'],
    [null, 'application/octet-stream'],
    ['', 'application/octet-stream'],
  ])('the media type of %j is %s', (header, essence) => {
    expect(mediaTypeOf(header)).toBe(essence);
  });

  test.each(['video', 'video/', '*/json', 'a/b/c', 'text/html; charset=utf-8', 'te xt/html'])(
    'the entry %j is refused, with the way to write it',
    (entry) => {
      expect(() => parseMediaPattern(entry)).toThrow(/write it like application\/json or video\/\*/);
    },
  );

  test('an empty policy allows everything, an unlabelled response included', () => {
    expect(policy([], [])('video/mp4')).toBeNull();
    expect(policy([], [])(null)).toBeNull();
  });

  test('the block list wins over the allow list, and names its rule', () => {
    const judge = policy(['video/*', 'application/json'], ['video/mp4']);
    expect(judge('video/webm')).toBeNull();
    expect(judge('Video/MP4; codecs=x')).toEqual({
      type: 'video/mp4',
      rule: 'blocked by video/mp4 (CORSWAY_BLOCK_CONTENT_TYPES)',
    });
  });

  test('outside the allow list: the rule lists it; without Content-Type the type is application/octet-stream', () => {
    const judge = policy(['application/json', 'text/*'], []);
    expect(judge('text/plain')).toBeNull();
    expect(judge(null)).toEqual({
      type: 'application/octet-stream',
      rule: 'not on the allow list application/json, text/* (CORSWAY_ALLOW_CONTENT_TYPES)',
    });
    expect(judge('not a type')?.type).toBe('not a type');
  });
});

const token = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,11}$/);
const casing = (s: string) => fc.boolean().map((upper) => (upper ? s.toUpperCase() : s));
const parameters = fc.array(fc.tuple(token, token).map(([k, v]) => `; ${k}=${v}`)).map((p) => p.join(''));

describe('media-type matching (fast-check)', () => {
  test('parameters and case never change a verdict', () => {
    fc.assert(
      fc.property(token, token, parameters, fc.boolean(), fc.boolean(), (type, subtype, params, wild, blocks) => {
        const entry = `${type}/${wild ? '*' : subtype}`;
        const judge = blocks ? policy([], [entry]) : policy([entry], []);
        const plain = judge(`${type}/${subtype}`);
        const dressed = judge(`${type.toUpperCase()}/${subtype}${params}`);
        expect(dressed).toEqual(plain);
        // An entry always matches its own type: blocked when blocking, allowed when allowing.
        expect(plain === null).toBe(!blocks);
      }),
      { numRuns: 1000 },
    );
  });

  test('type/* matches every subtype of its type and nothing of another type', () => {
    fc.assert(
      fc.property(token, token, token, (type, other, subtype) => {
        fc.pre(type !== other);
        const judge = policy([], [`${type}/*`]);
        expect(judge(`${type}/${subtype}`)).not.toBeNull();
        expect(judge(`${other}/${subtype}`)).toBeNull();
        // Not a prefix match on the type either.
        expect(judge(`${type}x/${subtype}`)).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  test('block wins: a type on both lists is always refused', () => {
    fc.assert(
      fc.property(token, token, fc.boolean(), fc.boolean(), (type, subtype, wildAllow, wildBlock) => {
        const entry = (wild: boolean) => `${type}/${wild ? '*' : subtype}`;
        const judge = policy([entry(wildAllow)], [entry(wildBlock)]);
        expect(judge(`${type}/${subtype}`)?.rule).toMatch(/^blocked by/);
      }),
      { numRuns: 500 },
    );
  });

  test('any header value is judged without throwing', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), casing('video/*'), (header, entry) => {
        const verdict = policy([], [entry])(header);
        expect(verdict === null || typeof verdict.rule === 'string').toBe(true);
      }),
    );
  });
});
