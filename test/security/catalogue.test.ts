import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES, type Runtime } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy, type SharedProxy, sharedProxy } from '../support/shared-proxy.ts';
import { type Exchange, errorCode, rawExchange, send, Trap } from './traps.ts';

/*
 * The hostile-input catalogue: one line per attack, run against the real Node
 * server and the Worker in `wrangler dev`. Every case aims at loopback traps
 * (or at an upstream that is allowed) and every case ends by asserting that no
 * trap saw a single connection: a right status with a hit is a failure.
 * Non-public destinations outside loopback (169.254.169.254 ...) are never
 * sent to a real proxy; ssrf-ranges.test.ts proves those refused in-process.
 *
 * Placeholders: {trap} 127.0.0.1, {trap2} 127.0.0.2, {trap3} 127.1.2.3,
 * {trap6} [::1] (trap ports); {up} the allowed upstream on 127.0.0.1;
 * {raw} an upstream on 127.0.0.1 that writes malformed HTTP; {bad} the
 * allowed host whose traps listen on the Fetch standard's bad ports.
 */

interface Case {
  /** `METHOD /path -> STATUS [code]`: the request sent and the answer expected. */
  line: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  /** Where the case applies. @default every runtime */
  only?: Runtime;
  /** What else must hold of the answer. */
  check?: (res: Exchange, ctx: Context) => void | Promise<void>;
}

interface Context {
  runtime: Runtime;
  /** What the allowed upstream received, newest last. */
  hits: { url: string; headers: Record<string, string | string[] | undefined>; body: string }[];
}

/** Destinations on loopback in every spelling; the proxy runs with its defaults. */
const GUARDED: Case[] = [
  { line: 'GET /http://127.0.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://2130706433:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0x7f000001:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0X7F.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://017700000001:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0177.0.0.01:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0x7f.0.0x0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.1.:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://%31%32%37.0.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://%EF%BC%91%EF%BC%92%EF%BC%97.%EF%BC%90.%EF%BC%90.%EF%BC%91:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127%E3%80%820%E3%80%820%E3%80%821:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://localhost:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://LocalHost.:{trap}/ -> 403 target_not_allowed' },
  {
    line: 'GET /http://%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%81%EF%BD%8C%EF%BD%88%EF%BD%8F%EF%BD%93%EF%BD%94:{trap}/ -> 403 target_not_allowed',
  },
  { line: 'GET /http://trap.localhost:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://a.b.c.localhost.:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0.0.0.0:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[::ffff:127.0.0.1]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[::ffff:7f00:1]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[0:0:0:0:0:ffff:127.0.0.1]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[::127.0.0.1]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[64:ff9b::127.0.0.1]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[2002:7f00:1::]:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[::1]:{trap6}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[0:0:0:0:0:0:0:1]:{trap6}/ -> 403 target_not_allowed' },
  { line: 'GET /http://[::]:{trap6}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.2:{trap2}/ -> 403 target_not_allowed' },
  { line: 'GET /http://2130706434:{trap2}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.1.2.3:{trap3}/ -> 403 target_not_allowed' },
  { line: 'GET /http://0x7f010203:{trap3}/ -> 403 target_not_allowed' },
  { line: 'GET /https://127.0.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /127.0.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http:/127.0.0.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http%3A%2F%2F127.0.0.1%3A{trap}%2F -> 403 target_not_allowed' },
  { line: 'GET /?url=http%3A%2F%2F2130706433%3A{trap}%2F -> 403 target_not_allowed' },
  { line: 'POST /http://127.0.0.1:{trap}/ -> 403 target_not_allowed', body: 'secret=1' },
  { line: 'DELETE /http://localhost:{trap}/admin -> 403 target_not_allowed' },
  { line: 'OPTIONS /http://127.1:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://evil.example@127.0.0.1:{trap}/ -> 400 invalid_target' },
  // The diagnosis page asks the target too, under the same rules.
  { line: 'GET /diagnose/http://2130706433:{trap}/?origin=https://app.example -> 403 target_not_allowed' },
  { line: 'GET /diagnose/http://localhost:{trap}/?origin=https://app.example&method=PUT -> 403 target_not_allowed' },
  {
    line: 'GET /http://trap.localhost:{trap}/ -> 403 target_not_allowed without echoing an address it resolves to',
    check: (res) => {
      expect(res.body).not.toContain('127.0.0.1');
      expect(res.body).not.toContain('::1');
    },
  },
];

