import { Agent, type ClientRequest, type RequestOptions, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { partIndex } from '../../src/limiters/shard.ts';
import { InterimTarget } from '../support/interim-target.ts';
import type { RunningProxy } from '../support/runtimes.ts';
import { admitted, onePerPart, spendParts } from '../support/shards.ts';
import { runBundle } from '../support/shared-proxy.ts';
import { streaming, Upstream } from '../support/upstream.ts';
import { type Budgets, startWorkerd, type WorkerdOptions } from '../support/workerd.ts';

const ORIGIN = 'https://app.test';

const MAX_BODY = 1024 * 1024;

/**
 * For the enclosing suite: `upstream` started, then the run's Worker bundle in
 * plain workerd with `env` and `options`; both stopped after it. The result's
 * `url` is the Worker's, once the suite's hooks have run.
 */
function bundleSuite(
  upstream: Upstream,
  env: Record<string, string>,
  options?: WorkerdOptions,
): { readonly url: string } {
  let worker: RunningProxy | undefined;
  beforeAll(async () => {
    await upstream.start();
    worker = await startWorkerd(await runBundle(), env, options);
  });
  afterAll(async () => {
    await worker?.stop();
    await upstream.stop();
  });
  return {
    get url() {
      if (!worker) throw new Error('the suite Worker is read before its beforeAll');
      return worker.url;
    },
  };
}

interface Reply {
  status: number;
  body: string;
  /** Whether the request went over a connection an earlier request used. */
  reused: boolean;
}

/**
 * One request with `options`, its body sent by `send`; the answer read whole.
 * The request fails after 5 s without an answer, with `timeout` as the reason.
 */
function exchange(
  url: string,
  options: RequestOptions,
  send: (req: ClientRequest) => void,
  timeout = 'timed out',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error(timeout)));
    req.on('error', reject);
    send(req);
  });
}

/**
 * Sends headers declaring `declared` body bytes but only `sent` of them,
 * and reads the answer without ever finishing the upload.
 */
function partialUpload(url: string, declared: number, sent: number, agent?: Agent): Promise<Reply> {
  const headers = { origin: ORIGIN, 'content-length': String(declared), 'content-type': 'application/octet-stream' };
  return exchange(
    url,
    { method: 'POST', agent: agent ?? false, headers },
    (req) => req.write(Buffer.alloc(sent, 1)),
    'no answer within 5 s: the Worker waited for the body',
  );
}

function get(url: string, agent: Agent): Promise<Reply> {
  return exchange(url, { agent, headers: { origin: ORIGIN } }, (req) => req.end());
}

/** A refused upload sent whole over `agent`'s one connection (refused origin: answered before the body is read). */
function refusedUpload(url: string, agent: Agent, bytes: number): Promise<Reply> {
  return exchange(url, { method: 'POST', agent, headers: { origin: 'https://elsewhere.test' } }, (req) =>
    req.end(Buffer.alloc(bytes, 2)),
  );
}

/**
 * A chunked upload (no Content-Length) of `total` bytes; resolves once the
 * answer was read, which may come while the client is still sending (a write
 * error after it arrived is expected). `hold`: the client sends them and holds
 * the rest back until it has read the answer; an answer that waits for the
 * rest never comes, and the client gives up after 4 s, below the 5 s a proxy
 * waiting for uploads would wait. Otherwise the client writes all of it as
 * fast as the connection takes it.
 */
function chunkedUpload(url: string, total: number, hold: boolean): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', agent: false, headers: { origin: ORIGIN } }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, reused: false });
        req.destroy();
      });
      res.on('error', reject);
    });
    const limit = hold ? 4_000 : 20_000;
    req.setTimeout(limit, () => req.destroy(new Error(`no answer within ${limit} ms`)));
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, 3);
    let written = 0;
    const write = (): void => {
      while (written < total && !answered) {
        written += chunk.length;
        if (!req.write(chunk) && !hold) {
          req.once('drain', write);
          return;
        }
      }
      if (!answered && !hold) req.end();
    };
    write();
  });
}

