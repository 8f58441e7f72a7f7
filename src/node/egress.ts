import { isIPv6 } from 'node:net';
import type { buildConnector, Dispatcher, Pool, ProxyAgent } from 'undici';
import { ConfigError } from '../config/config.ts';
import { skippingContinue } from './interim.ts';
import { egressParts } from './undici.ts';

/** An egress (forward) proxy that upstream requests must go through. */
export interface Egress {
  /** Proxy for http:// targets, and for https:// ones when `httpsProxy` is empty. */
  readonly httpProxy: string;
  /** Proxy for https:// targets. */
  readonly httpsProxy: string;
  /** Hosts reached directly: comma or space list, `.example.com` and `*.example.com` cover subdomains, `*` all. */
  readonly noProxy: string;
}

/**
 * `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (lower-case spellings first, as
 * curl and undici read them), or null when no proxy is set.
 * @throws ConfigError when a proxy is not an http(s) URL.
 */
export function egressFromEnv(env: Readonly<Record<string, string | undefined>>): Egress | null {
  const problems: string[] = [];
  const proxy = (name: string): string => {
    const value = (env[name.toLowerCase()] || env[name] || '').trim();
    if (!value) return '';
    try {
      const { protocol } = new URL(value);
      if (protocol === 'http:' || protocol === 'https:') return value;
    } catch {}
    problems.push(`${name}: expected a proxy URL such as http://proxy.internal:3128, got "${value}"`);
    return '';
  };
  const egress = {
    httpProxy: proxy('HTTP_PROXY'),
    httpsProxy: proxy('HTTPS_PROXY'),
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return egress.httpProxy || egress.httpsProxy ? egress : null;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Whether a URL bypasses the egress proxy, by `NO_PROXY`, matched on the name
 * the user wrote (the proxy is then handed an address, which NO_PROXY entries
 * would no longer match). The same rules as undici's EnvHttpProxyAgent.
 */
export function noProxyMatcher(noProxy: string): (url: URL) => boolean {
  const value = noProxy.trim();
  if (value === '*') return () => true;
  const entries = value
    .split(/[,\s]/)
    .filter(Boolean)
    .map((entry) => {
      const parsed = /^(.+):(\d+)$/.exec(entry);
      return {
        host: (parsed?.[1] ?? entry).replace(/^\*?\./, '').toLowerCase(),
        port: parsed ? Number(parsed[2]) : 0,
      };
    });
  return (url) => {
    const host = url.hostname.toLowerCase();
    const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0;
    return entries.some((e) => (!e.port || e.port === port) && (host === e.host || host.endsWith(`.${e.host}`)));
  };
}

/**
 * Picks the dispatcher for a URL: the egress proxy for its scheme, or null to
 * connect directly (NO_PROXY, or no proxy for that scheme).
 */
export function egressRoute(
  egress: Egress,
  options: Omit<ProxyAgent.Options, 'uri'>,
): {
  route: (url: URL) => Dispatcher | null;
  close: () => Promise<void>;
} {
  const bypass = noProxyMatcher(egress.noProxy);
  const { ProxyAgent } = egressParts();
  const http = egress.httpProxy ? new ProxyAgent({ ...options, uri: egress.httpProxy, factory: tunnelPool }) : null;
  const https = egress.httpsProxy ? new ProxyAgent({ ...options, uri: egress.httpsProxy, factory: tunnelPool }) : http;
  return {
    route: (url) => (bypass(url) ? null : url.protocol === 'https:' ? https : http),
    close: async () => {
      await Promise.all([http?.close(), https !== http ? https?.close() : undefined]);
    },
  };
}

/**
 * A target's pool behind the egress proxy (undici's default but for
 * `connect`): its sockets, tunnels through the proxy, drop a target's
 * unsolicited 100 Continue as direct sockets do (interim.ts).
 */
function tunnelPool(origin: string | URL, options: object): Dispatcher {
  const { connect, ...rest } = options as Pool.Options & { connect: buildConnector.connector };
  return new (egressParts().Pool)(origin, { ...rest, connect: skippingContinue(connect) });
}

/**
 * The origin to hand the egress proxy: the checked address in place of the
 * name, so the proxy cannot resolve the name again to somewhere else (DNS
 * rebinding). The request keeps the name in Host, and TLS in its SNI.
 */
export function pinnedOrigin(url: URL, address: string): string {
  const host = isIPv6(address) ? `[${address}]` : address;
  return `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`;
}
