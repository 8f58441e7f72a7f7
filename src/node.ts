import type { AddressInfo } from 'node:net';
import { type HttpBindings, serve } from '@hono/node-server';
import type { Context } from 'hono';
import { createApp } from './app.ts';
import { ConfigError, parseConfig, parseListen } from './config.ts';
import { nodeUpstream } from './node-upstream.ts';

/** How long in-flight requests may finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;

let config: ReturnType<typeof parseConfig>;
let listen: ReturnType<typeof parseListen>;
try {
  config = parseConfig(process.env);
  listen = parseListen(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`corsway: ${error.message}`);
  process.exit(1);
}

const { upstream, close } = nodeUpstream(config);
const quiet = process.env.CORSWAY_LOG_LEVEL === 'silent';

const app = createApp(config, {
  upstream,
  clientAddress: (c: Context<{ Bindings: HttpBindings }>) => {
    const socketAddress = c.env.incoming.socket.remoteAddress ?? '';
    if (!config.trustProxy) return socketAddress;
    // Only the hop our own reverse proxy appended can be trusted.
    const hops = c.req.header('x-forwarded-for')?.split(',');
    return hops?.at(-1)?.trim() || socketAddress;
  },
  log: quiet ? undefined : (r) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...r })}\n`),
});

const server = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port }, (info: AddressInfo) => {
  console.log(
    `corsway listening on http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`,
  );
});

function shutdown(signal: string): void {
  console.log(`corsway: ${signal} received, finishing in-flight requests`);
  server.close(() => {
    close().finally(() => process.exit(0));
  });
  if ('closeIdleConnections' in server) server.closeIdleConnections();
  setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
