import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

/*
 * `Expect: 100-continue` (RFC 9110 10.1.1): a client waits for 100 Continue
 * before sending its body. An upload the proxy refuses anyway (a declared
 * Content-Length over CORSWAY_MAX_BODY_BYTES, a refused origin) must get its
 * refusal without being invited to send first. Raw sockets, so the interim
 * 100 on the wire is seen. In workerd the Worker answers no request
 * before its declared body arrived (workerd sends no 100 Continue, and the
 * Worker's refusal waits for the unread body, see src/worker/main.ts), so the
 * refusal cases run on Node; on Cloudflare the edge answers Expect itself.
 */

const upstream = new Upstream();

/** Sends a request head, reads for `ms`, then (if `body`) sends the body and reads until the server is done. */
function exchange(base: string, head: string, body?: string, ms = 1_000): Promise<{ before: string; after: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname);
    let out = '';
    let before = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.write(head);
    setTimeout(() => {
      before = out;
      if (body === undefined || socket.destroyed) {
        socket.destroy();
        resolve({ before, after: '' });
        return;
      }
      socket.write(body);
      setTimeout(() => {
        socket.destroy();
        resolve({ before, after: out.slice(before.length) });
      }, 1_500);
    }, ms);
  });
}

beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

describe.each(RUNTIMES)('%s: Expect: 100-continue', (runtime) => {
  let proxy: FreshProxy;
  let host = '';
  const started = freshProxy(runtime, {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_MAX_BODY_BYTES: '1024',
    CORSWAY_BLOCK_ORIGINS: 'https://blocked.example',
  });
  beforeAll(async () => {
    proxy = await started;
    host = new URL(proxy.url).host;
  });

  const post = (path: string, length: number, origin = 'https://app.example') =>
    `POST /${upstream.origin}${path} HTTP/1.1\r\nhost: ${host}\r\norigin: ${origin}\r\ncontent-type: text/plain\r\ncontent-length: ${length}\r\nexpect: 100-continue\r\n\r\n`;

  // Registered on Node only (see above): a case that cannot run on a runtime is not listed for it.
  const refusals = runtime === 'node' ? test : () => {};

  refusals(
    'POST with Content-Length over CORSWAY_MAX_BODY_BYTES -> 413 body_too_large, never 100 Continue',
    async () => {
      const before = upstream.hits.length;
      const { before: seen } = await exchange(proxy.url, post('/sink', 50_000_000));
      expect(seen).toMatch(/^HTTP\/1\.1 413 /);
      expect(seen).not.toMatch(/100 Continue/i);
      expect(seen).toMatch(/"error":"body_too_large"/);
      expect(seen).toMatch(/\r\naccess-control-allow-origin: https:\/\/app\.example\r\n/i);
      expect(upstream.hits.length).toBe(before);
    },
  );

  refusals('POST from a blocked origin -> 403 origin_not_allowed, never 100 Continue', async () => {
    const { before: seen } = await exchange(proxy.url, post('/sink', 10, 'https://blocked.example'));
    expect(seen).toMatch(/^HTTP\/1\.1 403 /);
    expect(seen).not.toMatch(/100 Continue/i);
  });

  test('POST with a body within the limit -> 100 Continue (Node), then the body is forwarded whole -> 200', async () => {
    const before = upstream.hits.length;
    const { before: seen, after } = await exchange(proxy.url, post('/sink', 11), 'hello world');
    // workerd sends no 100 Continue at all: the client sends its body once it stops waiting.
    expect(seen).toBe(runtime === 'node' ? 'HTTP/1.1 100 Continue\r\n\r\n' : '');
    expect(after).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstream.hits.slice(before).map((h) => h.body.toString())).toEqual(['hello world']);
  });
});
