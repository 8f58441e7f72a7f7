import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream saw of one request. */
export interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** Request body, read whole (tests send small bodies unless they say otherwise). */
  body: Buffer;
}

export type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

/**
 * A real HTTP server on 127.0.0.1 that sends no CORS headers, records every
 * request, and answers by path prefix from `routes`. Unknown paths echo the
 * request as JSON.
 */
export class Upstream {
  readonly hits: Hit[] = [];
  readonly server: Server;
  routes: Record<string, Route>;

  constructor(routes: Record<string, Route> = {}) {
    this.routes = routes;
    this.server = createServer((req, res) => {
      void this.#handle(req, res);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const prefix = Object.keys(this.routes)
      .filter((p) => path.startsWith(p))
      .sort((a, b) => b.length - a.length)[0];
    const route = prefix ? this.routes[prefix] : undefined;
    // Streaming routes read the body themselves.
    if (route && (route as { streaming?: boolean }).streaming) {
      this.hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) });
      await route(req, res, Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    this.hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (route) {
      await route(req, res, body);
      return;
    }
    const json = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: body.toString('base64'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  async start(host = '127.0.0.1'): Promise<this> {
    this.server.listen(0, host);
    await once(this.server, 'listening');
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => {});
  }
}

/** Marks a route that reads the request body itself (uploads, streaming). */
export function streaming(route: Route): Route {
  return Object.assign(route, { streaming: true });
}
