import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isPublicAddress } from '../../src/core/address.ts';
import { ProxyError } from '../../src/core/errors.ts';
import { checkTarget, parseTarget, type TargetPolicy } from '../../src/core/target.ts';
import {
  anyV4,
  disguise,
  dotted,
  embedV4,
  localhostName,
  nonPublicV4,
  nonPublicV6,
  spellV4,
  targetWith,
} from '../support/arbitraries.ts';

const GUARDED: TargetPolicy = { allowTargets: null, allowPrivateNetwork: false };
const RUNS = { numRuns: 2000 };

/** What the proxy decides for what follows its `/`: the error code, or 'allowed'. */
function decide(raw: string, policy: TargetPolicy = GUARDED): string {
  try {
    checkTarget(parseTarget(raw), policy);
    return 'allowed';
  } catch (error) {
    if (error instanceof ProxyError) return error.code;
    throw error;
  }
}

/** Every non-public host in some spelling: IPv4 forms, embedding IPv6, native IPv6, localhost names. */
const nonPublicHost: fc.Arbitrary<string> = fc.oneof(
  nonPublicV4.chain(spellV4).chain(disguise),
  nonPublicV4.chain(embedV4).map((v6) => `[${v6}]`),
  nonPublicV6.map((v6) => `[${v6}]`),
  localhostName.chain(disguise),
);

describe('target parsing and checking (fast-check)', () => {
  test('a URL whose host is a non-public address, in any spelling, is refused with target_not_allowed', () => {
    fc.assert(
      fc.property(nonPublicHost.chain(targetWith), (target) => {
        expect(decide(target)).toBe('target_not_allowed');
      }),
      RUNS,
    );
  });

  test('the same URL through the ?url= form is refused too', () => {
    fc.assert(
      fc.property(nonPublicV4.chain(spellV4), (host) => {
        const param = new URLSearchParams(`url=${encodeURIComponent(`http://${host}/`)}`).get('url') ?? '';
        expect(decide(param)).toBe('target_not_allowed');
      }),
      RUNS,
    );
  });

  test('every spelling of an IPv4 address is judged as the dotted address is', () => {
    fc.assert(
      fc.property(
        anyV4.chain((n) => fc.tuple(fc.constant(n), spellV4(n))),
        ([n, spelled]) => {
          const expected = isPublicAddress(dotted(n)) ? 'allowed' : 'target_not_allowed';
          expect(decide(`http://${spelled}/`)).toBe(expected);
        },
      ),
      RUNS,
    );
  });

  test('with CORSWAY_ALLOW_PRIVATE_NETWORK on, a non-public address is allowed (the guard is the only thing refusing it)', () => {
    fc.assert(
      fc.property(nonPublicV4.chain(spellV4), (host) => {
        expect(decide(`http://${host}/`, { allowTargets: null, allowPrivateNetwork: true })).toBe('allowed');
      }),
      { numRuns: 300 },
    );
  });

  /** URL-ish text: the pieces attackers combine. */
  const urlish = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'http',
          'https',
          'ftp',
          ':',
          '/',
          '//',
          '%',
          '%3A',
          '%2F',
          '%3a%2f%2f',
          '%25',
          '%zz',
          '%0d%0a',
          '%00',
          '[',
          ']',
          '[::1]',
          '@',
          '.',
          '。',
          '0x',
          '0X7f',
          '127',
          '2130706433',
          'localhost',
          '?',
          '#',
          '?url=',
          '\u0000',
          '\r\n',
          ' ',
          '\t',
          'ｌ',
          ':99999',
          ':0',
          ':-1',
          'xn--',
          'xn--a',
          '..',
          '\\',
          '%ef%bc%91',
          'é',
          '💥',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join(''));

  test('parseTarget and checkTarget throw nothing but ProxyError, on URL-ish text', () => {
    fc.assert(
      fc.property(urlish, (raw) => {
        decide(raw);
      }),
      { numRuns: 5000 },
    );
  });

  test('parseTarget and checkTarget throw nothing but ProxyError, on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (raw) => {
        decide(raw);
      }),
      { numRuns: 2000 },
    );
  });
});
