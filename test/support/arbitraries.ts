import fc from 'fast-check';

/*
 * Generators for non-public addresses and the many ways a URL may spell them
 * (the WHATWG URL host parser accepts all of these).
 */

/** IPv4 ranges that are not public: [first address, prefix length]. IANA special-purpose registry. */
const NON_PUBLIC_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

function toUint(dotted: string): number {
  return dotted.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A non-public IPv4 address as an unsigned 32-bit number. */
export const nonPublicV4: fc.Arbitrary<number> = fc
  .constantFrom(...NON_PUBLIC_V4)
  .chain(([base, prefix]) => fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((off) => toUint(base) + off));

/** Any IPv4 address as an unsigned 32-bit number. */
export const anyV4: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffffffff });

/** One number part of an IPv4 host in decimal, hex (0x/0X, any case) or octal (leading 0). */
function part(value: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(String(value)),
    fc
      .tuple(fc.constantFrom('0x', '0X'), fc.boolean())
      .map(([prefix, upper]) => prefix + (upper ? value.toString(16).toUpperCase() : value.toString(16))),
    fc.integer({ min: 1, max: 3 }).map((zeros) => '0'.repeat(zeros) + value.toString(8)),
  );
}

/** Every form the URL parser reads as the IPv4 address `n`: 1 to 4 parts, each in any radix. */
export function spellV4(n: number): fc.Arbitrary<string> {
  const [a, b, c, d] = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const forms: fc.Arbitrary<string[]>[] = [
    fc.tuple(part(a), part(b), part(c), part(d)),
    fc.tuple(part(a), part(b), part((c << 8) | d)),
    fc.tuple(part(a), part(n & 0xffffff)),
    fc.tuple(part(n)),
  ];
  return fc
    .tuple(fc.oneof(...forms), fc.boolean())
    .map(([parts, trailingDot]) => parts.join('.') + (trailingDot ? '.' : ''));
}

function hex16(n: number): string {
  return (n & 0xffff).toString(16);
}

/** IPv6 forms that carry the IPv4 address `n` (SPEC: judged by that address). */
export function embedV4(n: number): fc.Arbitrary<string> {
  const hi = hex16(n >>> 16);
  const lo = hex16(n);
  return fc
    .tuple(
      fc.constantFrom(
        `::ffff:${dotted(n)}`,
        `::ffff:${hi}:${lo}`,
        `0:0:0:0:0:ffff:${dotted(n)}`,
        `64:ff9b::${dotted(n)}`,
        `64:ff9b::${hi}:${lo}`,
        `::ffff:0:${dotted(n)}`,
      ),
      fc.integer({ min: 0, max: 0xffff }),
      fc.boolean(),
    )
    .chain(([form, subnet, upper]) =>
      fc.constantFrom(form, `2002:${hi}:${lo}:${hex16(subnet)}::1`).map((s) => (upper ? s.toUpperCase() : s)),
    );
}

/** IPv6 ranges that are not public, each as a fixed prefix and random rest. */
export const nonPublicV6: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(
      '::1',
      '::',
      'fe80::',
      'febf:ffff::',
      'fc00::',
      'fd00:ec2::',
      'ff02::',
      'ff0e::',
      '2001:db8::',
      '100::',
      '2001::',
    ),
    fc.integer({ min: 0, max: 0xffff }),
    fc.boolean(),
  )
  .map(([prefix, tail, upper]) => {
    const address = prefix === '::1' || prefix === '::' ? prefix : `${prefix}${tail.toString(16)}`;
    return upper ? address.toUpperCase() : address;
  });

/** `localhost` and names under it, in any case, with or without the root dot. */
export const localhostName: fc.Arbitrary<string> = fc
  .tuple(
    // Not an "xn--" label: one that is not valid Punycode makes the URL itself invalid (a 400, not this case).
    fc.array(
      fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/).filter((label) => !label.startsWith('xn--')),
      { maxLength: 3 },
    ),
    fc.constantFrom('localhost', 'LOCALHOST', 'LocalHost'),
    fc.boolean(),
  )
  .map(([labels, name, dot]) => [...labels, name].join('.') + (dot ? '.' : ''));

const FULL_WIDTH_OFFSET = 0xff01 - 0x21;

/**
 * Rewrites a host the way an attacker might while keeping its meaning to the
 * URL parser: full-width characters (IDNA maps them back), ideographic full
 * stops, and percent-encoding of any character.
 */
export function disguise(host: string): fc.Arbitrary<string> {
  return fc
    .array(fc.constantFrom('plain', 'full-width', 'percent'), { minLength: host.length, maxLength: host.length })
    .map((choices) =>
      [...host]
        .map((ch, i) => {
          const choice = host.includes(':') ? 'plain' : choices[i];
          if (choice === 'full-width') {
            if (ch === '.') return '。';
            return String.fromCodePoint((ch.codePointAt(0) ?? 0) + FULL_WIDTH_OFFSET);
          }
          if (choice === 'percent')
            return encodeURIComponent(ch) === ch
              ? `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
              : encodeURIComponent(ch);
          return ch;
        })
        .join(''),
    );
}

/** Ports that are not on the Fetch standard's bad-port list. */
export const goodPort: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.constantFrom(':80', ':443', ':8080', ':3000', ':9200', ':6379', ':8443'),
);

/** A path, query and fragment of printable URL characters. */
export const pathPart: fc.Arbitrary<string> = fc.oneof(
  fc.constant('/'),
  fc.constant(''),
  fc.stringMatching(/^\/[a-zA-Z0-9._~\-/]{0,20}(\?[a-z0-9=&]{0,10})?$/),
);

/**
 * A target for the proxy's path, in the forms the SPEC accepts: with scheme,
 * collapsed slashes, no scheme, or percent-encoded whole.
 */
export function targetWith(host: string): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'http:/', ''), goodPort, pathPart, fc.boolean())
    .map(([scheme, port, path, encodeWhole]) => {
      const target = `${scheme}${host}${port}${path}`;
      return encodeWhole && scheme.startsWith('http') && scheme.endsWith('//') ? encodeURIComponent(target) : target;
    });
}
