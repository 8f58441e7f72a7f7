import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** Host name (lower case, no trailing dot) to its addresses, in file order. */
export type HostsTable = ReadonlyMap<string, readonly string[]>;

/**
 * Parses a hosts file (hosts(5)): `address name [alias ...]` per line, `#`
 * comments, any blank run as separator. Lines whose address is not an IP are
 * skipped, as glibc skips them; an IPv6 zone (`fe80::1%eth0`) is dropped.
 */
export function parseHosts(text: string): HostsTable {
  const table = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    const [rawAddress, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const address = rawAddress?.replace(/%.*$/, '') ?? '';
    if (isIP(address) === 0) continue;
    for (const name of names) {
      const key = hostKey(name);
      const list = table.get(key);
      if (!list) table.set(key, [address]);
      else if (!list.includes(address)) list.push(address);
    }
  }
  return table;
}

/** The form a name is looked up under: lower case, without the root's trailing dot. */
export function hostKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * The system's hosts file, read once: c-ares' resolve4/resolve6 ask DNS only,
 * so the resolver consults this table first, as getaddrinfo does. A missing or
 * unreadable file is an empty table.
 */
export function systemHosts(path = '/etc/hosts'): HostsTable {
  try {
    return parseHosts(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}
