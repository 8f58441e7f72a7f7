import { once } from 'node:events';
import { type IncomingHttpHeaders, request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';

/**
 * A loopback server an attack aims at. It counts TCP connections, so a refusal
 * that still opened a connection (or sent one byte) is caught. It answers
 * anything with a 200, so a case that got through shows up in the status too.
 */
export class Trap {
  connections = 0;
  readonly host: string;
  readonly #server: Server;
  readonly #port: number;

  constructor(host: string, port: number) {
    this.host = host;
    this.#port = port;
    this.#server = createServer((socket) => {
      this.connections++;
      socket.on('error', () => {});
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\ntrap'));
    });
  }

  /** Listens on `host` (and the port given, 0 for any); resolves to null where the host cannot be bound. */
  static async open(host: string, port = 0): Promise<Trap | null> {
    const trap = new Trap(host, port);
    trap.#server.listen(trap.#port, host);
    const result = await Promise.race([
      once(trap.#server, 'listening').then(() => true),
      once(trap.#server, 'error').then(() => false),
    ]);
    return result ? trap : null;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    this.#server.close();
    await once(this.#server, 'close').catch(() => {});
  }
}

/** What the client saw. `body` is empty when the connection was cut. */
export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The connection was aborted mid-body. */
  cut: boolean;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length), in this many equal pieces. */
  chunks?: number;
}

/**
 * One request with node:http, which sends the path exactly as given and
 * allows headers (Upgrade, Transfer-Encoding, Keep-Alive ...) fetch refuses.
 */
export function send(base: string, path: string, options: SendOptions = {}): Promise<Exchange> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let cut = false;
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('aborted', () => {
          cut = true;
        });
        res.on('error', () => {
          cut = true;
        });
        res.on('close', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            cut: cut || !res.complete,
          }),
        );
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    if (body && options.chunks) {
      const size = Math.ceil(body.length / options.chunks);
      for (let i = 0; i < body.length; i += size) req.write(body.subarray(i, i + size));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Writes `bytes` on a fresh socket and returns all it reads until the server closes (or `waitMs` passes). */
export function rawExchange(base: string, bytes: string | Buffer, waitMs = 3_000): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let out = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (d) => {
      out += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    // Strings are bytes as written (latin1), so \xc3\xa9 sends two raw bytes.
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** The SPEC's error body, or null when the body is not one. */
export function errorCode(exchange: Exchange): string | null {
  try {
    return (JSON.parse(exchange.body) as { error?: string }).error ?? null;
  } catch {
    return null;
  }
}
