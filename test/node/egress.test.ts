import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { corsway } from '../../src/index.ts';
import { noProxyMatcher } from '../../src/node/egress.ts';
import { egressFromEnv, nodeUpstream, type Resolve } from '../../src/node/upstream.ts';
import { INTERIM_ANSWERS, InterimTarget } from '../support/interim-target.ts';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { selfSigned } from '../support/tls.ts';
import { Upstream } from '../support/upstream.ts';

/**
 * A forward proxy on 127.0.0.1, as a company network would run: absolute-form
 * requests (`GET http://host/path`) and CONNECT tunnels. It resolves names from
 * its own table only and refuses anything that is not loopback, so no test
 * traffic ever leaves the machine.
 */
class ForwardProxy {
  /** `CONNECT host:port` or `GET http://host/path`, in arrival order. */
  readonly seen: string[] = [];
  readonly server: Server;
  /** `name` or `name:port` to `host` or `host:port` (a port replaces the one asked for). */
  readonly names: Record<string, string>;

  constructor(names: Record<string, string>) {
    this.names = { '127.0.0.1': '127.0.0.1', ...names };
    this.server = createServer((req, res) => {
      this.seen.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '');
      const address = this.names[url.host] ?? this.names[url.hostname];
      if (!address) {
        res.writeHead(502).end();
        return;
      }
      const [host, port = url.port] = address.split(':');
      const out = request(
        { host, port, method: req.method, path: url.pathname + url.search, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    this.server.on('connect', (req, socket, head) => {
      this.seen.push(`CONNECT ${req.url}`);
      socket.on('error', () => {});
      const [name = '', asked = ''] = (req.url ?? '').split(':');
      const address = this.names[req.url ?? ''] ?? this.names[name];
      if (!address) {
        socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
        return;
      }
      const [host = '', port = asked] = address.split(':');
      const tunnel = connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        tunnel.write(head);
        tunnel.pipe(socket);
        socket.pipe(tunnel);
      });
      tunnel.on('error', () => socket.destroy());
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => {});
  }
}

const upstream = new Upstream({
  '/plain': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  },
});
/** Stands for the public host at 93.184.216.34. */
const publicSite = new Upstream({
  '/plain': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('public');
  },
});
let forwardProxy: ForwardProxy;
/** A TLS server standing for public.test: it records the SNI of each handshake. */
let tlsSite: TlsServer;
const sni: string[] = [];

beforeAll(async () => {
  await upstream.start();
  await publicSite.start();
  // Only the forward proxy knows where the test names and the public address are.
  forwardProxy = await new ForwardProxy({
    'public.test': '127.0.0.1',
    'internal.test': '127.0.0.1',
    // What the egress proxy's own DNS now says of the name corsway checked as public.
    'flip.test': '127.0.0.1',
    [`93.184.216.34:${upstream.port}`]: `127.0.0.1:${publicSite.port}`,
    '93.184.216.34': '127.0.0.1',
  }).start();
  const { key, cert } = await selfSigned('public.test');
  tlsSite = createTlsServer({
    SNICallback: (name, done) => {
      sni.push(name);
      done(null, createSecureContext({ key, cert }));
    },
  });
  tlsSite.listen(0, '127.0.0.1');
  await once(tlsSite, 'listening');
});
afterAll(async () => {
  await forwardProxy.stop();
  await upstream.stop();
  await publicSite.stop();
  tlsSite.close();
});
afterEach(() => {
  forwardProxy.seen.length = 0;
  upstream.hits.length = 0;
  publicSite.hits.length = 0;
  sni.length = 0;
});

