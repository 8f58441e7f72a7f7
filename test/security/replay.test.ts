import { createHash, randomBytes } from 'node:crypto';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPLAY_LIMIT } from '../../src/core/body.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { type SharedProxy, sharedProxy } from '../support/shared-proxy.ts';
import { streaming, Upstream } from '../support/upstream.ts';
import { drainedOrClosed } from '../support/wait.ts';

/*
 * A 307/308 replays every byte of the request body or none (SPEC "Redirects"):
 * either the redirect target receives the whole upload, or the client gets the
 * redirect with Location through the proxy and the redirect target receives
 * nothing. The first target answers while the upload is still arriving, so the
 * proxy has a read from the client under way: that chunk must not be lost.
 * Bodies are random bytes, compared by SHA-256 across chunk boundaries around
 * the 1 MiB copy, with Content-Length and chunked uploads, on Node and the Worker.
 */

const MIB = REPLAY_LIMIT;

interface Received {
  bytes: number;
  sha256: string;
}

/** What the redirect target received, per case id. */
const finals = new Map<string, Received[]>();
/** Resolved when the first target of a case has answered. */
const answered = new Map<string, () => void>();

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const upstream = new Upstream({
  // Answers 307/308 once `after` bytes arrived (all of them when `after` is the whole body), and reads the rest.
  '/first': streaming((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const after = Number(url.searchParams.get('after'));
    const status = Number(url.searchParams.get('status') ?? 307);
    const location = `/final?id=${url.searchParams.get('id')}`;
    let seen = 0;
    const answer = () => {
      if (res.headersSent) return;
      res.writeHead(status, { location, 'content-length': '0' }).end();
      answered.get(url.searchParams.get('id') ?? '')?.();
    };
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= after) answer();
    });
    req.on('end', answer);
    req.on('error', () => {});
  }),
  // Answers 303 once `after` bytes arrived, and reads the rest.
  '/see-other': streaming((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const after = Number(url.searchParams.get('after'));
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen < after || res.headersSent) return;
      res.writeHead(303, { location: '/after-303', 'content-length': '0' }).end();
      answered.get(url.searchParams.get('id') ?? '')?.();
    });
    req.on('error', () => {});
  }),
  '/after-303': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} after the 303`);
  },
  '/final': streaming((req, res) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      const received = { bytes, sha256: hash.digest('hex') };
      finals.set(id, [...(finals.get(id) ?? []), received]);
      const json = JSON.stringify(received);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
    });
  }),
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The request went over a connection an earlier request used. */
  reused: boolean;
}

/**
 * POSTs `body` in `chunk`-byte writes (each waiting for the socket), with
 * Content-Length or chunked; with `pause`, stops after `at` bytes until `until`
 * settles, so the proxy is waiting for the next chunk when the target answers.
 */
function upload(
  base: string,
  path: string,
  body: Buffer,
  chunk: number,
  framing: 'length' | 'chunked',
  pause?: { at: number; until: Promise<void> },
  agent: Agent | false = false,
): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (framing === 'length') headers['content-length'] = String(body.length);
    const method = body.length > 0 ? 'POST' : 'GET';
    const req = request({ host: hostname, port, path, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          reused: req.reusedSocket,
        }),
      );
      res.on('error', reject);
    });
    // The proxy may answer (a relayed redirect) before it read the whole upload.
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    void (async () => {
      for (let at = 0; at < body.length && !req.destroyed; ) {
        if (pause && at === pause.at) await pause.until;
        const end = Math.min(at + chunk, pause && at < pause.at ? pause.at : body.length);
        const flushed = req.write(body.subarray(at, end));
        at = end;
        if (!flushed) await drainedOrClosed(req);
      }
      if (!req.destroyed) req.end();
    })();
  });
}

type Outcome = 'replayed' | 'relayed' | 'either';

/**
 * [bytes, write size, first target answers after, framing, redirect status, outcome].
 * The client pauses where the first target answers, until it has answered and
 * the proxy has had time to act on it; then sends the rest.
 */
const CASES: [number, number, number | 'all', 'length' | 'chunked', 307 | 308, Outcome][] = [
  [MIB - 1, 65_536, 500_000, 'chunked', 307, 'replayed'],
  [MIB - 1, 10_007, 'all', 'length', 308, 'replayed'],
  [MIB, 16_384, 1_000_000, 'length', 307, 'replayed'],
  [MIB, 10_007, 'all', 'chunked', 307, 'replayed'],
  [MIB + 1, 65_536, 1_000_000, 'chunked', 307, 'either'],
  [MIB + 1, 10_007, 'all', 'length', 308, 'relayed'],
  // The red team's case: 1,132,072 bytes chunked, 307 after 1,000,000.
  [1_132_072, 65_536, 1_000_000, 'chunked', 307, 'either'],
  [1_132_072, 65_536, 1_000_000, 'length', 308, 'either'],
  [1_132_072, 4_096, 1_040_000, 'chunked', 307, 'either'],
  [3 * MIB, 65_536, 1_000_000, 'length', 307, 'either'],
  [3 * MIB, 65_536, 'all', 'chunked', 307, 'relayed'],
  [2 * MIB, 32_768, 700_000, 'chunked', 308, 'either'],
  [MIB - 1, 65_536, 1_000_000, 'chunked', 307, 'replayed'],
  [MIB - 1, 65_536, 1_048_000, 'length', 308, 'replayed'],
];

beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

describe.each(RUNTIMES)('%s: a 307/308 replays every byte or none', (runtime) => {
  let proxy: SharedProxy;
  const started = sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
  beforeAll(async () => {
    proxy = await started;
  });

  test.each(CASES)(
    'POST %i bytes in %i-byte writes, the target answers after %s bytes (%s) with %i -> whole body to the next hop, or the redirect relayed',
    async (size, chunk, after, framing, status, outcome) => {
      const id = `${runtime}-${size}-${chunk}-${after}-${framing}-${status}`;
      const body = randomBytes(size);
      const path = `/${upstream.origin}/first?after=${after === 'all' ? size : after}&status=${status}&id=${id}`;
      const until = new Promise<void>((resolve) => answered.set(id, resolve)).then(
        () => new Promise<void>((resolve) => setTimeout(resolve, 300)),
      );
      const pause = after === 'all' ? undefined : { at: after, until };
      const res = await upload(proxy.url, path, body, chunk, framing, pause);
      const received = finals.get(id) ?? [];

      if (res.status === 200) {
        expect(outcome, 'replayed although the body was past the copy').not.toBe('relayed');
        expect(JSON.parse(res.body)).toEqual({ bytes: size, sha256: sha256(body) });
        expect(received).toEqual([{ bytes: size, sha256: sha256(body) }]);
      } else {
        expect(res.status, res.body).toBe(status);
        expect(outcome, 'relayed although the body fitted the copy').not.toBe('replayed');
        expect(res.headers.location).toBe(`${proxy.url}/${upstream.origin}/final?id=${id}`);
        // Nothing, not a part, reached the redirect target.
        expect(received).toEqual([]);
      }
    },
    90_000,
  );
});

describe.each(RUNTIMES)('%s: a 303 that turns a POST into a GET while the upload still arrives', (runtime) => {
  let proxy: SharedProxy;
  const started = sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
  beforeAll(async () => {
    proxy = await started;
  });

  test.each([
    [2 * MIB, 65_536, 'chunked'],
    [2 * MIB, 65_536, 'length'],
    [MIB / 2, 16_384, 'chunked'],
    [8 * MIB, 65_536, 'chunked'],
  ] as const)(
    'POST %i bytes in %i-byte writes (%s), the target answers 303 after 64 KiB -> 200 from the GET it leads to; the upload was read to its end, so the connection serves the next request',
    async (size, chunk, framing) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const id = `${runtime}-303-${size}-${chunk}-${framing}`;
      // The client stops after 128 KiB until the 303 is in, so the proxy turns to the GET mid-upload.
      const until = new Promise<void>((resolve) => answered.set(id, resolve)).then(
        () => new Promise<void>((resolve) => setTimeout(resolve, 300)),
      );
      try {
        const path = `/${upstream.origin}/see-other?after=65536&id=${id}`;
        const pause = { at: 131_072, until };
        const res = await upload(proxy.url, path, randomBytes(size), chunk, framing, pause, agent);
        expect(res.status, res.body).toBe(200);
        expect(res.body).toBe('GET after the 303');
        expect(res.headers['x-final-url']).toBe(`${upstream.origin}/after-303`);
        // A connection whose upload was cut off is closed (or reset) under the client.
        const next = await upload(
          proxy.url,
          `/${upstream.origin}/after-303`,
          Buffer.alloc(0),
          1,
          'length',
          undefined,
          agent,
        );
        expect(next.status, next.body).toBe(200);
        expect(next.reused).toBe(true);
      } finally {
        agent.destroy();
      }
    },
    30_000,
  );
});
