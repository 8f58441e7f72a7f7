import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { rawExchange, send } from './traps.ts';

/*
 * The Node server's own limits (src/node/server.ts SERVER_LIMITS): slow or idle
 * clients cannot hold sockets forever, and floods of garbage leave it serving.
 */

function open(proxy: RunningProxy): Promise<Socket> {
  const { hostname, port } = new URL(proxy.url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  return once(socket, 'connect').then(() => socket);
}

/** Everything the server writes until it closes the socket. */
function readUntilClosed(socket: Socket): Promise<string> {
  let out = '';
  socket.on('data', (d: Buffer) => {
    out += d.toString('latin1');
  });
  return once(socket, 'close').then(() => out);
}

describe('node: server limits', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startNode({});
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  // The two deadlines run side by side: each is seconds of waiting on its own socket.
  test.concurrent('a client trickling its headers one byte a second (slowloris) -> 408, the socket closed', async () => {
    const socket = await open(proxy);
    const closed = readUntilClosed(socket);
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ');
    // Well-behaved per byte, never finishing: only a whole-headers deadline stops it.
    const drip = setInterval(() => socket.write('a'), 1_000);
    try {
      // Node answers 408 when it can; either way the server closes the socket.
      expect(await closed).toMatch(/^(HTTP\/1\.1 408 [\s\S]*)?$/);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  }, 45_000);

  test.concurrent('an idle keep-alive connection -> closed by the server', async () => {
    const socket = await open(proxy);
    const closed = readUntilClosed(socket);
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 200 /);
  }, 45_000);

  test('100 connections of garbage at once -> each refused, then GET /healthz -> 200', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => rawExchange(proxy.url, `\x16\x03\x01garbage ${i}\r\n\r\n`)),
    );
    for (const answer of answers) expect(answer === '' || /^HTTP\/1\.1 4\d\d /.test(answer)).toBe(true);
    expect((await send(proxy.url, '/healthz')).status).toBe(200);
  });

  test('GET /healthz with 200 headers of 100 bytes (20 KiB) -> 431, then GET /healthz -> 200', async () => {
    const headers = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)]));
    expect((await send(proxy.url, '/healthz', { headers })).status).toBe(431);
    expect((await send(proxy.url, '/healthz')).status).toBe(200);
  });
});