/*
 * The bundle `wrangler deploy` ships, in plain `workerd serve`: what a
 * deployed Worker runs, without wrangler dev's local proxy and its
 * workarounds (.dev.vars is not read here, as it is not on deploy).
 */
describe('worker bundle in plain workerd', () => {
  const upstream = new Upstream({
    // Reads an upload to its end or its abort, whichever comes.
    '/sink': streaming(
      (req, res) =>
        new Promise<void>((resolve) => {
          req.on('data', () => {});
          req.on('error', resolve);
          req.on('end', () => {
            res.end();
            resolve();
          });
        }),
    ),
  });
  const worker = bundleSuite(upstream, {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_ALLOW_ORIGINS: ORIGIN,
    CORSWAY_MAX_BODY_BYTES: String(MAX_BODY),
  });
  let target = '';
  beforeAll(() => {
    target = `${upstream.origin}/echo`;
  });

  test('POST /<target> declaring 4 MiB over CORSWAY_MAX_BODY_BYTES, 1 KiB sent -> 413 body_too_large at once, nothing read or drained', async () => {
    const res = await partialUpload(`${worker.url}/${target}`, 4 * MAX_BODY, 1024);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'body_too_large' });
  });

  test('POST /<target>/sink chunked, 1.5 MiB past CORSWAY_MAX_BODY_BYTES and the client still sending -> 413 body_too_large read at once, the rest never read', async () => {
    const res = await chunkedUpload(`${worker.url}/${upstream.origin}/sink`, MAX_BODY + MAX_BODY / 2, true);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'body_too_large' });
  });

  test('POST /<target> from a refused origin declaring 512 KiB, 1 KiB sent -> 403 origin_not_allowed at once, the body not drained', async () => {
    const res = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        `${worker.url}/${target}`,
        {
          method: 'POST',
          agent: false,
          headers: { origin: 'https://elsewhere.test', 'content-length': String(512 * 1024) },
        },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body, reused: false }));
        },
      );
      req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s: the Worker waited for the body')));
      req.on('error', reject);
      req.write(Buffer.alloc(1024, 1));
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'origin_not_allowed' });
  });

  test('refused uploads of 64 KiB left unread, each followed by a GET on the same keep-alive connection -> every answer right', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const refused = await refusedUpload(`${worker.url}/${target}`, agent, 64 * 1024);
        const next = await get(`${worker.url}/${target}`, agent);
        seen.push(`${refused.status} ${next.status}`);
      }
      expect(seen).toEqual(Array(10).fill('403 200'));
      // The connection was kept: the unread bodies did not cost it.
      const last = await get(`${worker.url}/${target}`, agent);
      expect(last.reused).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe('worker bundle in plain workerd, an upload past the 1 MiB kept for a replay', () => {
  const upstream = new Upstream({
    // Reads past the 1 MiB kept for a replay, then redirects before the upload's end.
    '/held-307': streaming(
      (req, res) =>
        new Promise<void>((resolve) => {
          let read = 0;
          const onData = (chunk: Buffer) => {
            read += chunk.length;
            if (read <= MAX_BODY + MAX_BODY / 4 || res.headersSent) return;
            // The rest is still read, and dropped: node:http would close the connection under it.
            res.writeHead(307, { location: '/echo', 'content-length': '0' });
            res.end();
            resolve();
          };
          req.on('data', onData);
        }),
    ),
  });
  const worker = bundleSuite(upstream, {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_ALLOW_ORIGINS: ORIGIN,
    CORSWAY_MAX_BODY_BYTES: String(8 * MAX_BODY),
  });

  test('POST /<target>/held-307 chunked 6 MiB, the target answering 307 after 1.25 MiB of it -> the 307 relayed, read by the client still sending', async () => {
    const res = await chunkedUpload(`${worker.url}/${upstream.origin}/held-307`, 6 * MAX_BODY, false);
    expect(res.status, res.body).toBe(307);
    expect(res.body).toBe('');
  });
});

