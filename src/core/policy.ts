import type { Config } from '../config/config.ts';
import { ProxyError } from './errors.ts';
import type { HeaderMap } from './fields.ts';
import { hasLooped } from './headers.ts';

/*
 * The request rules, in the order a request meets them: its origin, its
 * method (a WebSocket upgrade is refused too), the required header, a loop
 * through this proxy. The target rules
 * are target.ts's checkTarget; the budget is budget.ts. Every route that
 * acts for a client (a proxied request, a diagnosis) asks these, never a copy.
 */

/** Methods never proxied: TRACE/TRACK echo credentials back (XST), CONNECT opens a tunnel. */
export const REFUSED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'TRACK', 'CONNECT']);

/** @throws ProxyError `origin_not_allowed` when the origin is blocked, or not allowed. */
export function checkOrigin(config: Config, origin: string | null): void {
  const blocked = origin !== null && config.blockOrigins?.(origin);
  const allowed = !config.allowOrigins || (origin !== null && config.allowOrigins(origin));
  if (blocked || !allowed) {
    throw new ProxyError(
      'origin_not_allowed',
      origin === null
        ? 'This proxy only serves the web pages its operator allowed, and this request has no Origin header.'
        : `This proxy does not serve pages from ${origin}; its operator allows only certain origins (CORSWAY_ALLOW_ORIGINS, CORSWAY_BLOCK_ORIGINS).`,
    );
  }
}

/** @throws ProxyError `method_not_allowed`. */
export function checkMethod(method: string): void {
  if (REFUSED_METHODS.has(method.toUpperCase())) {
    throw new ProxyError('method_not_allowed', `${method} requests are not proxied.`);
  }
}

/** @throws ProxyError `method_not_allowed` for a WebSocket handshake. */
export function checkUpgrade(headers: HeaderMap): void {
  // Upgrade is hop-by-hop: forwarded without it, a WebSocket handshake would silently become a plain GET.
  if (headers.get('upgrade')?.toLowerCase() === 'websocket') {
    throw new ProxyError(
      'method_not_allowed',
      'WebSocket connections are not proxied: this proxy relays HTTP requests only. Connect to the target directly (browsers allow cross-origin WebSockets).',
    );
  }
}

/** @throws ProxyError `missing_header` naming exactly the headers that would do. */
export function checkRequiredHeader(config: Config, headers: HeaderMap): void {
  const required = config.requireHeader;
  if (required.length === 0 || required.some((h) => headers.has(h))) return;
  const browsers = required.includes('origin')
    ? ' Browsers send Origin on cross-origin requests; from other clients, add one of them.'
    : '';
  throw new ProxyError(
    'missing_header',
    `This proxy requires ${required.length > 1 ? 'one of these request headers' : 'the request header'}: ${required.join(', ')}.${browsers}`,
  );
}

/** @throws ProxyError `loop_detected` when `Via` shows the request already passed through this proxy. */
export function checkLoop(headers: HeaderMap): void {
  if (hasLooped(headers)) {
    throw new ProxyError(
      'loop_detected',
      'This request already passed through this proxy; the target points back at the proxy itself.',
    );
  }
}

/** The request rules after the origin (a preflight meets only that one), in order. */
export function checkRequest(config: Config, method: string, headers: HeaderMap): void {
  checkMethod(method);
  checkUpgrade(headers);
  checkRequiredHeader(config, headers);
  checkLoop(headers);
}
