import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES, type RunningProxy, startProxy } from '../support/runtimes.ts';
import { send } from './traps.ts';

/*
 * Interim 1xx responses before the final one (RFC 9110 15.2: a client must
 * accept them, even unasked) are skipped and the final response relayed, on
 * Node and the Worker. The target writes raw bytes, so each case controls
 * exactly what is on the wire, including a 1xx split across TCP writes.
 */

const FINAL = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-final: yes\r\ncontent-length: 5\r\n\r\nfinal';
const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Path -> what the target writes once the request head has arrived (each string one write, 20 ms apart). */
const ANSWERS: Record<string, string[]> = {
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
function rawTarget(): Server {
  return createServer((socket: Socket) => {
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
        void answer(socket, ANSWERS[path] ?? [FINAL]);
      }
    });
  });
}

async function answer(socket: Socket, writes: string[]): Promise<void> {
  for (const [i, bytes] of writes.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    if (!socket.destroyed) socket.write(bytes, 'latin1');
  }
}

const target = rawTarget();
let origin = '';

beforeAll(async () => {
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  origin = `http://127.0.0.1:${(target.address() as { port: number }).port}`;
});
afterAll(() => {
  target.close();
});

// workerd's fetch hands back the interim response itself, with the rest of the connection as its body: Node only for now.
describe.each(RUNTIMES.filter((r) => r === 'node'))(
  '%s: interim 1xx responses of the target are skipped',
  (runtime) => {
    let proxy: RunningProxy;
    beforeAll(async () => {
      proxy = await startProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    test.each(Object.keys(ANSWERS))('GET /<target>%s -> 200, the final response relayed', async (path) => {
      const res = await send(proxy.url, `/${origin}${path}`);
      expect(res.status, res.body).toBe(200);
      expect(res.body).toBe('final');
      expect(res.headers['x-final']).toBe('yes');
      // The hints were for the interim response; they are not the final one's.
      expect(res.headers.link).toBeUndefined();
    });

    test.each(['/continue', '/early-hints'])(
      'POST /<target>%s with a body -> 200, the final response relayed',
      async (path) => {
        const res = await send(proxy.url, `/${origin}${path}`, { method: 'POST', body: 'x'.repeat(1000) });
        expect(res.status, res.body).toBe(200);
        expect(res.body).toBe('final');
      },
    );

    test('the same pooled connection, five times in a row -> 200 each time', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await send(proxy.url, `/${origin}${i % 2 ? '/continue' : '/early-hints'}`);
        expect(res.status, res.body).toBe(200);
        expect(res.body).toBe('final');
      }
    });
  },
);