/*
 * CORSWAY_RATE_LIMIT_BY=origin puts every user of one Origin in one Durable
 * Object; past what one object serves, Cloudflare fails its calls. Budgets
 * then fall back to each isolate's memory (CORSWAY_RATE_LIMIT_FAILURE=open),
 * and /healthz says so.
 */
describe.each([
  ['memory', 'ok'],
  ['overloaded', 'degraded: rate-limit store unreachable'],
] as [Budgets, string][])('worker bundle in plain workerd, CORSWAY_BUDGETS %s', (budgets, health) => {
  const upstream = new Upstream();
  const worker = bundleSuite(
    upstream,
    { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '3/1h', CORSWAY_RATE_LIMIT_BY: 'origin' },
    { budgets },
  );

  test(`GET /<target> x4 from one Origin -> 200 r=2,1,0 then 429; /healthz -> 200 ${health}`, async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${worker.url}/${upstream.origin}/echo`, { headers: { origin: ORIGIN } });
      seen.push(`${res.status} ${res.headers.get('ratelimit-remaining')}`);
      await res.arrayBuffer();
    }
    expect(seen).toEqual(['200 2', '200 1', '200 0', '429 0']);
    const res = await fetch(`${worker.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(health);
  });
});

/*
 * CORSWAY_RATE_LIMIT_SHARDS splits a budget shared by many clients (here an
 * Origin's) into parts, each its own Durable Object, chosen by CF-Connecting-IP.
 */
describe('worker bundle in plain workerd, CORSWAY_RATE_LIMIT=10/1h by origin in 4 Durable Object parts', () => {
  const upstream = new Upstream();
  const worker = bundleSuite(
    upstream,
    {
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_RATE_LIMIT: '10/1h',
      CORSWAY_RATE_LIMIT_BY: 'origin',
      CORSWAY_RATE_LIMIT_SHARDS: '4',
    },
    { budgets: 'memory' },
  );
  /** A budget of 10 over 4 parts. */
  const sizes = [3, 3, 2, 2];
  const addresses = Array.from({ length: 60 }, (_, i) => `203.0.113.${i + 1}`);
  const clients = onePerPart(addresses, 4);

  const get = async (client: string, origin = ORIGIN) => {
    const res = await fetch(`${worker.url}/${upstream.origin}/echo`, {
      headers: { origin, 'cf-connecting-ip': client },
    });
    await res.arrayBuffer();
    return res;
  };

  test('GET /<target> from one CF-Connecting-IP per part until refused -> each gets its part (3, 3, 2, 2), 10 in all', async () => {
    const seen = await spendParts(clients, sizes, (client) => get(client));
    for (const [part, answers] of seen.entries()) {
      expect(answers.at(-1)?.status).toBe(429);
      expect(answers[0]?.headers.get('ratelimit-policy')).toBe(`"corsway";q=${sizes[part]};w=3600`);
    }
    expect(admitted(seen)).toEqual(sizes);
  });

  test('another address in a spent part -> 429; that address with another Origin -> 200; /healthz -> ok', async () => {
    const part = partIndex(clients[1] ?? '', 4);
    const neighbour = addresses.find((a) => a !== clients[1] && partIndex(a, 4) === part) ?? '';
    expect((await get(neighbour)).status).toBe(429);
    expect((await get(neighbour, 'https://other.test')).status).toBe(200);
    expect(await (await fetch(`${worker.url}/healthz`)).text()).toBe('ok');
  });
});

/*
 * A spent budget's refusals are answered in the isolate until the object's
 * Retry-After has passed: a client hammering it would otherwise overload it.
 */