const isRefusal = (res: Exchange) => res.status >= 400 && res.status < 600;

/**
 * Everything else, against a proxy that may reach private addresses but only
 * the hosts 127.0.0.1 and {bad} (CORSWAY_ALLOW_TARGETS), with 1 KiB
 * request and 4 KiB response limits.
 */
const OPEN: Case[] = [
  // CORSWAY_ALLOW_TARGETS on the first URL and on every hop.
  { line: 'GET /http://localhost:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.2:{trap2}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.1:{up}/redirect?to=http://localhost:{trap}/ -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.1:{up}/redirect?to=http://127.0.0.2:{trap2}/ -> 403 target_not_allowed' },
  {
    line: 'POST /http://127.0.0.1:{up}/redirect307?to=http://[::1]:{trap6}/ -> 403 target_not_allowed',
    body: 'password=hunter2',
  },
  { line: 'GET /http://127.0.0.1:{up}/redirect?to=file:///etc/passwd -> 403 target_not_allowed' },
  { line: 'GET /http://127.0.0.1:{up}/redirect?to=gopher://127.0.0.1:{trap}/_x -> 403 target_not_allowed' },
  // Bad ports (Fetch standard), even where the host is allowed.
  { line: 'GET /http://{bad}:6666/ -> 403 target_not_allowed', check: mentionsPort },
  { line: 'GET /http://{bad}:10080/ -> 403 target_not_allowed', check: mentionsPort },
  { line: 'GET /{bad}:6669/ -> 403 target_not_allowed', check: mentionsPort },
  { line: 'GET /http://127.0.0.1:{up}/redirect?to=http://{bad}:6666/ -> 403 target_not_allowed' },
  // Methods.
  { line: 'TRACE /http://127.0.0.1:{up}/ -> 405 method_not_allowed' },
  // workerd does not know the method either and answers 501 before the Worker.
  { line: 'TRACK /http://127.0.0.1:{up}/ -> 501 from workerd', only: 'worker' },
  // Node's HTTP parser does not know the method and refuses it before the app.
  { line: 'TRACK /http://127.0.0.1:{up}/ -> 400 from the HTTP parser', only: 'node' },
  // Credentials and the client's address never cross.
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Cookie -> 200 and no Cookie upstream',
    headers: { cookie: 'session=s3cr3t' },
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers.cookie).toBeUndefined(),
  },
  {
    line: 'GET /http://127.0.0.1:{up}/set-cookie -> 200 without Set-Cookie',
    check: (res) => {
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['set-cookie2']).toBeUndefined();
      expect(res.headers['access-control-expose-headers']).not.toMatch(/set-cookie/);
    },
  },
  {
    line: 'GET /http://127.0.0.1:{up}/credentials with Origin -> 200 without Access-Control-Allow-Credentials',
    headers: { origin: 'https://app.example' },
    check: (res) => {
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    },
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with forged forwarding headers -> 200 and none upstream',
    headers: {
      'x-forwarded-for': '8.8.8.8',
      'x-forwarded-host': 'admin.internal',
      forwarded: 'for=8.8.8.8',
      'x-real-ip': '8.8.8.8',
      'true-client-ip': '8.8.8.8',
      'cf-connecting-ip': '8.8.8.8',
    },
    check: (_res, ctx) => {
      const seen = Object.keys(ctx.hits.at(-1)?.headers ?? {});
      for (const name of ['x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'true-client-ip']) {
        expect(seen).not.toContain(name);
      }
      expect(ctx.hits.at(-1)?.headers['cf-connecting-ip'] ?? '').not.toContain('8.8.8.8');
    },
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo -> 200 and no X-Forwarded-For added',
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers['x-forwarded-for']).toBeUndefined(),
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Proxy-Authorization -> 200 and none upstream',
    headers: { 'proxy-authorization': 'Basic cHJveHk6cGFzcw==' },
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers['proxy-authorization']).toBeUndefined(),
  },
  // Headers that make fetch throw are dropped, never a 5xx.
  { line: 'GET /http://127.0.0.1:{up}/echo with Keep-Alive -> 200', headers: { 'keep-alive': 'timeout=5, max=1000' } },
  {
    // Forwarded without its hop-by-hop Upgrade, the handshake would silently become a plain GET.
    line: 'GET /http://127.0.0.1:{up}/echo with Upgrade: websocket -> 405 method_not_allowed, nothing upstream',
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    check: (res, ctx) => {
      expect(res.body).toMatch(/WebSocket/);
      expect(ctx.hits.some((hit) => hit.headers['sec-websocket-key'])).toBe(false);
    },
  },
  {
    line: 'POST /http://127.0.0.1:{up}/echo with Transfer-Encoding: chunked -> 200 and the body intact',
    body: 'hello chunks',
    chunked: true,
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.body).toBe('hello chunks'),
  },
  {
    line: 'POST /http://127.0.0.1:{up}/echo with Expect: 100-continue -> 200',
    headers: { expect: '100-continue', 'content-type': 'text/plain' },
    body: 'x',
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Proxy-Connection -> 200 without it upstream',
    headers: { 'proxy-connection': 'keep-alive' },
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers['proxy-connection']).toBeUndefined(),
  },
  { line: 'GET /http://127.0.0.1:{up}/echo with TE: trailers -> 200', headers: { te: 'trailers' } },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Connection: close, x-secret -> 200 without X-Secret upstream',
    headers: { connection: 'close, x-secret', 'x-secret': 'internal' },
    // workerd strips Connection before the Worker sees it, so it cannot know the names.
    only: 'node',
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers['x-secret']).toBeUndefined(),
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Host: 169.254.169.254 -> 200 with the target as Host',
    headers: { host: '169.254.169.254' },
    check: (_res, ctx) => expect(ctx.hits.at(-1)?.headers.host).toMatch(/^127\.0\.0\.1:\d+$/),
  },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with Via: 1.1 corsway -> 508 loop_detected',
    headers: { via: '1.1 corsway' },
  },
  // Bounded resources.
  {
    line: 'POST /http://127.0.0.1:{up}/sink with 2 KiB and Content-Length -> 413 body_too_large',
    body: 'x'.repeat(2048),
  },
  {
    line: 'POST /http://127.0.0.1:{up}/sink with 3 KiB chunked -> 413 body_too_large',
    body: 'x'.repeat(3072),
    chunked: true,
  },
  { line: 'GET /http://127.0.0.1:{up}/big -> 502 upstream_failed' },
  {
    line: 'GET /http://127.0.0.1:{up}/big-chunked -> 200 cut off after 4 KiB',
    check: (res, ctx) => {
      expect(res.body.length).toBeLessThanOrEqual(4096);
      // wrangler dev ends the cut response cleanly; Node aborts the connection.
      if (ctx.runtime === 'node') expect(res.cut).toBe(true);
    },
  },
  { line: 'GET /http://127.0.0.1:{up}/ + 9000 characters -> 400 invalid_target' },
  {
    line: 'GET /http://127.0.0.1:{up}/echo with a 20 KiB header -> 431',
    headers: { 'x-big': 'a'.repeat(20_000) },
  },
  // Headers that act on the proxy's own origin.
  {
    line: 'GET /http://127.0.0.1:{up}/origin-headers -> 200 sandboxed, without HSTS, Clear-Site-Data, NEL ...',
    check: (res) => {
      for (const name of [
        'strict-transport-security',
        'clear-site-data',
        'service-worker-allowed',
        'nel',
        'report-to',
        'alt-svc',
      ]) {
        expect(res.headers[name]).toBeUndefined();
      }
      expect(res.headers['content-security-policy']).toContain('sandbox');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    },
  },
  // Malformed targets.
  { line: 'GET /http://exa%0d%0ample.com/ -> 400 invalid_target' },
  { line: 'GET /http%3A%2F%2F127.0.0.1%3A{up}%2F%0D%0AX-Injected%3A%201 -> 400 invalid_target' },
  { line: 'GET /?url=http%3A%2F%2F127.0.0.1%00.example%2F -> 400 invalid_target' },
  { line: 'GET /http%3A%2F%2F127.0.0.1%zz -> 400 invalid_target' },
  { line: 'GET /http://127.0.0.1:99999/ -> 400 invalid_target' },
  { line: 'GET /http://127.0.0.1:0/ -> 400 invalid_target' },
  { line: 'GET /http://127.0.0.1:18446744073709551617/ -> 400 invalid_target' },
  { line: 'GET /http://user:pass@127.0.0.1:{up}/ -> 400 invalid_target' },
  { line: 'GET /ftp://127.0.0.1/ -> 400 invalid_target' },
  { line: 'GET /javascript:alert(1) -> 400 invalid_target' },
  { line: 'GET /file:///etc/passwd -> 400 invalid_target' },
  { line: 'GET /http://[::1 -> 400 invalid_target' },
  { line: 'GET /http://%ZZ.example/ -> 400 invalid_target' },
  { line: 'GET /http://com/ -> 400 invalid_target' },
  // Malformed upstream answers become a 502, and the server keeps serving.
  { line: 'GET /http://127.0.0.1:{raw}/bad-status -> 502 upstream_failed' },
  { line: 'GET /http://127.0.0.1:{raw}/nul-in-header -> 502 upstream_failed' },
  { line: 'GET /http://127.0.0.1:{raw}/no-colon -> 502 upstream_failed' },
  // workerd reads such an answer by Transfer-Encoding (RFC 9112 6.3) and re-frames it.
  { line: 'GET /http://127.0.0.1:{raw}/cl-and-te -> 502 upstream_failed', only: 'node' },
  { line: 'GET /http://127.0.0.1:{raw}/garbage -> 502 upstream_failed' },
  { line: 'GET /http://127.0.0.1:{raw}/hang-up -> 502 upstream_failed' },
];

