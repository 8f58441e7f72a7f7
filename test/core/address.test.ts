import { describe, expect, test } from 'vitest';
import { clientKey, isIPLiteral, isPublicAddress } from '../../src/core/address.ts';

describe('isPublicAddress', () => {
  // [address, why it is not public]
  const NOT_PUBLIC: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', '"this network"'],
    ['10.1.2.3', 'private, RFC 1918'],
    ['172.16.0.1', 'private, RFC 1918'],
    ['172.31.255.255', 'private, RFC 1918'],
    ['192.168.1.1', 'private, RFC 1918'],
    ['100.64.0.1', 'CGNAT, RFC 6598'],
    ['100.127.255.255', 'CGNAT, RFC 6598'],
    ['169.254.169.254', 'link-local: cloud metadata'],
    ['169.254.0.1', 'link-local'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.0.2.1', 'documentation, TEST-NET-1'],
    ['198.51.100.7', 'documentation, TEST-NET-2'],
    ['203.0.113.9', 'documentation, TEST-NET-3'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['240.0.0.1', 'reserved, 240/4'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback, bracketed'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['fc00::1', 'unique local'],
    ['fd00:ec2::254', 'unique local: AWS metadata over IPv6'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['2001::1', 'Teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:10::1', 'ORCHID'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated private'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::10.0.0.1', 'IPv4-compatible private'],
    ['64:ff9b::127.0.0.1', 'NAT64 of loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of metadata'],
    ['2002:7f00:1::', '6to4 of loopback'],
    ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
    ['3fff::1', 'documentation, RFC 9637 (outside what routes)'],
    ['4000::1', 'outside global unicast 2000::/3'],
    ['localhost', 'a name, not an address'],
    ['127.1', 'short form: only URL parsing turns it into an address'],
    ['2130706433', 'decimal form: only URL parsing turns it into an address'],
    ['', 'empty'],
    ['1.2.3.4.5', 'garbage'],
    ['256.1.1.1', 'a part over 255'],
    ['1.2.3.4.', 'a dotted quad and a dot'],
    ['1..2.3', 'an empty part'],
  ];

  test.each(NOT_PUBLIC)('%s is not public (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  const PUBLIC: [string, string][] = [
    ['8.8.8.8', 'Google DNS'],
    ['1.1.1.1', 'Cloudflare DNS'],
    ['93.184.216.34', 'a web server'],
    ['172.32.0.1', 'just past 172.16/12'],
    ['100.128.0.1', 'just past CGNAT'],
    ['11.0.0.1', 'just past 10/8'],
    ['223.255.255.255', 'just below multicast'],
    ['01.2.3.4', 'a leading zero: octal to ipaddr.js, 1.2.3.4'],
    ['2606:4700:4700::1111', 'global unicast'],
    ['[2606:4700:4700::1111]', 'global unicast, bracketed'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
    ['2002:808:808::1', '6to4 of a public address'],
  ];

  test.each(PUBLIC)('%s is public (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('isIPLiteral', () => {
  test.each([
    ['127.0.0.1', true],
    ['[::1]', true],
    ['::ffff:1.2.3.4', true],
    ['example.com', false],
    ['localhost', false],
    ['[example.com]', false],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['256.1.1.1', false],
    ['1.2.3', true],
    ['1.2.3.4.5', false],
    ['1..2.3', false],
    ['1.2.3.4.', false],
    ['.1.2.3', false],
    ['01.2.3.4', true],
    ['1.2.3.04', true],
  ])('%s -> %s', (host, expected) => {
    expect(isIPLiteral(host)).toBe(expected);
  });
});

describe('clientKey', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['not-an-address', 'not-an-address'],
  ])('%s -> %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});
