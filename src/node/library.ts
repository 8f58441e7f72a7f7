import type { Hono } from 'hono';
import { type CorswayOptions, corsway as portable } from '../index.ts';
import { nodeUpstream } from './upstream.ts';

export * from '../index.ts';
export { type Egress, egressFromEnv, guardedConnector, nodeUpstream, type Resolve } from './upstream.ts';

/**
 * `corsway()` with the Node upstream by default: names are resolved once,
 * every address is checked, and the checked one is connected to, so a name
 * pointing at a private address is refused before any packet is sent.
 * @throws TypeError naming each invalid option.
 */
export function corsway(options: CorswayOptions = {}): Hono {
  if (options.upstream) return portable(options);
  // An agent holds no resources until its first request, so one built for
  // options that turn out invalid costs nothing.
  const { upstream } = nodeUpstream({
    allowPrivateNetwork: options.allowPrivateNetwork === true,
    timeoutMs: options.timeoutMs,
  });
  return portable({ ...options, upstream });
}