function mentionsPort(res: Exchange): void {
  expect(JSON.parse(res.body).message).toMatch(/port/i);
}

/** Raw bytes on the socket: the server answers 4xx and keeps serving. */
const SOCKET: { name: string; bytes: string; expect: RegExp; only?: Runtime }[] = [
  {
    name: 'GET /http://127.0.0.1:{up}/echo with raw UTF-8 bytes in a header value -> 200, not a 5xx',
    bytes: 'GET /http://127.0.0.1:{up}/echo HTTP/1.1\r\nhost: x\r\nx-name: caf\xc3\xa9\r\nconnection: close\r\n\r\n',
    expect: /^HTTP\/1\.1 200 /,
  },
  {
    name: 'CONNECT 127.0.0.1:{up} -> 405 method_not_allowed, then GET /healthz -> 200',
    bytes: 'CONNECT 127.0.0.1:{up} HTTP/1.1\r\nhost: 127.0.0.1:{up}\r\n\r\n',
    expect: /^HTTP\/1\.1 405 [\s\S]*"error":"method_not_allowed"/,
    only: 'node',
  },
  {
    name: 'raw garbage on the socket -> 4xx/5xx, then GET /healthz -> 200',
    bytes: 'GARBAGE\r\n\r\n',
    expect: /^HTTP\/1\.1 [45]\d\d /,
  },
  {
    name: 'a NUL byte in the request line -> 400, then GET /healthz -> 200',
    bytes: 'GET /http://127.0.0.1\0/ HTTP/1.1\r\nhost: x\r\n\r\n',
    expect: /^HTTP\/1\.1 400 /,
  },
  {
    name: 'a bare LF inside a header -> 400, then GET /healthz -> 200',
    bytes: 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: b\nc\r\n\r\n',
    expect: /^HTTP\/1\.1 400 /,
  },
  {
    name: 'Content-Length and Transfer-Encoding together (smuggling) -> 400, then GET /healthz -> 200',
    bytes:
      'POST /http://127.0.0.1:1/ HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /http://127.0.0.1:{trap}/ HTTP/1.1\r\nhost: x\r\n\r\n',
    expect: /^HTTP\/1\.1 400 /,
    // workerd parses by Transfer-Encoding and serves what follows as a second request.
    only: 'node',
  },
];

