import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { Config, Listen } from '../config/config.ts';
import { ProxyError, refusal } from '../core/errors.ts';
import { createProxy } from '../core/proxy.ts';
import type { Upstream } from '../core/upstream.ts';
import { memoryByteLimiter } from '../limiters/bandwidth.ts';
import { memoryLimiter, usesBudgets } from '../limiters/rate-limit.ts';
import { accessLogger } from '../observe/access-log.ts';
import { queuedDeadlines } from './deadlines.ts';
import { lazyListener } from './lazy-listener.ts';
import { nodeListener } from './listener.ts';
import { announce, listenFailure } from './startup.ts';
import { NODE_BODIES, type NodeBody } from './stream-body.ts';
import { egressFromEnv, nodeUpstream } from './upstream.ts';

/** The same upstream, handing out web streams as the app's upstreams do. */
function webBodies(upstream: Upstream<NodeBody>): Upstream {
  return async (request) => {
    const { status, headers, body } = await upstream(request);
    return { status, headers, body: body?.stream() ?? null };
  };
}

/** The in-memory cache shared by the fast path and the app, loaded only when CORSWAY_CACHE is on. */
async function nodeCache(cacheBytes: number, upstream: Upstream<NodeBody>) {
  const [{ createCache, maxEntryBytes }, { memoryStore }] = await Promise.all([
    import('../cache/layer.ts'),
    import('../cache/store.ts'),
  ]);
  return createCache(upstream, {
    store: memoryStore(cacheBytes),
    maxEntryBytes: maxEntryBytes(cacheBytes),
    bodies: NODE_BODIES,
  });
}

/** How long in-flight requests may finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Limits that keep slow or oversized clients (slowloris) from holding sockets:
 * Node answers 408 when headers or the whole request arrive too slowly, and
 * 431 when the request line plus headers exceed `maxHeaderSize`.
 */
const SERVER_LIMITS = {
  headersTimeout: 15_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16 * 1024,
  // How often Node enforces the two timeouts above (its default is 30 s).
  connectionsCheckingInterval: 1_000,
};

/** Sends `100 Continue` when the request body is first read, unless an answer was sent already. */
function continueOnRead(req: IncomingMessage, res: ServerResponse): void {
  const read = req._read;
  req._read = function (this: IncomingMessage, size: number) {
    req._read = read;
    if (!res.headersSent) res.writeContinue();
    read.call(this, size);
  };
}

/**
 * Serves the proxy from this process: the whole server of `npm start`, or one
 * worker of several under `CORSWAY_WORKERS`, whose primary announces the port.
 * @throws ConfigError when HTTP_PROXY, HTTPS_PROXY or NO_PROXY is malformed (main.ts reports it).
 */
