import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/*
 * A target that sends interim 1xx responses before its final one (RFC 9110
 * 15.2: a client must accept them, even unasked). It writes raw bytes, so each
 * case controls exactly what is on the wire, including a 1xx split across TCP
 * writes.
 */

const FINAL = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-final: yes\r\ncontent-length: 5\r\n\r\nfinal';
const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Path -> what the target writes once the request head has arrived (each string one write, 20 ms apart). */
export const INTERIM_ANSWERS: Record<string, string[]> = {
  '/early-hints': [EARLY_HINTS, FINAL],
  '/continue': [CONTINUE, FINAL],
  '/continue-then-hints': [CONTINUE, EARLY_HINTS, 'HTTP/1.1 102 Processing\r\n\r\n', FINAL],
  '/together': [CONTINUE + EARLY_HINTS + FINAL],
  '/split': [
    'HTTP/1.1 1',
    '00 Contin',
    'ue\r\n\r',
    '\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-final: yes\r\n\r\nfinal',
  ],
};

/** Keep-alive: every request on a connection gets its answer, so a reused connection sees interim responses too. */
export class InterimTarget {
  readonly #sockets = new Set<Socket>();
  readonly #server: Server = createServer((socket: Socket) => {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        const path = /^[A-Z]+ (\S+)/.exec(head)?.[1] ?? '/';
        void answer(socket, INTERIM_ANSWERS[path] ?? [FINAL]);
      }
    });
  });

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return this;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

async function answer(socket: Socket, writes: string[]): Promise<void> {
  for (const [i, bytes] of writes.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    if (!socket.destroyed) socket.write(bytes, 'latin1');
  }
}