/** Routes of the allowed upstream (127.0.0.1). */
function upstreamServer(hits: Context['hits']): Server {
  return createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('error', () => {});
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      const to = url.searchParams.get('to') ?? '';
      switch (url.pathname) {
        case '/redirect':
          res.writeHead(302, { location: to }).end();
          return;
        case '/redirect307':
          res.writeHead(307, { location: to }).end();
          return;
        case '/set-cookie':
          res.writeHead(200, { 'set-cookie': ['a=1; Path=/', 'b=2'], 'set-cookie2': 'c=3' }).end('ok');
          return;
        case '/credentials':
          res
            .writeHead(200, {
              'access-control-allow-origin': 'https://app.example',
              'access-control-allow-credentials': 'true',
            })
            .end('ok');
          return;
        case '/origin-headers':
          res
            .writeHead(200, {
              'content-type': 'text/html',
              'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
              'clear-site-data': '"*"',
              'service-worker-allowed': '/',
              nel: '{"report_to":"x","max_age":1}',
              'report-to': '{"group":"x"}',
              'alt-svc': 'h3=":443"',
            })
            .end('<script>alert(document.domain)</script>');
          return;
        case '/big':
          res.writeHead(200, { 'content-length': 8192 }).end('b'.repeat(8192));
          return;
        case '/big-chunked': {
          // 1 KiB every 20 ms: the proxy has started relaying when the limit is passed.
          res.writeHead(200, { 'content-type': 'text/plain' });
          let sent = 0;
          const drip = setInterval(() => {
            if (res.destroyed || sent++ === 8) {
              clearInterval(drip);
              res.end();
            } else res.write('c'.repeat(1024));
          }, 20);
          return;
        }
        default:
          res.writeHead(200, { 'content-type': 'text/plain' }).end('echo');
      }
    });
  });
}

