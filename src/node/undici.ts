import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/*
 * The parts of undici the Node server uses, each required from its own file:
 * undici's index loads every client it has (fetch, WebSocket, EventSource,
 * the cache, mocks) and adds their methods to every dispatcher, about 9 MB of resident memory the proxy never uses
 * (docs/decisions/idle-rss.md). undici is pinned to an exact version, and
 * test/node/undici.test.ts checks each part is the one the index exports.
 */
const require = createRequire(import.meta.url);

export const Agent: typeof Undici.Agent = require('undici/lib/dispatcher/agent.js');
export const buildConnector: typeof Undici.buildConnector = require('undici/lib/core/connect.js');

/**
 * undici's ProxyAgent and Pool, loaded when an egress proxy is configured:
 * from the index, which adds the `connect()` its tunnels use to every dispatcher.
 */
export function egressParts(): Pick<typeof Undici, 'ProxyAgent' | 'Pool'> {
  return require('undici') as typeof Undici;
}
