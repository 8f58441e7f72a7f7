import { request } from 'node:http';
import { beforeAll, describe, expect, test } from 'vitest';
import { closedPort } from '../support/ports.ts';
import { decoded, errorOf, type RawResponse, raw } from '../support/raw-http.ts';
import { RUNTIMES, startProxy } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy, suiteProxy } from '../support/shared-proxy.ts';
import { streaming, Upstream } from '../support/upstream.ts';
import { eventually, waitUntil } from '../support/wait.ts';

const LIMITS = {
  CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
  CORSWAY_TIMEOUT_MS: '1500',
  CORSWAY_MAX_BODY_BYTES: '100000',
  CORSWAY_MAX_RESPONSE_BYTES: '100000',
};

/** Every refusal is the SPEC's JSON with CORS headers. */
function expectRefusal(res: RawResponse, status: number, code: string): void {
  expect(res.status, decoded(res).toString()).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(errorOf(res).error).toBe(code);
  expect(errorOf(res).message.length).toBeGreaterThan(10);
  expect(res.headers['access-control-allow-origin']).toBe('https://app.test');
}

/** A chunked upload of `size` bytes, without Content-Length. */
function chunkedUpload(base: string, path: string, size: number): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: 'POST', agent: false, headers: { origin: 'https://app.test' } },
      (res) => {
        const chunks: Buffer[] = [];
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', done);
        // wrangler dev may reset the connection once the answer is out, the upload unread.
        res.on('error', done);
        res.on('close', done);
      },
    );
    // The proxy may answer 413 and close before the whole upload is written:
    // a write error after the answer arrived is expected.
    let answered = false;
    req.on('response', () => {
      answered = true;
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(10_000, 1);
    let sent = 0;
    const write = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe.each(RUNTIMES)('%s: failures', (runtime) => {
  let downloadClosed = false;
  /** What the target saw of each upload to /sink: its byte count, or 'aborted'. */
  const sinks: Array<number | 'aborted'> = [];
  const upstream = new Upstream({
    '/sink': streaming(async (req, res) => {
      let size = 0;
      try {
        for await (const chunk of req) size += (chunk as Buffer).length;
      } catch {
        sinks.push('aborted');
        return;
      }
      sinks.push(size);
      res.end(String(size));
    }),
    '/slow': (_req, res) => {
      const timer = setTimeout(() => res.end('late'), 5_000);
      res.on('close', () => clearTimeout(timer));
    },
    '/reset': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 50_000 });
      res.write(Buffer.alloc(5_000, 1));
      setTimeout(() => res.socket?.destroy(), 100);
    },
    '/endless': (_req, res) => {
      downloadClosed = false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(1_000, 2)), 20);
      res.on('close', () => {
        clearInterval(timer);
        downloadClosed = true;
      });
    },
    '/size': (_req, res, body) => {
      res.end(String(body.length));
    },
    '/big-known': (_req, res) => {
      res.writeHead(200, { 'content-length': 200_000 });
      res.end(Buffer.alloc(200_000, 3));
    },
    '/big-chunked': async (_req, res) => {
      res.on('error', () => {});
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 20 && !res.destroyed; i++) {
        res.write(Buffer.alloc(10_000, 4));
        await new Promise((r) => setTimeout(r, 10));
      }
      res.end();
    },
  });
  let target: string;
  const origin = { origin: 'https://app.test' };

  const proxy = suiteProxy(freshProxy(runtime, LIMITS), upstream);
  beforeAll(() => {
    target = `/${upstream.origin}`;
  });

  async function stillServes(): Promise<void> {
    const res = await raw(proxy.url, `${target}/echo?after=1`);
    expect(res.status).toBe(200);
  }

  test('GET /http://127.0.0.1:<port>/slow (no headers within CORSWAY_TIMEOUT_MS) -> 504 upstream_timeout', async () => {
    expectRefusal(await raw(proxy.url, `${target}/slow`, { headers: origin }), 504, 'upstream_timeout');
  });

  test('GET /http://127.0.0.1:<closed port>/ -> 502 upstream_failed', async () => {
    const port = await closedPort();
    expectRefusal(await raw(proxy.url, `/http://127.0.0.1:${port}/`, { headers: origin }), 502, 'upstream_failed');
  });

  test('GET /http://127.0.0.1:<port>/reset (upstream resets mid-body) -> the client sees an error, the proxy keeps serving', async () => {
    const outcome = await raw(proxy.url, `${target}/reset`).then(
      (res) => res.body.length,
      (error: Error) => error,
    );
    // Either the connection is cut (error) or fewer bytes arrive than declared: never a clean 50000.
    if (typeof outcome === 'number') expect(outcome).toBeLessThan(50_000);
    else expect(outcome).toBeInstanceOf(Error);
    await stillServes();
  });

  test('GET /http://127.0.0.1:<port>/endless, client aborts mid-download -> the upstream request is closed, the proxy keeps serving', async () => {
    const controller = new AbortController();
    const res = await fetch(`${proxy.url}${target}/endless`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await eventually(() => downloadClosed, 10_000, 50);
    await stillServes();
  });

  test('GET /<proxy>/http://127.0.0.1:<port>/echo (the proxy pointed at itself) -> 508 loop_detected', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `/${proxy.url}${target}/echo`, { headers: origin });
    expectRefusal(res, 508, 'loop_detected');
    expect(upstream.hits.length).toBe(before);
  });

  test('GET /http://127.0.0.1:<port>/echo with Via: 1.1 corsway -> 508 loop_detected', async () => {
    const res = await raw(proxy.url, `${target}/echo`, { headers: { ...origin, via: '1.0 edge, 1.1 corsway' } });
    expectRefusal(res, 508, 'loop_detected');
  });

  test('POST /http://127.0.0.1:<port>/echo with Content-Length over CORSWAY_MAX_BODY_BYTES -> 413, nothing sent upstream', async () => {
    const before = upstream.hits.length;
    const res = await raw(proxy.url, `${target}/echo`, {
      method: 'POST',
      headers: origin,
      body: Buffer.alloc(100_001, 5),
    });
    expectRefusal(res, 413, 'body_too_large');
    expect(upstream.hits.length).toBe(before);
  });

  test('POST /http://127.0.0.1:<port>/echo with exactly CORSWAY_MAX_BODY_BYTES -> forwarded', async () => {
    const res = await raw(proxy.url, `${target}/size`, { method: 'POST', body: Buffer.alloc(100_000, 5) });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('100000');
  });

  test('GET /http://127.0.0.1:<port>/big-known (Content-Length over CORSWAY_MAX_RESPONSE_BYTES) -> 502 upstream_failed', async () => {
    expectRefusal(await raw(proxy.url, `${target}/big-known`, { headers: origin }), 502, 'upstream_failed');
  });

  test('GET /http://127.0.0.1:<port>/big-chunked (grows past CORSWAY_MAX_RESPONSE_BYTES) -> cut at the limit', async () => {
    const outcome = await raw(proxy.url, `${target}/big-chunked`).then(
      (res) => res,
      (error: Error) => error,
    );
    if (runtime === 'node') {
      // The connection is aborted, so the client sees the truncation.
      expect(outcome, 'a truncated body must not end cleanly').toBeInstanceOf(Error);
    } else if (!(outcome instanceof Error)) {
      // workerd ends a response whose body stream errors as if it were complete
      // (a bare Worker does the same under wrangler dev), so here the guarantee
      // is only that no byte past the limit is relayed.
      expect(outcome.body.length).toBeLessThanOrEqual(100_000);
    }
    await stillServes();
  });
  test('POST /http://127.0.0.1:<port>/sink chunked past CORSWAY_MAX_BODY_BYTES -> 413, the target never gets a truncated body as complete', async () => {
    const before = sinks.length;
    // 1.5 times the limit: the proxy drains up to the limit again, so the client reads its 413.
    expectRefusal(await chunkedUpload(proxy.url, `${target}/sink`, 150_000), 413, 'body_too_large');
    // The upload is aborted at the target, or never reaches it; it is never complete.
    await waitUntil(() => sinks.length > before, 2_000, 50);
    expect(sinks.slice(before).filter((s) => s !== 'aborted')).toEqual([]);
    // Last in this suite, and not followed by stillServes(): under wrangler dev,
    // workerd stalls the next request after an upload it left partly unread.
  });
});