describe('worker bundle in plain workerd, CORSWAY_BUDGETS refusing every request', () => {
  const upstream = new Upstream();
  const worker = bundleSuite(
    upstream,
    { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '3/1h' },
    { budgets: 'refusing' },
  );

  test('GET /<target> x10 from one client -> 10 x 429 from one call to its object (Retry-After 61, not 61..70); another client asks its own', async () => {
    const get = async (client: string) => {
      const res = await fetch(`${worker.url}/${upstream.origin}/echo`, {
        headers: { origin: ORIGIN, 'cf-connecting-ip': client },
      });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: Number(res.headers.get('retry-after')) };
    };
    const seen: { status: number; retryAfter: number }[] = [];
    for (let i = 0; i < 10; i++) seen.push(await get('203.0.113.9'));
    expect(seen.map((s) => s.status)).toEqual(Array(10).fill(429));
    // The first answer's count-down (61, less the whole seconds since); a second call to the object would say 62.
    for (const s of seen) expect(s.retryAfter).toBeGreaterThanOrEqual(50);
    for (const s of seen) expect(s.retryAfter).toBeLessThanOrEqual(61);
    expect(await get('203.0.113.10')).toEqual({ status: 429, retryAfter: 61 });
    expect(upstream.hits).toHaveLength(0);
  });
});

/*
 * A name that resolves to a private address is the platform's to refuse on
 * Workers: fetch never shows corsway the address. In workerd, whose network
 * allows public addresses only (as deployed), the connection is refused and
 * the client gets 502 upstream_failed, not the SPEC's 403 (docs/deploy-workers.md).
 */
describe('worker bundle in plain workerd, a target name resolving to 127.0.0.1', () => {
  const upstream = new Upstream();
  const worker = bundleSuite(upstream, {}, { hosts: { 'private.corsway.test': '127.0.0.1' } });

  test('GET /http://private.corsway.test:<port>/echo -> 502 upstream_failed from the platform, the target never reached', async () => {
    const res = await fetch(`${worker.url}/http://private.corsway.test:${upstream.port}/echo`, {
      headers: { origin: ORIGIN },
    });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'upstream_failed' });
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(upstream.hits).toHaveLength(0);
  });

  test("GET /http://127.0.0.1:<port>/echo -> 403 target_not_allowed: an address written in the URL is corsway's check", async () => {
    const res = await fetch(`${worker.url}/http://127.0.0.1:${upstream.port}/echo`, { headers: { origin: ORIGIN } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'target_not_allowed' });
    expect(upstream.hits).toHaveLength(0);
  });
});

/*
 * workerd's fetch takes a target's interim 1xx for the response and hands the
 * final response over as raw HTTP inside its body (kj's HTTP client reads one
 * response head; the rest of the connection is that response's body). These
 * cases pin it, a minimal Worker and corsway's, so they fail once workerd
 * passes the final response on and corsway can relay it as Node does.
 */
describe('a target sending 103 Early Hints before 200, in plain workerd', () => {
  const target = new InterimTarget();
  let probe: RunningProxy;
  let corsway: RunningProxy;

  beforeAll(async () => {
    await target.start();
    [probe, corsway] = await Promise.all([
      startWorkerd(join(import.meta.dirname, 'fixtures/interim-probe.mjs'), { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }),
      startWorkerd(await runBundle(), { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([probe?.stop(), corsway?.stop()]);
    await target.stop();
  });

  test("a minimal Worker's fetch -> status 103, the hints' headers, the final response as raw HTTP in its body", async () => {
    const url = `${target.origin}/early-hints`;
    const res = await fetch(`${probe.url}/?url=${encodeURIComponent(url)}&until=final`);
    expect(await res.json()).toEqual({
      status: 103,
      link: '</style.css>; rel=preload; as=style',
      body: 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-final: yes\r\ncontent-length: 5\r\n\r\nfinal',
    });
  });

  test('GET /<target>/early-hints through corsway -> 502 upstream_failed naming the interim 103 response', async () => {
    const res = await fetch(`${corsway.url}/${target.origin}/early-hints`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('upstream_failed');
    expect(body.message).toMatch(/interim 103 response .*Workers runtime cannot pass on/);
    expect(res.headers.get('x-final')).toBeNull();
  });
});