/** Answers written byte by byte, as no well-behaved HTTP library would. */
const MALFORMED: Record<string, string> = {
  '/bad-status': 'HTTP/1.1 abc Nope\r\ncontent-length: 0\r\n\r\n',
  '/nul-in-header': 'HTTP/1.1 200 OK\r\nx-a: b\0c\r\ncontent-length: 2\r\n\r\nok',
  '/no-colon': 'HTTP/1.1 200 OK\r\nthis is not a header\r\ncontent-length: 2\r\n\r\nok',
  '/cl-and-te': 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
  '/garbage': '\x16\x03\x01\x02\x00garbage that is not HTTP at all\r\n\r\n',
  '/hang-up': '',
};

function malformedServer(): NetServer {
  return createNetServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (data) => {
      const path = /^[A-Z]+ (\S+)/.exec(data.toString('latin1'))?.[1] ?? '/';
      socket.end(MALFORMED[path] ?? '');
    });
  });
}

/**
 * The bad-port traps listen on fixed ports, so their loopback address is this
 * process's own: two test runs on one machine never contend for the same socket.
 */
const BAD_PORT_HOST = `127.3.${(process.pid >> 8) & 255}.${process.pid & 255}`;

const traps: Trap[] = [];
const ports: Record<string, number | string> = { bad: BAD_PORT_HOST };
const hits: Context['hits'] = [];
const upstream = upstreamServer(hits);
const malformed = malformedServer();

beforeAll(async () => {
  const bind = async (name: string, host: string, port = 0) => {
    const trap = await Trap.open(host, port);
    if (trap) traps.push(trap);
    else if (port) throw new Error(`cannot listen on ${host}:${port} for a trap`);
    // Without IPv6 loopback there is nothing to reach; the case still runs.
    ports[name] = trap?.port ?? 9;
  };
  await bind('trap', '127.0.0.1');
  await bind('trap2', '127.0.0.2');
  await bind('trap3', '127.1.2.3');
  await bind('trap6', '::1');
  for (const port of [6666, 6669, 10080]) await bind(`bad${port}`, BAD_PORT_HOST, port);
  upstream.listen(0, '127.0.0.1');
  malformed.listen(0, '127.0.0.1');
  await Promise.all([once(upstream, 'listening'), once(malformed, 'listening')]);
  ports.up = (upstream.address() as { port: number }).port;
  ports.raw = (malformed.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.all(traps.map((t) => t.close()));
  upstream.closeAllConnections();
  upstream.close();
  malformed.close();
});

/** Fills the placeholders of a case line. */
function fill(text: string): string {
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(ports[name]));
}