describe.each(RUNTIMES)('%s: malformed configuration', (runtime) => {
  const BAD = { CORSWAY_MAX_REDIRECTS: 'many', CORSWAY_TIMEOUT_MS: '-1' };

  if (runtime === 'node') {
    test('npm start with CORSWAY_MAX_REDIRECTS=many CORSWAY_TIMEOUT_MS=-1 -> exits non-zero naming both', async () => {
      const failure = await startProxy('node', BAD).then(
        async (proxy) => {
          await proxy.stop();
          return null;
        },
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/exited with [1-9]/);
      expect(failure).toContain('CORSWAY_MAX_REDIRECTS');
      expect(failure).toContain('CORSWAY_TIMEOUT_MS');
    });
    return;
  }

  let proxy: FreshProxy;
  const started = freshProxy('worker', BAD);
  beforeAll(async () => {
    proxy = await started;
  });

  test.each(['/healthz', '/', '/http://127.0.0.1:9/x'])(
    'GET %s with CORSWAY_MAX_REDIRECTS=many CORSWAY_TIMEOUT_MS=-1 -> 500 invalid_config naming both',
    async (path) => {
      const res = await raw(proxy.url, path, { headers: { origin: 'https://app.test' } });
      expectRefusal(res, 500, 'invalid_config');
      expect(errorOf(res).message).toContain('CORSWAY_MAX_REDIRECTS');
      expect(errorOf(res).message).toContain('CORSWAY_TIMEOUT_MS');
    },
  );
});
