import { isIP } from 'node:net';
import type { buildConnector as BuildConnector } from 'undici';
import { isPublicAddress } from '../core/address.ts';
import { privateTarget } from '../core/target.ts';
import { createResolver, LookupError, type Resolve } from './resolver.ts';
import { buildConnector } from './undici.ts';

/** A host as undici or a URL spells it, without the brackets of an IPv6 literal. */
function bare(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/**
 * A connector that resolves the name once and connects to the address it
 * got, so a DNS answer that changes between check and connect (rebinding)
 * cannot slip through. With `guard`, it refuses unless every address is
 * public; IP literals, which never reach a lookup, are checked the same way.
 * The refusal names the host as the user wrote it, never the address it
 * resolved to, so the response reveals nothing about the internal network.
 * `connect` is the plain connector it hands the address to (tests pass a
 * recorder, as they may not connect to a public address).
 */
export function guardedConnector(
  resolve: Resolve = createResolver().resolve,
  connect: BuildConnector.connector = buildConnector({}),
  guard = true,
): BuildConnector.connector {
  return (options, callback) => {
    const hostname = bare(options.hostname);
    const literal = isIP(hostname) !== 0;
    Promise.resolve(literal ? [hostname] : resolve(hostname)).then(
      (list) => {
        const address = list[0];
        if (guard && (!address || !list.every(isPublicAddress))) {
          callback(privateTarget(hostname, !literal), null);
          return;
        }
        if (!address) {
          callback(new LookupError('ENOTFOUND', hostname, 'empty answer'), null);
          return;
        }
        connect(
          { ...options, hostname: address, servername: options.servername || (literal ? undefined : hostname) },
          callback,
        );
      },
      (error: Error) => callback(error, null),
    );
  };
}

/**
 * The address to send a request to: the first of the host's addresses, once
 * every one of them is known to be public.
 * @throws ProxyError `target_not_allowed` naming the host, never its addresses.
 */
export async function checkedAddress(hostname: string, resolve: Resolve): Promise<string> {
  const host = bare(hostname);
  const literal = isIP(host) !== 0;
  const list = literal ? [host] : await resolve(host);
  const address = list[0];
  if (!address || !list.every(isPublicAddress)) throw privateTarget(hostname, !literal);
  return address;
}
