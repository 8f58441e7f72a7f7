import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closedPort } from '../support/ports.ts';
import { type RunningProxy, startNode } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { waitUntil } from '../support/wait.ts';

const TOKEN = 'scrape-me-0123456789';

const upstream = new Upstream({
  '/plain': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  },
  '/drip': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('x'.repeat(100)), 20);
    res.on('close', () => clearInterval(timer));
  },
  '/missing': (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('no such thing');
  },
});

/** The access-log lines printed so far, parsed. */
function logLines(proxy: RunningProxy): Record<string, unknown>[] {
  return proxy
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Lines reach us through a pipe: wait until `count` have arrived. */
async function waitForLines(proxy: RunningProxy, count: number): Promise<Record<string, unknown>[]> {
  await waitUntil(() => logLines(proxy).length >= count, 5_000, 50);
  return logLines(proxy);
}

/** The fields that must be exactly as expected (time and durations vary). */
function fixed(line: Record<string, unknown>) {
  const { time: _time, ms: _ms, upstreamMs: _upstreamMs, ...rest } = line;
  return rest;
}

beforeAll(async () => {
  await upstream.start();
});
afterAll(async () => {
  await upstream.stop();
});

describe('node: access log at info and /metrics after a known sequence of requests', () => {
  let proxy: RunningProxy;
  let refusingPort: number;

  beforeAll(async () => {
    refusingPort = await closedPort();
    proxy = await startNode({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_LOG_LEVEL: 'info',
      CORSWAY_METRICS: 'on',
      CORSWAY_METRICS_TOKEN: TOKEN,
      CORSWAY_RATE_LIMIT: '4/1h',
    });
    const origin = 'https://app.test';
    const target = `${upstream.origin}/plain`;
    const answers = [
      await fetch(`${proxy.url}/${target}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      }),
      await fetch(`${proxy.url}/${target}?token=s3cret`, { headers: { origin } }),
      await fetch(`${proxy.url}/${target}`, { method: 'POST', body: 'abc', headers: { origin } }),
      await fetch(`${proxy.url}/nohost`),
      await fetch(`${proxy.url}/http://127.0.0.1:${refusingPort}/`),
      await fetch(`${proxy.url}/${target}`),
    ];
    for (const res of answers) await res.arrayBuffer();
    expect(answers.map((r) => r.status)).toEqual([204, 200, 200, 400, 502, 429]);
  });
  afterAll(() => proxy?.stop());

  test('one JSON line per request: client key, origin, method, target origin, status, bytes, refusal code', async () => {
    const lines = await waitForLines(proxy, 6);
    const at = (status: number) => (status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info');
    const line = (method: string, origin: string | null, target: string | null, status: number, bytes: number) => ({
      level: at(status),
      method,
      client: '127.0.0.1',
      origin,
      target,
      status,
      bytes,
    });
    expect(lines.map(fixed)).toEqual([
      { ...line('OPTIONS', 'https://app.test', null, 204, 0), error: null },
      { ...line('GET', 'https://app.test', upstream.origin, 200, 5), error: null },
      { ...line('POST', 'https://app.test', upstream.origin, 200, 5), error: null },
      { ...line('GET', null, null, 400, expect.any(Number)), error: 'invalid_target' },
      { ...line('GET', null, `http://127.0.0.1:${refusingPort}`, 502, expect.any(Number)), error: 'upstream_failed' },
      { ...line('GET', null, null, 429, expect.any(Number)), error: 'rate_limited' },
    ]);
    for (const l of lines) {
      expect(new Date(l.time as string).toISOString()).toBe(l.time);
      expect(l.ms).toBeGreaterThanOrEqual(0);
    }
    expect(lines.map((l) => l.upstreamMs === null)).toEqual([true, false, false, true, true, true]);
  });

  test('the log never carries target paths or queries by default', async () => {
    const output = proxy.output();
    expect(output).not.toContain('s3cret');
    expect(output).not.toContain('/plain');
  });

  test('GET /metrics with the bearer token -> 200 counters that match the sequence', async () => {
    const res = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const series = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
    );
    expect(series).toMatchObject({
      'corsway_requests_total{status_class="2xx",error="none"}': 3,
      'corsway_requests_total{status_class="4xx",error="invalid_target"}': 1,
      'corsway_requests_total{status_class="4xx",error="rate_limited"}': 1,
      'corsway_requests_total{status_class="5xx",error="upstream_failed"}': 1,
      corsway_rate_limited_total: 1,
      'corsway_upstream_duration_seconds_bucket{le="+Inf"}': 2,
      corsway_upstream_duration_seconds_count: 2,
      corsway_relayed_bytes_total: 10,
      corsway_requests_in_flight: 0,
    });
    expect(Object.keys(series).filter((k) => k.startsWith('corsway_requests_total'))).toHaveLength(4);
    expect(series.corsway_open_connections).toBeGreaterThanOrEqual(1);
    // Buckets are cumulative.
    const buckets = Object.entries(series)
      .filter(([k]) => k.startsWith('corsway_upstream_duration_seconds_bucket'))
      .map(([, v]) => v as number);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  test('GET /metrics without a token or with a wrong one -> 401, and the scrape is not logged', async () => {
    const none = await fetch(`${proxy.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('corsway_');
    const wrong = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    expect(logLines(proxy)).toHaveLength(6);
  });
});

describe('node: CORSWAY_LOG_LEVEL=warn with CORSWAY_LOG_TARGET_URL=on, metrics off', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startNode({
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_LOG_LEVEL: 'warn',
      CORSWAY_LOG_TARGET_URL: 'on',
    });
  });
  afterAll(() => proxy?.stop());

  test('only 4xx/5xx lines are written, with the whole target URL; /metrics is not served', async () => {
    for (const path of [`${upstream.origin}/plain`, `${upstream.origin}/missing?q=1`, 'metrics']) {
      await (await fetch(`${proxy.url}/${path}`)).arrayBuffer();
    }
    const lines = await waitForLines(proxy, 2);
    expect(lines.map(fixed)).toEqual([
      {
        level: 'warn',
        method: 'GET',
        client: '127.0.0.1',
        origin: null,
        target: `${upstream.origin}/missing?q=1`,
        status: 404,
        bytes: 13,
        error: null,
      },
      expect.objectContaining({ level: 'warn', status: 400, error: 'invalid_target', target: null }),
    ]);
  });
});

// A response limit makes the body stream through the app's web streams rather
// than being piped from the target's socket: both paths must report the end.
describe.each([
  ['piped', {}],
  ['through web streams', { CORSWAY_MAX_RESPONSE_BYTES: '100000000' }],
])('node: a client that goes away mid-body (%s)', (_path, extra) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startNode({
      ...extra,
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      CORSWAY_LOG_LEVEL: 'info',
      CORSWAY_METRICS: 'on',
      CORSWAY_METRICS_TOKEN: TOKEN,
    });
  });
  afterAll(() => proxy?.stop());

  test('GET /<endless target>, client goes away mid-body -> logged with its client and the bytes sent, not in flight', async () => {
    const abort = new AbortController();
    const res = await fetch(`${proxy.url}/${upstream.origin}/drip`, { signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    abort.abort();
    const lines = await waitForLines(proxy, 1);
    expect(lines).toHaveLength(1);
    expect(fixed(lines[0] as Record<string, unknown>)).toEqual({
      level: 'info',
      method: 'GET',
      client: '127.0.0.1',
      origin: null,
      target: upstream.origin,
      status: 200,
      bytes: expect.any(Number),
      error: null,
    });
    expect(lines[0]?.bytes).toBeGreaterThanOrEqual(100);
    const scrape = await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await scrape.text()).toContain('\ncorsway_requests_in_flight 0\n');
  });
});

test('CORSWAY_METRICS=on without CORSWAY_METRICS_TOKEN -> startup stops with exit 1, naming the token', async () => {
  await expect(startNode({ CORSWAY_METRICS: 'on' })).rejects.toThrow(
    /exited with 1[\s\S]*CORSWAY_METRICS_TOKEN: required/,
  );
});