async function run(proxy: SharedProxy, c: Case): Promise<void> {
  const m = /^(\S+) (\S+)(?: \+ (\d+) characters)?.* -> (\d{3})(?: ([a-z]+_[a-z_]+))?/.exec(c.line);
  if (!m) throw new Error(`unparsable case: ${c.line}`);
  const [, method = '', rawPath = '', padding, status, code] = m;
  let path = fill(rawPath);
  if (padding) path += 'p'.repeat(Number(padding));
  const res = await send(proxy.url, path, {
    method,
    headers: c.headers,
    body: c.body,
    chunks: c.chunked ? 3 : undefined,
  });
  expect(res.status, res.body).toBe(Number(status));
  if (code) {
    expect(errorCode(res)).toBe(code);
    expect(res.headers['access-control-allow-origin']).toBeTruthy();
  }
  if (isRefusal(res)) {
    // No stack traces, no file paths of the proxy, no internal error names.
    expect(res.body).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+|TypeError|ECONN/);
  }
  await c.check?.(res, { hits, runtime: proxy.runtime });
}

describe.each(RUNTIMES)('%s: hostile input', (runtime) => {
  describe('guarded (defaults)', () => {
    let proxy: SharedProxy;
    const started = sharedProxy(runtime, {});
    beforeAll(async () => {
      proxy = await started;
    });
    afterEach(() => {
      for (const trap of traps) expect(trap.connections, `${trap.host}:${trap.port} was reached`).toBe(0);
    });

    if (runtime === 'worker') {
      test('wrangler.toml turns on global_fetch_strictly_public, and wrangler dev runs with it', async () => {
        const toml = await readFile(new URL('../../wrangler.toml', import.meta.url), 'utf8');
        expect(toml).toMatch(/^compatibility_flags = \[[^\]]*"global_fetch_strictly_public"/m);
        expect((await send(proxy.url, '/healthz')).status).toBe(200);
      });
    }

    test.each(GUARDED.filter((c) => !c.only || c.only === runtime).map((c) => [c.line, c] as const))(
      '%s',
      async (_line, c) => {
        await run(proxy, c);
      },
    );
  });

  describe("open (private network on, CORSWAY_ALLOW_TARGETS=127.0.0.1 and the bad ports' host, 1 KiB / 4 KiB limits)", () => {
    let proxy: FreshProxy;
    const started = freshProxy(runtime, {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_ALLOW_TARGETS: `127.0.0.1,${BAD_PORT_HOST}`,
      CORSWAY_MAX_BODY_BYTES: '1024',
      CORSWAY_MAX_RESPONSE_BYTES: '4096',
    });
    beforeAll(async () => {
      proxy = await started;
    });
    afterAll(async () => {
      await proxy?.stop();
    });
    afterEach(async () => {
      for (const trap of traps) expect(trap.connections, `${trap.host}:${trap.port} was reached`).toBe(0);
      // Whatever the case did, the server still serves.
      expect((await send(proxy.url, '/healthz')).status).toBe(200);
    });

    test.each(OPEN.filter((c) => !c.only || c.only === runtime).map((c) => [c.line, c] as const))(
      '%s',
      async (_line, c) => {
        await run(proxy, c);
      },
    );

    test.each(SOCKET.filter((s) => !s.only || s.only === runtime).map((s) => [s.name, s] as const))(
      '%s',
      async (_name, s) => {
        const answer = await rawExchange(proxy.url, fill(s.bytes));
        expect(answer).toMatch(s.expect);
      },
    );
  });
});