describe('Node server with HTTP_PROXY', () => {
  let proxy: RunningProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  test('GET /http://127.0.0.1:<port>/plain with HTTP_PROXY set -> 200, tunnelled through the egress proxy', async () => {
    proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', HTTP_PROXY: forwardProxy.url });
    const res = await fetch(`${proxy.url}/${upstream.origin}/plain`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(forwardProxy.seen).toEqual([`CONNECT 127.0.0.1:${upstream.port}`]);
    expect(upstream.hits.map((h) => h.url)).toEqual(['/plain']);
  });

  test('GET /http://127.0.0.1:<port>/plain with NO_PROXY=127.0.0.1 -> 200, connected directly', async () => {
    proxy = await startNode({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      HTTP_PROXY: forwardProxy.url,
      NO_PROXY: 'localhost,127.0.0.1',
    });
    const res = await fetch(`${proxy.url}/${upstream.origin}/plain`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(forwardProxy.seen).toEqual([]);
    expect(upstream.hits.map((h) => h.url)).toEqual(['/plain']);
  });

  test('HTTP_PROXY=proxy.internal:3128 (no scheme) -> startup stops, naming HTTP_PROXY', async () => {
    await expect(startNode({ HTTP_PROXY: 'proxy.internal:3128' })).rejects.toThrow(
      /exited with 1[\s\S]*HTTP_PROXY: expected a proxy URL/,
    );
  });
});

describe('Node server with HTTP_PROXY, a target sending interim 1xx responses first', () => {
  const target = new InterimTarget();
  let proxy: RunningProxy;
  /** What the egress proxy saw in this block (the file's afterEach clears it after each test). */
  const tunnels: string[] = [];
  afterEach(() => {
    tunnels.push(...forwardProxy.seen);
  });
  beforeAll(async () => {
    await target.start();
    proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', HTTP_PROXY: forwardProxy.url });
  });
  afterAll(async () => {
    await proxy?.stop();
    await target.stop();
  });

  test.each(Object.keys(INTERIM_ANSWERS))(
    'GET and POST /<target>%s through the egress tunnel -> 200, the final response relayed as on the direct path',
    async (path) => {
      for (const method of ['GET', 'POST']) {
        const res = await fetch(`${proxy.url}/${target.origin}${path}`, {
          method,
          body: method === 'POST' ? 'x'.repeat(1000) : null,
        });
        const body = await res.text();
        expect(res.status, body).toBe(200);
        expect(body).toBe('final');
        expect(res.headers.get('x-final')).toBe('yes');
        // The hints were for the interim response; they are not the final one's.
        expect(res.headers.get('link')).toBeNull();
      }
    },
  );

  test('every request above went through the egress proxy, over pooled tunnels to the target', () => {
    expect(tunnels.length).toBeGreaterThan(0);
    expect(new Set(tunnels)).toEqual(new Set([`CONNECT 127.0.0.1:${target.port}`]));
  });
});

describe('private-network guard with an egress proxy (names resolved by an injected resolver)', () => {
  const answers: Record<string, string[]> = {
    'internal.test': ['127.0.0.1'],
    'public.test': ['93.184.216.34'],
    'flip.test': ['93.184.216.34'],
    'mixed.test': ['93.184.216.34', '10.0.0.1'],
  };
  const resolve: Resolve = async (hostname) => answers[hostname] ?? [];

  function app(noProxy = '') {
    const { upstream: viaProxy } = nodeUpstream({
      allowPrivateNetwork: false,
      resolve,
      egress: { httpProxy: forwardProxy.url, httpsProxy: '', noProxy },
    });
    return corsway({ upstream: viaProxy });
  }

  test('GET /http://public.test:<port>/plain -> 200: the egress proxy is handed the checked address, the name stays in Host', async () => {
    const res = await app().fetch(new Request(`http://corsway.test/http://public.test:${upstream.port}/plain`));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('public');
    expect(forwardProxy.seen).toEqual([`CONNECT 93.184.216.34:${upstream.port}`]);
    expect(publicSite.hits.map((h) => h.headers.host)).toEqual([`public.test:${upstream.port}`]);
  });

  test('GET /http://flip.test:<port>/plain, a name the egress proxy resolves to an internal host -> the checked public address is reached, the internal host sees nothing', async () => {
    const res = await app().fetch(new Request(`http://corsway.test/http://flip.test:${upstream.port}/plain`));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('public');
    expect(forwardProxy.seen).toEqual([`CONNECT 93.184.216.34:${upstream.port}`]);
    expect(forwardProxy.seen.join()).not.toContain('flip.test');
    expect(upstream.hits).toEqual([]);
  });

  test('GET /https://public.test:<port>/ -> CONNECT to the checked address, TLS still names public.test (SNI, certificate check)', async () => {
    const { upstream: viaProxy } = nodeUpstream({
      allowPrivateNetwork: false,
      resolve,
      egress: { httpProxy: '', httpsProxy: forwardProxy.url, noProxy: '' },
    });
    const port = (tlsSite.address() as AddressInfo).port;
    const res = await corsway({ upstream: viaProxy }).fetch(
      new Request(`http://corsway.test/https://public.test:${port}/`),
    );
    expect(forwardProxy.seen).toEqual([`CONNECT 93.184.216.34:${port}`]);
    expect(sni).toEqual(['public.test']);
    // The test's certificate is self-signed: verified for the name, and refused.
    expect(res.status).toBe(502);
    expect(((await res.json()) as { message: string }).message).toContain(
      `https://public.test:${port}/ failed: the TLS certificate of public.test could not be verified`,
    );
  });

  test('GET /http://internal.test:<port>/plain -> 403 target_not_allowed, the egress proxy never asked', async () => {
    const res = await app().fetch(new Request(`http://corsway.test/http://internal.test:${upstream.port}/plain`));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('target_not_allowed');
    expect(forwardProxy.seen).toEqual([]);
    expect(upstream.hits).toEqual([]);
  });

  test('GET /http://mixed.test:<port>/plain -> 403 when any resolved address is private', async () => {
    const res = await app().fetch(new Request(`http://corsway.test/http://mixed.test:${upstream.port}/plain`));
    expect(res.status).toBe(403);
    expect(forwardProxy.seen).toEqual([]);
  });

  test('GET /http://internal.test:<port>/plain with NO_PROXY=internal.test -> 403: the direct path is guarded too', async () => {
    const res = await app('internal.test').fetch(
      new Request(`http://corsway.test/http://internal.test:${upstream.port}/plain`),
    );
    expect(res.status).toBe(403);
    expect(forwardProxy.seen).toEqual([]);
    expect(upstream.hits).toEqual([]);
  });
});

describe('egressFromEnv', () => {
  test('no HTTP_PROXY/HTTPS_PROXY -> null (direct connections, NO_PROXY alone changes nothing)', () => {
    expect(egressFromEnv({ NO_PROXY: 'example.com' })).toBeNull();
  });

  test('lower-case spellings win over upper-case ones, as in curl and undici', () => {
    expect(
      egressFromEnv({
        http_proxy: 'http://lower.internal:3128',
        HTTP_PROXY: 'http://upper.internal:3128',
        HTTPS_PROXY: 'http://secure.internal:3128',
        no_proxy: '.corp.example',
        NO_PROXY: 'ignored.example',
      }),
    ).toEqual({
      httpProxy: 'http://lower.internal:3128',
      httpsProxy: 'http://secure.internal:3128',
      noProxy: '.corp.example',
    });
  });

  test('every malformed proxy is named at once', () => {
    expect(() => egressFromEnv({ HTTP_PROXY: 'proxy:3128', HTTPS_PROXY: 'socks5://proxy:1080' })).toThrow(
      /HTTP_PROXY: expected a proxy URL[\s\S]*HTTPS_PROXY: expected a proxy URL/,
    );
  });
});

describe('noProxyMatcher: NO_PROXY is matched on the name the user wrote', () => {
  test.each([
    ['', 'http://api.example.com/', false],
    ['*', 'https://anything.example/', true],
    ['api.example.com', 'http://api.example.com/', true],
    ['API.example.com', 'http://api.example.com/', true],
    ['example.com', 'http://api.example.com/', true],
    ['.example.com', 'http://api.example.com/', true],
    ['*.example.com', 'https://a.b.example.com/', true],
    ['example.com', 'http://evil-example.com/', false],
    ['example.com:8080', 'http://example.com:8080/', true],
    ['example.com:8080', 'http://example.com/', false],
    ['example.com:443', 'https://example.com/', true],
    ['localhost, 127.0.0.1', 'http://127.0.0.1:3000/', true],
    ['localhost 10.0.0.0', 'http://10.0.0.1/', false],
  ])('NO_PROXY=%j, %s -> bypass %s', (noProxy, url, bypass) => {
    expect(noProxyMatcher(noProxy)(new URL(url))).toBe(bypass);
  });
});
