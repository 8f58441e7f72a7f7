import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Exchange, errorCode, send } from '../support/client.ts';
import { RUNTIMES, type RunningProxy, startProxy } from '../support/runtimes.ts';
import { startWithSecrets } from '../support/secrets.ts';
import { Upstream } from '../support/upstream.ts';

const SECRET = 'Bearer op-secret-5e7a1c9d3b2f';
const APP = 'https://app.example';

/** Every byte a client received: status line material, header names and values, body. */
function wire(res: Exchange): string {
  return `${res.status}\n${[...res.headers].map(([n, v]) => `${n}: ${v}`).join('\n')}\n\n${res.body}`;
}

describe.each(RUNTIMES)('%s: content-type policy and target headers', (runtime) => {
  // The second host: another loopback address, so a redirect there leaves the first host.
  const elsewhere = new Upstream({
    '/landing': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('elsewhere');
    },
  });
  const upstream = new Upstream({
    '/json': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"ok":true}');
    },
    '/video': (_req, res) => {
      res.writeHead(200, { 'content-type': 'Video/MP4; codecs="avc1"' });
      res.end('not-really-a-video');
    },
    '/to-video': (_req, res) => {
      res.writeHead(302, { location: '/video', 'content-type': 'text/html' });
      res.end('<a href="/video">moved</a>');
    },
    '/unlabelled': (_req, res) => {
      res.writeHead(200);
      res.end('bytes');
    },
    '/api': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('api answer');
    },
    '/to-elsewhere': (_req, res) => {
      res.writeHead(302, { location: `${elsewhere.origin.replace('127.0.0.1', '127.0.0.2')}/landing` });
      res.end();
    },
  });
  let proxy: RunningProxy;
  const target = (path: string) => `${proxy.url}/${upstream.origin}${path}`;
  const responses: Exchange[] = [];
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await send(path.startsWith('/http') ? `${proxy.url}${path}` : target(path), {
      headers: { origin: APP, ...headers },
    });
    responses.push(res);
    return res;
  };

  beforeAll(async () => {
    await upstream.start();
    await elsewhere.start('127.0.0.2');
    proxy = await startWithSecrets(
      runtime,
      {
        CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
        CORSWAY_ALLOW_ORIGINS: APP,
        CORSWAY_ALLOW_CONTENT_TYPES: 'application/json,text/*,video/*',
        CORSWAY_BLOCK_CONTENT_TYPES: 'video/mp4',
        CORSWAY_LOG_LEVEL: 'info',
      },
      { CORSWAY_TARGET_HEADERS: JSON.stringify({ '127.0.0.1': { 'X-Api-Key': SECRET } }) },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
    await elsewhere.stop();
  });

  test('GET /<json target> -> 200: an allowed type, parameters ignored', async () => {
    const res = await get('/json');
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"ok":true}');
  });

  test('GET /<target redirecting to video/mp4> -> 403 content_not_allowed naming the type and the rule, no body byte', async () => {
    const before = upstream.hits.length;
    const res = await get('/to-video');
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('content_not_allowed');
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    const { message } = JSON.parse(res.body) as { message: string };
    expect(message).toContain('video/mp4');
    expect(message).toContain('blocked by video/mp4 (CORSWAY_BLOCK_CONTENT_TYPES)');
    expect(res.body).not.toContain('not-really-a-video');
    // The redirect was followed: the verdict is on the final response.
    expect(upstream.hits.slice(before).map((h) => h.url)).toEqual(['/to-video', '/video']);
  });

  test('GET /<target without Content-Type> -> 403: judged as application/octet-stream, not on the allow list', async () => {
    const res = await get('/unlabelled');
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('content_not_allowed');
    expect(JSON.parse(res.body).message).toContain(
      'application/octet-stream, which this proxy does not relay: not on the allow list application/json, text/*, video/* (CORSWAY_ALLOW_CONTENT_TYPES)',
    );
  });

  test("the target header reaches its host, replacing the client's; a redirect to another host never carries it", async () => {
    const res = await get('/api', { 'x-api-key': 'client-own-value' });
    expect(res.status).toBe(200);
    expect(upstream.hits.at(-1)?.headers['x-api-key']).toBe(SECRET);

    const moved = await get('/to-elsewhere');
    expect(moved.status).toBe(200);
    expect(moved.body).toBe('elsewhere');
    expect(upstream.hits.at(-1)?.headers['x-api-key']).toBe(SECRET);
    expect(elsewhere.hits.at(-1)?.url).toBe('/landing');
    expect(elsewhere.hits.at(-1)?.headers['x-api-key']).toBeUndefined();

    // Straight to the other host: nothing added there either.
    const direct = await get(`/${elsewhere.origin.replace('127.0.0.1', '127.0.0.2')}/landing`);
    expect(direct.status).toBe(200);
    expect(elsewhere.hits.at(-1)?.headers['x-api-key']).toBeUndefined();
  });

  test('the help page and /diagnose show the policy: host names with target headers, never the values', async () => {
    const help = await send(`${proxy.url}/`, { headers: { accept: 'text/html' } });
    const text = await send(`${proxy.url}/`);
    const diagnose = await send(`${proxy.url}/diagnose/${upstream.origin}/api?origin=${APP}`, {
      headers: { origin: APP },
    });
    responses.push(help, text, diagnose);
    for (const page of [help, text]) {
      expect(page.body).toContain('127.0.0.1');
      expect(page.body).toContain('video/mp4');
      expect(page.body).toContain('application/json');
    }
    expect(diagnose.status).toBe(200);
    expect(JSON.parse(diagnose.body).proxy.message).toContain(
      "It adds its operator's own headers to requests to 127.0.0.1 (CORSWAY_TARGET_HEADERS).",
    );
  });

  test('the secret is absent from every response byte and every log line', async () => {
    expect(responses.length).toBeGreaterThan(5);
    for (const res of responses) expect(wire(res), wire(res)).not.toContain('op-secret');
    expect(proxy.output()).not.toContain('op-secret');
    if (runtime === 'node') expect(proxy.output()).toContain('"status":403');
  });
});

