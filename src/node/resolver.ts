import { Resolver } from 'node:dns/promises';
import { LRUCache } from 'lru-cache';
import { ProxyError } from '../core/errors.ts';
import { type HostsTable, hostKey, systemHosts } from './hosts.ts';

/** Resolves a host name to every address it has, IPv4 first. */
export type Resolve = (hostname: string) => Promise<readonly string[]>;

export interface ResolverOptions {
  /** DNS servers to ask (`192.0.2.53`, `192.0.2.53:5353`, `[2001:db8::53]:53`). @default the system's (resolv.conf) */
  readonly servers?: readonly string[];
  /** How long c-ares waits for one answer before asking again. @default 1500 */
  readonly timeoutMs?: number;
  /** Attempts per server before the lookup fails. @default 2 */
  readonly tries?: number;
  /** Names answered before DNS is asked. @default the system's hosts file */
  readonly hosts?: HostsTable;
  /** Lookups one client may have waiting at once; the next is refused with 429. @default 16 */
  readonly perClient?: number;
  /** How long a failed lookup is answered from memory. @default 5000 */
  readonly failureTtlMs?: number;
  /** The longest an answer is kept, whatever its TTL. @default 300000 */
  readonly maxTtlMs?: number;
  /** Names remembered at once (least recently used leave first). @default 10000 */
  readonly maxNames?: number;
}

/** A lookup that did not produce addresses; `code` as getaddrinfo would say it. */
export class LookupError extends Error {
  /** `ENOTFOUND`: the name has no address. `EAI_AGAIN`: DNS did not answer (timeout, server failure). */
  readonly code: 'ENOTFOUND' | 'EAI_AGAIN';
  readonly hostname: string;

  constructor(code: 'ENOTFOUND' | 'EAI_AGAIN', hostname: string, detail: string) {
    super(`${code === 'ENOTFOUND' ? 'no address for' : 'no DNS answer for'} ${hostname} (${detail})`);
    this.name = 'LookupError';
    this.code = code;
    this.hostname = hostname;
  }
}

type Answer = { readonly addresses: readonly string[] } | { readonly error: LookupError };

/** Codes c-ares gives when the name simply has no record of that type. */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA']);
/** RFC 6761 §6.3: localhost and its subdomains are loopback, whatever DNS says. */
const LOCALHOST = ['127.0.0.1', '::1'];
/** Below this, an answer would be looked up again between the check and the connect. */
const MIN_TTL_MS = 1000;

export interface NodeResolver {
  /** Addresses of a name: hosts file, cache, then DNS. No per-client bound (the connect-time path). */
  readonly resolve: Resolve;
  /** The same, counted against `client`'s bound while DNS is asked. */
  lookup(hostname: string, client: string): Promise<readonly string[]>;
  /** True when the name is answered without asking DNS (hosts file or cache). */
  known(hostname: string): boolean;
  /** Cancels lookups in progress. */
  close(): void;
}

/**
 * Name resolution on c-ares rather than `dns.lookup`: getaddrinfo runs on
 * libuv's four-thread pool, so a few names whose DNS server never answers
 * held every thread and stalled every other lookup. c-ares asks over its own
 * sockets, with its own timeout and tries; answers are kept for their TTL,
 * failures briefly, and concurrent lookups of one name share one query.
 */
export function createResolver(options: ResolverOptions = {}): NodeResolver {
  const dns = new Resolver({ timeout: options.timeoutMs ?? 1500, tries: options.tries ?? 2 });
  if (options.servers) dns.setServers([...options.servers]);
  // Read at the first lookup, so an upstream built and never used costs nothing.
  let hosts = options.hosts;
  const perClient = options.perClient ?? 16;
  const failureTtlMs = options.failureTtlMs ?? 5000;
  const maxTtlMs = options.maxTtlMs ?? 300_000;
  const cache = new LRUCache<string, Answer>({ max: options.maxNames ?? 10_000 });
  const inFlight = new Map<string, Promise<Answer>>();
  const waiting = new Map<string, number>();

  const local = (key: string): readonly string[] | undefined => {
    hosts ??= systemHosts();
    return hosts.get(key) ?? (key === 'localhost' || key.endsWith('.localhost') ? LOCALHOST : undefined);
  };

  async function query(key: string): Promise<Answer> {
    const [v4, v6] = await Promise.allSettled([dns.resolve4(key, { ttl: true }), dns.resolve6(key, { ttl: true })]);
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (records.length > 0) {
      const ttlMs = Math.min(...records.map((r) => r.ttl)) * 1000;
      const answer = { addresses: records.map((r) => r.address) };
      cache.set(key, answer, { ttl: Math.min(Math.max(ttlMs, MIN_TTL_MS), maxTtlMs) });
      return answer;
    }
    const codes = [v4, v6].map((r) => (r.status === 'rejected' ? String((r.reason as { code?: unknown }).code) : ''));
    const missing = codes.every((code) => NO_SUCH_NAME.has(code) || code === '');
    const answer = { error: new LookupError(missing ? 'ENOTFOUND' : 'EAI_AGAIN', key, codes.join(', ')) };
    cache.set(key, answer, { ttl: failureTtlMs });
    return answer;
  }

  function answerFor(key: string): Promise<Answer> {
    let pending = inFlight.get(key);
    if (!pending) {
      pending = query(key).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  const unwrap = (answer: Answer): readonly string[] => {
    if ('error' in answer) throw answer.error;
    return answer.addresses;
  };

  const resolve: Resolve = async (hostname) => {
    const key = hostKey(hostname);
    return local(key) ?? unwrap(cache.get(key) ?? (await answerFor(key)));
  };
  const known = (key: string) => local(key) !== undefined || cache.has(key);

  return {
    resolve,
    async lookup(hostname, client) {
      const key = hostKey(hostname);
      if (known(key)) return resolve(key);
      const count = waiting.get(client) ?? 0;
      if (count >= perClient) {
        throw new ProxyError(
          'rate_limited',
          `This client already has ${perClient} host names being looked up in DNS at this proxy; wait until those requests finish. A name whose DNS server does not answer holds its lookup until the DNS timeout.`,
          { 'retry-after': '1' },
        );
      }
      waiting.set(client, count + 1);
      try {
        return unwrap(await answerFor(key));
      } finally {
        const left = (waiting.get(client) ?? 1) - 1;
        if (left === 0) waiting.delete(client);
        else waiting.set(client, left);
      }
    },
    known: (hostname) => known(hostKey(hostname)),
    close: () => dns.cancel(),
  };
}
