import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, test } from 'vitest';
import { isIPLiteral, isPublicAddress } from '../../src/core/address.ts';
import { anyV4, dotted, embedV4, nonPublicV4, nonPublicV6 } from '../support/arbitraries.ts';

const RUNS = { numRuns: 3000 };

describe('isPublicAddress (fast-check)', () => {
  test('no address in a non-public IPv4 range is public', () => {
    fc.assert(
      fc.property(nonPublicV4, (n) => {
        expect(isPublicAddress(dotted(n))).toBe(false);
      }),
      RUNS,
    );
  });

  test('no address in a non-public IPv6 range is public', () => {
    fc.assert(
      fc.property(nonPublicV6, (v6) => {
        expect(isPublicAddress(v6)).toBe(false);
      }),
      RUNS,
    );
  });

  test('an IPv6 address that embeds an IPv4 address is judged by that address', () => {
    fc.assert(
      fc.property(
        anyV4.chain((n) => fc.tuple(fc.constant(n), embedV4(n))),
        ([n, v6]) => {
          expect(isPublicAddress(v6)).toBe(isPublicAddress(dotted(n)));
        },
      ),
      RUNS,
    );
  });

  test('an IPv4 address is public exactly when ipaddr.js calls it unicast', () => {
    fc.assert(
      fc.property(anyV4, (n) => {
        expect(isPublicAddress(dotted(n))).toBe(ipaddr.parse(dotted(n)).range() === 'unicast');
      }),
      RUNS,
    );
  });

  test('any text that is not an IP address is not public', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        fc.pre(!ipaddr.isValid(text.replace(/^\[(.*)\]$/, '$1')));
        expect(isPublicAddress(text)).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('isIPLiteral (fast-check)', () => {
  /** Strings built from the characters of IPv4 spellings, and of names, in every case. */
  const spelling = fc
    .array(fc.constantFrom(...'0123456789abcdefxABCDEFX.:gz-'.split('')), { maxLength: 24 })
    .map((chars) => chars.join(''));
  const v4Forms = fc
    .tuple(anyV4, fc.constantFrom('dotted', 'decimal', 'hex', 'octal-first'))
    .map(([n, form]) =>
      form === 'dotted'
        ? dotted(n)
        : form === 'decimal'
          ? String(n)
          : form === 'hex'
            ? `0x${n.toString(16)}`
            : `0${((n >>> 24) & 255).toString(8)}.${dotted(n).split('.').slice(1).join('.')}`,
    );

  /** Four or so parts of digits near the dotted-decimal fast path: leading zeros, 256 and up, a part too many or too few. */
  const nearDotted = fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 999 }).map(String),
        fc.constantFrom('0', '9', '10', '99', '100', '199', '200', '249', '250', '255', '256', '259', '260', '300'),
        fc.stringMatching(/^0\d{1,3}$/),
      ),
      {
        minLength: 3,
        maxLength: 5,
      },
    )
    .map((parts) => parts.join('.'));

  test('agrees with ipaddr.isValid on any spelling, names and every IPv4 form included', () => {
    fc.assert(
      fc.property(fc.oneof(spelling, v4Forms, nearDotted, fc.string()), (text) => {
        expect(isIPLiteral(text)).toBe(ipaddr.isValid(text));
      }),
      { numRuns: 20000 },
    );
  });
});