describe.each(RUNTIMES)('%s: secrets misconfigured', (runtime) => {
  let proxy: RunningProxy | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  test('CORSWAY_TARGET_HEADERS without an origin allow list or required keys, or malformed CORSWAY_KEYS: a configuration error naming the variable, never quoting a value', async () => {
    const env = {
      CORSWAY_TARGET_HEADERS: JSON.stringify({ 'api.example.com': { Authorization: SECRET } }),
      CORSWAY_KEYS: JSON.stringify([{ key: 'some-key-0123456789ab' }]),
    };
    if (runtime === 'node') {
      const failure = await startProxy('node', env).then(
        async (started) => {
          proxy = started;
          return 'started';
        },
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/exited with [1-9]/);
      expect(failure).toContain('CORSWAY_TARGET_HEADERS');
      expect(failure).toContain('CORSWAY_ANONYMOUS=off');
      expect(failure).not.toContain('op-secret');
      // Malformed JSON is reported without quoting any of it.
      const broken = await startProxy('node', { CORSWAY_KEYS: '[{"key": "op-secret-cut-short' }).then(
        () => 'started',
        (error: Error) => error.message,
      );
      expect(broken).toContain('CORSWAY_KEYS: expected JSON');
      expect(broken).not.toContain('op-secret');
      return;
    }
    proxy = await startWithSecrets('worker', {}, env);
    const res = await send(`${proxy.url}/https://api.example.com/`, { headers: { origin: APP } });
    expect(res.status).toBe(500);
    expect(errorCode(res)).toBe('invalid_config');
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(JSON.parse(res.body).message).toContain('CORSWAY_TARGET_HEADERS');
    expect(res.body).not.toContain('op-secret');
    await proxy.stop();

    // Malformed JSON is reported without quoting any of it.
    proxy = await startWithSecrets('worker', {}, { CORSWAY_KEYS: '[{"key": "op-secret-cut-short' });
    const broken = await send(`${proxy.url}/https://api.example.com/`, { headers: { origin: APP } });
    expect(broken.status).toBe(500);
    expect(JSON.parse(broken.body).message).toContain('CORSWAY_KEYS: expected JSON');
    expect(broken.body).not.toContain('op-secret');
  });
});
