import type { IPv4, IPv6 } from 'ipaddr.js';
import { ipaddr } from './ipaddr.cjs';

/*
 * Is an IP address one the public internet can route to? Ranges come from
 * ipaddr.js (IANA special-purpose registries); this module only adds what the
 * library leaves to its callers: unwrapping IPv6 forms that carry an IPv4
 * address, and IPv6 outside 2000::/3 (global unicast, RFC 4291 2.4).
 */

/** IPv6 prefixes whose last 32 bits are an IPv4 address the packet really goes to. */
const EMBEDDING_LAST_32: ReadonlyArray<[IPv6, number]> = [
  ipaddr.parseCIDR('::ffff:0:0/96') as [IPv6, number], // IPv4-mapped, RFC 4291
  ipaddr.parseCIDR('::/96') as [IPv6, number], // IPv4-compatible (deprecated), RFC 4291
  ipaddr.parseCIDR('::ffff:0:0:0/96') as [IPv6, number], // IPv4-translated, RFC 6145
  ipaddr.parseCIDR('64:ff9b::/96') as [IPv6, number], // NAT64, RFC 6052
];
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16') as [IPv6, number]; // RFC 3056
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3') as [IPv6, number];

/**
 * Every character of every IPv4 spelling ipaddr.js accepts (dotted, short,
 * decimal, octal and hex forms). Its IPv4.isValid throws and catches an
 * Error for any other string, which cost about 12 us for each host name
 * checked; a name with other characters cannot be an IPv4 address anyway.
 */
const IPV4_SPELLING = /^[0-9a-fx.]+$/i;

/**
 * A dotted quad as a 32-bit unsigned number, or -1 when `text` is not one.
 * Dotted decimal without leading zeros, each part 0 to 255: how WHATWG URL
 * writes every IPv4 host, and valid for ipaddr.js without running its parser;
 * read by hand because a target's host is checked several times per request.
 */
function dottedQuad(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // A leading zero makes another spelling (octal to ipaddr.js), not a dotted quad.
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + c - 48;
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/**
 * ipaddr.js's IPv4 special-purpose ranges (everything but 'unicast') as
 * network and mask, 32-bit unsigned, built once: a dotted quad is judged by a
 * few integer comparisons, not parsed into an object and matched range by range.
 */
const IPV4_SPECIAL: ReadonlyArray<readonly [number, number]> = Object.values(
  (
    ipaddr.IPv4.prototype as unknown as {
      SpecialRanges: Record<string, [IPv4, number] | [IPv4, number][]>;
    }
  ).SpecialRanges,
)
  .flatMap((ranges) => (Array.isArray(ranges[0]) ? (ranges as [IPv4, number][]) : [ranges as [IPv4, number]]))
  .map(([network, bits]) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return [(dottedQuad(network.toString()) & mask) >>> 0, mask] as const;
  });

/** Whether a dotted quad's value is outside every IPv4 special-purpose range: ipaddr.js's 'unicast'. */
function isUnicastQuad(value: number): boolean {
  for (const [network, mask] of IPV4_SPECIAL) if ((value & mask) >>> 0 === network) return false;
  return true;
}

/** ipaddr.isValid, without its cost for host names and canonical IPv4 addresses. */
function isValidIP(text: string): boolean {
  if (text.includes(':')) return ipaddr.IPv6.isValid(text);
  return dottedQuad(text) !== -1 || (IPV4_SPELLING.test(text) && ipaddr.IPv4.isValid(text));
}

/** The IPv4 address an IPv6 address carries, where routing would deliver to it. */
function embeddedIPv4(ip: IPv6): IPv4 | null {
  const b = ip.toByteArray();
  if (EMBEDDING_LAST_32.some((range) => ip.match(range))) {
    return new ipaddr.IPv4(b.slice(12, 16));
  }
  if (ip.match(SIX_TO_FOUR)) return new ipaddr.IPv4(b.slice(2, 6));
  return null;
}

/**
 * True when `address` (an IPv4 or IPv6 literal, brackets allowed) is a public
 * unicast address. Anything unparsable is not public.
 */
export function isPublicAddress(address: string): boolean {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const quad = dottedQuad(text);
  if (quad !== -1) return isUnicastQuad(quad);
  if (!isValidIP(text)) return false;
  const ip = ipaddr.parse(text);
  if (ip.kind() === 'ipv4') return ip.range() === 'unicast';
  const v6 = ip as IPv6;
  // Zone ids (fe80::1%eth0) only exist for link-local scope.
  if (v6.zoneId) return false;
  const v4 = embeddedIPv4(v6);
  if (v4) return v4.range() === 'unicast';
  return v6.match(GLOBAL_UNICAST) && v6.range() === 'unicast';
}

/** True for an IPv4 or IPv6 literal (brackets allowed). */
export function isIPLiteral(host: string): boolean {
  const text = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isValidIP(text);
}

/** True for 127.0.0.0/8 and ::1 (brackets allowed): the loopback a browser trusts as secure. */
export function isLoopbackAddress(host: string): boolean {
  const text = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!isValidIP(text)) return false;
  const ip = ipaddr.parse(text);
  return ip.kind() === 'ipv4' ? ip.range() === 'loopback' : ip.toNormalizedString() === '0:0:0:0:0:0:0:1';
}

/**
 * The rate-limit key for a client address: IPv6 clients by their /64, since one
 * subscriber usually holds a whole /64 and could rotate through it.
 */
export function clientKey(address: string): string {
  if (!isValidIP(address)) return address;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as IPv6).isIPv4MappedAddress()) {
    ip = (ip as IPv6).toIPv4Address();
  }
  if (ip.kind() === 'ipv4') return ip.toString();
  const parts = (ip as IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/**
 * The client's address on a server that sees sockets: the socket's, or with
 * `trustProxy` the last `X-Forwarded-For` hop, the one the operator's own
 * reverse proxy appended (earlier hops are whatever the client claimed).
 */
export function socketClientAddress(
  socketAddress: string,
  forwardedFor: string | undefined,
  trustProxy: boolean,
): string {
  if (!trustProxy) return socketAddress;
  return forwardedFor?.split(',').at(-1)?.trim() || socketAddress;
}