export async function serve(config: Config, listen: Listen): Promise<void> {
  const egress = egressFromEnv(process.env);
  const { upstream, socketUpstream, close } = nodeUpstream({ ...config, egress });
  // What a configuration does not use is not imported (docs/decisions/idle-rss.md).
  const metrics = config.metrics ? (await import('../observe/metrics.ts')).createMetrics() : undefined;
  // Without a URL, budgets stay in this process's memory.
  // Loaded only when used: the Redis client alone adds about 24 MB of resident memory.
  const budgets = usesBudgets(config);
  const redis =
    config.redisUrl && budgets
      ? (await import('../limiters/redis.ts')).redisLimiter(config.redisUrl, budgets, config.rateLimitFailure)
      : undefined;
  const limiter = redis ?? (budgets ? memoryLimiter(budgets) : undefined);
  const bytes = redis?.bytes ?? (budgets ? memoryByteLimiter() : undefined);
  const log = accessLogger(config.logLevel, (line) => process.stdout.write(line));

  // One cache for both paths: the fast path's socket bodies and the app's web streams.
  const cache = config.cache ? await nodeCache(config.cacheBytes, socketUpstream) : null;
  // One proxy for the process: the listener's fast path and the app's pages share its budgets, metrics and cache.
  const proxy = createProxy(config, {
    upstream: cache?.upstream ?? socketUpstream,
    limiter,
    bytes,
    log,
    metrics,
    // node:http resets a connection answered while the client still sends.
    drainUploads: true,
    deadlines: queuedDeadlines,
  });
  // The app (Hono, its adapter, the help and diagnose pages) answers only the
  // app's own pages: it loads on the first request to one.
  const pages = lazyListener(async () => {
    const [{ createApp }, { getRequestListener }] = await Promise.all([
      import('../app.ts'),
      import('@hono/node-server'),
    ]);
    const app = createApp(config, {
      upstream,
      proxy,
      cache: cache ? { upstream: webBodies(cache.upstream), stats: cache.stats } : undefined,
      limiter,
      bytes,
      log,
      metrics,
      clientAddress: (c: Context<{ Bindings: HttpBindings }>) => c.env.incoming.socket.remoteAddress ?? '',
      health: redis?.problem,
    });
    return getRequestListener(app.fetch);
  });

  const listener = nodeListener(proxy, config, pages);
  const server = createServer(SERVER_LIMITS, listener);
  // Expect: 100-continue: the body is invited only once the proxy reads it, so a
  // refusal (a declared Content-Length over the limit, a refused origin) comes first.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueOnRead(req, res);
    listener(req, res);
  });
  const failed = (error: NodeJS.ErrnoException) => exitUnlistened(listenFailure(error, listen));
  server.once('error', failed);
  server.listen(listen.port, listen.host, () => {
    server.off('error', failed);
    if (cluster.isWorker) return;
    const { address, port } = server.address() as AddressInfo;
    const { line, warning } = announce(address, port, config.allowPrivateNetwork);
    console.log(line);
    if (warning) console.error(warning);
  });
  if (metrics) {
    server.on('connection', (socket: import('node:net').Socket) => {
      metrics.connectionOpened();
      socket.once('close', () => metrics.connectionClosed());
    });
  }

  // Node hands CONNECT to a 'connect' listener, never to the app (and a Request
  // cannot carry that method): refuse it here with the app's own 405.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    refuseOnSocket(
      socket,
      new ProxyError('method_not_allowed', 'CONNECT requests are not proxied.'),
      req.headers.origin,
    );
  });
  // What node:http refuses before any listener sees a request (oversized or
  // malformed heads, slow clients) is answered in the SPEC's JSON too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    socket.on('error', () => {});
    const refused = clientRefusal(error.code);
    // A response already under way on this socket cannot be followed by another.
    const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (refused && socket.writable && !busy) refuseOnSocket(socket, refused, undefined);
    else socket.destroy();
  });

  let stopping = false;
  function shutdown(signal: string): void {
    // A terminal's Ctrl-C reaches every worker twice: itself, then from the primary.
    if (stopping) return;
    stopping = true;
    if (!cluster.isWorker) console.log(`corsway: ${signal} received, finishing in-flight requests`);
    // A connection whose response ends after this is kept open by its client
    // (for seconds: the Keep-Alive hint), and close() waits for it; so idle
    // ones are closed again and again until none is left.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearInterval(sweep);
      redis?.close();
      close().finally(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Exit 1 with `message`; a cluster worker hands it to the primary, which says it once for all workers. */
function exitUnlistened(message: string): void {
  if (cluster.isWorker && process.send) {
    process.send({ corswayListenFailure: message }, () => process.exit(1));
    return;
  }
  console.error(message);
  process.exit(1);
}

/** The SPEC's refusal for what node:http's parser rejects; null when the client is gone. */
function clientRefusal(code: string | undefined): ProxyError | null {
  if (code === 'ECONNRESET') return null;
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new ProxyError(
      'headers_too_large',
      `The request line and headers are larger than this proxy reads (${SERVER_LIMITS.maxHeaderSize} bytes).`,
    );
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new ProxyError('request_timeout', 'The request did not arrive in time; the connection is closed.');
  }
  return new ProxyError('invalid_target', 'The request is not well-formed HTTP/1.1, so the proxy cannot read it.');
}

/** Writes a refusal straight to a socket no listener took, and closes it. */
function refuseOnSocket(socket: Duplex, error: ProxyError, origin: string | string[] | undefined): void {
  const { status, headers, body } = refusal(error, typeof origin === 'string' ? origin : null);
  const head = headers
    .pairs()
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
