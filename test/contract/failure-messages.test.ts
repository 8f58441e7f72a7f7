import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closedPort as refusingPort } from '../support/ports.ts';
import { errorOf, raw } from '../support/raw-http.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy } from '../support/shared-proxy.ts';
import { selfSigned } from '../support/tls.ts';
import { Upstream } from '../support/upstream.ts';

/*
 * Issue 22 item 3: every upstream_failed / upstream_timeout message names the
 * URL that was fetched, scheme included, and the cause in words a new user can
 * act on. Every target here is on 127.0.0.1.
 */

async function listen<T extends Server | TcpServer>(server: T): Promise<T & { port: number }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}

describe.each(RUNTIMES)('%s: failure messages', (runtime) => {
  const plain = new Upstream({
    '/json': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    },
  });
  const servers: (Server | TcpServer)[] = [];
  let proxy: FreshProxy;
  let tlsPort = 0;
  let resetPort = 0;
  let silentPort = 0;
  let closedPort = 0;
  const origin = { origin: 'https://app.test' };

  const started = freshProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_TIMEOUT_MS: '1500' });
  beforeAll(async () => {
    await plain.start();
    const { key, cert } = await selfSigned();
    const tls = await listen(createHttpsServer({ key, cert }, (_req, res) => res.end('tls')));
    // Takes each request and closes the connection without a word.
    const reset = await listen(createTcpServer((socket) => socket.once('data', () => socket.destroy())));
    // Reads the request and never answers.
    const silent = await listen(createHttpServer(() => {}));
    servers.push(tls, reset, silent);
    tlsPort = tls.port;
    resetPort = reset.port;
    silentPort = silent.port;
    closedPort = await refusingPort();
    proxy = await started;
  });
  afterAll(async () => {
    await proxy?.stop();
    for (const server of servers) {
      if ('closeAllConnections' in server) server.closeAllConnections();
      server.close();
    }
    await plain.stop();
  });

  async function failure(path: string) {
    const res = await raw(proxy.url, path, { headers: origin });
    return { status: res.status, ...errorOf(res) };
  }

  test('GET /127.0.0.1:<plain http port>/json (no scheme, so https) -> 502 naming https://… and suggesting the http:// form', async () => {
    const { status, error, message } = await failure(`/127.0.0.1:${plain.port}/json`);
    expect([status, error]).toEqual([502, 'upstream_failed']);
    expect(message).toContain(`https://127.0.0.1:${plain.port}/json`);
    expect(message).toContain(`/http://127.0.0.1:${plain.port}/json`);
    expect(message).toMatch(
      runtime === 'node' ? /did not answer TLS[\s\S]*plain HTTP/ : /not speak TLS[\s\S]*plain HTTP/,
    );
  });

  test('GET /http://127.0.0.1:<closed port>/x -> 502 naming the URL: the connection was refused', async () => {
    const { status, error, message } = await failure(`/http://127.0.0.1:${closedPort}/x?a=1`);
    expect([status, error]).toEqual([502, 'upstream_failed']);
    expect(message).toContain(`http://127.0.0.1:${closedPort}/x?a=1`);
    // workerd reports a refused connection and a reset alike.
    expect(message).toMatch(runtime === 'node' ? /refused the connection/ : /was refused or closed before a response/);
  });

  test('GET /https://127.0.0.1:<port>/ with a self-signed certificate -> 502 naming the URL: the certificate', async () => {
    const { status, error, message } = await failure(`/https://127.0.0.1:${tlsPort}/`);
    expect([status, error]).toEqual([502, 'upstream_failed']);
    expect(message).toContain(`https://127.0.0.1:${tlsPort}/`);
    expect(message).toMatch(runtime === 'node' ? /certificate of 127\.0\.0\.1 could not be verified/ : /certificate/);
  });

  test('GET /http://127.0.0.1:<port>/ whose server closes the connection -> 502 naming the URL: closed before a response', async () => {
    const { status, error, message } = await failure(`/http://127.0.0.1:${resetPort}/`);
    expect([status, error]).toEqual([502, 'upstream_failed']);
    expect(message).toContain(`http://127.0.0.1:${resetPort}/`);
    expect(message).toMatch(
      runtime === 'node' ? /closed the connection before/ : /refused or closed before a response/,
    );
  });

  test('GET /http://127.0.0.1:<port>/slow that never answers -> 504 naming the URL and CORSWAY_TIMEOUT_MS', async () => {
    const { status, error, message } = await failure(`/http://127.0.0.1:${silentPort}/slow`);
    expect([status, error]).toEqual([504, 'upstream_timeout']);
    expect(message).toContain(`http://127.0.0.1:${silentPort}/slow`);
    expect(message).toMatch(/1500 ms \(CORSWAY_TIMEOUT_MS\)/);
  });
});
