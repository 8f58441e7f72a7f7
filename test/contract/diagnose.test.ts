import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import type { Diagnosis } from '../../src/diagnose/types.ts';
import { permissive } from '../support/cors-target.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { freshProxy, sharedProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

const ORIGIN = 'https://app.example';

/** Answers OPTIONS with `preflight` and every other method with `response`, both with a body-less 2xx unless told. */
function cors(
  preflight: Record<string, string> & { status?: string },
  response: Record<string, string> & { status?: string } = preflight,
) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const { status, ...headers } = req.method === 'OPTIONS' ? preflight : response;
    res.writeHead(Number(status ?? (req.method === 'OPTIONS' ? 204 : 200)), headers);
    res.end(req.method === 'OPTIONS' ? undefined : 'payload');
  };
}

/** Each way a target can make the browser block, as a route of one upstream. */
const routes = {
  '/good': permissive,
  '/none': cors({}),
  '/mismatch': cors({ 'access-control-allow-origin': 'https://other.example' }),
  '/wildcard': cors({ 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true' }),
  '/methods': cors({ 'access-control-allow-origin': ORIGIN, 'access-control-allow-methods': 'GET, POST' }),
  '/headers': cors({
    'access-control-allow-origin': '*',
    'access-control-allow-methods': '*',
    'access-control-allow-headers': '*, x-other',
  }),
  '/status': cors({ status: '401', 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PUT' }),
  '/moved': cors({ status: '301', location: '/good' }),
  '/credentials': cors({ 'access-control-allow-origin': ORIGIN }),
  '/hidden': cors({ 'access-control-allow-origin': '*', 'x-total': '42' }),
  '/hop': cors({ status: '302', location: '/good', 'access-control-allow-origin': '*' }),
  '/hop-bare': cors({ status: '302', location: '/good' }),
  '/hostile': cors({ 'access-control-allow-origin': 'https://x.example', 'x-evil': '<script>alert(1)</script>' }),
};

describe.each(RUNTIMES)('%s: /diagnose', (runtime) => {
  const upstream = new Upstream(routes);

  const proxy = suiteProxy(sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }), upstream);

  async function diagnose(path: string, query: Record<string, string> = {}): Promise<Diagnosis> {
    const params = new URLSearchParams({ origin: ORIGIN, ...query });
    const res = await fetch(`${proxy.url}/diagnose/${upstream.origin}${path}?${params}`);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return JSON.parse(text) as Diagnosis;
  }

  /** What the upstream saw for `path`, as method lines. */
  function seen(path: string): string[] {
    return upstream.hits.filter((h) => h.url === path).map((h) => h.method);
  }

  test('GET /diagnose/<upstream>/good?origin=… -> allowed, one GET sent, proxy URL offered', async () => {
    const d = await diagnose('/good', { read: 'x-total' });
    expect(d.verdict).toBe('allowed');
    expect(d.kind).toBe('simple');
    expect(d.reason).toBeNull();
    expect(d.fix).toBeNull();
    expect(d.steps).toHaveLength(1);
    expect(d.steps[0]?.responseHeaders?.['access-control-allow-origin']).toBe(ORIGIN);
    const hit = upstream.hits.findLast((h) => h.url === '/good');
    expect(hit?.method).toBe('GET');
    expect(hit?.headers.origin).toBe(ORIGIN);
    expect(hit?.headers.via).toMatch(/corsway/);
    expect(d.proxy.url).toBe(`${proxy.url}/${upstream.origin}/good`);
    expect(d.proxy.works).toBe(true);
  });

  test('GET /diagnose/<upstream>/none?origin=… -> blocked missing_allow_origin, fix names the origin', async () => {
    const d = await diagnose('/none');
    expect(d.verdict).toBe('blocked');
    expect(d.reason?.code).toBe('missing_allow_origin');
    expect(d.reason?.message).toContain('Access-Control-Allow-Origin');
    expect(d.fix?.response['Access-Control-Allow-Origin']).toBe(ORIGIN);
    expect(d.proxy).toMatchObject({ works: true, url: `${proxy.url}/${upstream.origin}/none` });
  });

  test('GET /diagnose/<upstream>/mismatch?origin=… -> blocked origin_mismatch', async () => {
    const d = await diagnose('/mismatch');
    expect(d.reason?.code).toBe('origin_mismatch');
    expect(d.reason?.message).toContain('https://other.example');
  });

  test('GET /diagnose/<upstream>/wildcard?credentials=include -> blocked wildcard_with_credentials; omit -> allowed', async () => {
    const withCredentials = await diagnose('/wildcard', { credentials: 'include' });
    expect(withCredentials.reason?.code).toBe('wildcard_with_credentials');
    expect(withCredentials.fix?.response).toMatchObject({
      'Access-Control-Allow-Origin': ORIGIN,
      'Access-Control-Allow-Credentials': 'true',
    });
    // The proxy sends no Access-Control-Allow-Credentials: it cannot help a credentialed request.
    expect(withCredentials.proxy.works).toBe(false);
    expect((await diagnose('/wildcard', { credentials: 'omit' })).verdict).toBe('allowed');
  });

  test('GET /diagnose/<upstream>/methods?method=PUT -> blocked method_not_allowed after a real preflight, PUT never sent', async () => {
    const d = await diagnose('/methods', { method: 'PUT' });
    expect(d.kind).toBe('preflighted');
    expect(d.reason?.code).toBe('method_not_allowed');
    expect(d.steps[0]).toMatchObject({ kind: 'preflight', sent: true, method: 'OPTIONS', status: 204 });
    expect(d.fix?.preflight?.['Access-Control-Allow-Methods']).toBe('PUT');
    const preflight = upstream.hits.findLast((h) => h.url === '/methods');
    expect(preflight?.headers['access-control-request-method']).toBe('PUT');
    expect(preflight?.headers.origin).toBe(ORIGIN);
    expect(seen('/methods')).not.toContain('PUT');
  });

  test('GET /diagnose/<upstream>/headers?headers=x-custom -> blocked header_not_allowed', async () => {
    const d = await diagnose('/headers', { headers: 'X-Custom' });
    // `*, x-other` allows x-custom without credentials: the wildcard counts.
    expect(d.verdict).toBe('allowed');
    const withCredentials = await diagnose('/headers', { headers: 'X-Custom', credentials: 'include' });
    expect(withCredentials.steps[0]?.findings.map((f) => f.code)).toContain('header_not_allowed');
    expect(upstream.hits.findLast((h) => h.url === '/headers')?.headers['access-control-request-headers']).toBe(
      'x-custom',
    );
  });

  test('GET /diagnose/<upstream>/headers?headers=authorization -> blocked header_not_allowed (never covered by *)', async () => {
    const d = await diagnose('/headers', { headers: 'authorization' });
    expect(d.reason?.code).toBe('header_not_allowed');
    expect(d.reason?.message).toMatch(/Authorization is never covered by \*/);
    expect(d.fix?.preflight?.['Access-Control-Allow-Headers']).toBe('authorization');
  });

  test('GET /diagnose/<upstream>/status?method=PUT -> blocked preflight_status', async () => {
    const d = await diagnose('/status', { method: 'PUT' });
    expect(d.reason?.code).toBe('preflight_status');
    expect(d.reason?.message).toContain('401');
    expect(seen('/status')).toEqual(expect.arrayContaining(['OPTIONS']));
    expect(seen('/status')).not.toContain('PUT');
  });

  test('GET /diagnose/<upstream>/moved?headers=x-custom -> blocked preflight_redirect, redirect not followed', async () => {
    const before = seen('/good').length;
    const d = await diagnose('/moved', { headers: 'x-custom' });
    expect(d.reason?.code).toBe('preflight_redirect');
    expect(d.steps).toHaveLength(1);
    expect(seen('/good').length).toBe(before);
    expect(d.fix?.message).toContain(`${upstream.origin}/good`);
  });

  test('GET /diagnose/<upstream>/credentials?credentials=include -> blocked missing_allow_credentials', async () => {
    const d = await diagnose('/credentials', { credentials: 'include' });
    expect(d.reason?.code).toBe('missing_allow_credentials');
    expect(d.fix?.response['Access-Control-Allow-Credentials']).toBe('true');
    expect((await diagnose('/credentials')).verdict).toBe('allowed');
  });

  test('GET /diagnose/<upstream>/hidden?read=x-total -> blocked header_not_exposed', async () => {
    const d = await diagnose('/hidden', { read: 'X-Total,content-type' });
    expect(d.reason?.code).toBe('header_not_exposed');
    expect(d.reason?.message).toContain('x-total');
    expect(d.reason?.message).not.toMatch(/header content-type/);
    expect(d.fix?.response['Access-Control-Expose-Headers']).toBe('x-total');
    expect(d.proxy.works).toBe(true);
  });

  test('GET /diagnose/<upstream>/hop -> allowed after following the redirect; /hop-bare -> blocked on the redirect', async () => {
    const followed = await diagnose('/hop');
    expect(followed.verdict).toBe('allowed');
    expect(followed.steps.map((s) => [s.url, s.status])).toEqual([
      [`${upstream.origin}/hop`, 302],
      [`${upstream.origin}/good`, 200],
    ]);
    const bare = await diagnose('/hop-bare');
    expect(bare.reason?.code).toBe('missing_allow_origin');
    expect(bare.reason?.message).toContain('redirect response');
  });

  test('GET /diagnose/<upstream>/good?method=POST&content-type=text/plain -> simple; OPTIONS probe, POST never sent', async () => {
    const d = await diagnose('/good', { method: 'POST', 'content-type': 'text/plain' });
    expect(d.kind).toBe('simple');
    expect(d.verdict).toBe('allowed');
    expect(d.steps.map((s) => [s.kind, s.sent])).toEqual([
      ['probe', true],
      ['request', false],
    ]);
    const preflighted = await diagnose('/good', { method: 'POST', 'content-type': 'application/json' });
    expect(preflighted.kind).toBe('preflighted');
    expect(preflighted.preflightReasons.join()).toContain('application/json');
    expect(seen('/good')).not.toContain('POST');
  });

  test('GET /diagnose/<upstream>/none?method=TRACE -> blocked forbidden_method, nothing sent', async () => {
    const before = upstream.hits.length;
    const d = await diagnose('/none', { method: 'TRACE' });
    expect(d.reason?.code).toBe('forbidden_method');
    expect(d.steps).toEqual([]);
    expect(upstream.hits.length).toBe(before);
  });

  test('GET /diagnose?url=<upstream>/none&origin=… -> the ?url form diagnoses the same target', async () => {
    const params = new URLSearchParams({ url: `${upstream.origin}/none`, origin: ORIGIN });
    const res = await fetch(`${proxy.url}/diagnose?${params}`, { headers: { origin: 'https://caller.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://caller.example');
    const d = (await res.json()) as Diagnosis;
    expect(d.request.url).toBe(`${upstream.origin}/none`);
    expect(d.reason?.code).toBe('missing_allow_origin');
  });

  test('GET /diagnose/<upstream>/none without origin -> 400 invalid_target naming the parameter', async () => {
    const res = await fetch(`${proxy.url}/diagnose/${upstream.origin}/none`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_target');
    expect(body.message).toMatch(/^origin:/);
  });

  test('GET /diagnose (Accept: text/html) -> the form, under a strict CSP', async () => {
    const res = await fetch(`${proxy.url}/diagnose`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    const html = await res.text();
    expect(html).toContain('<form method="get" action="/diagnose">');
    for (const field of ['url', 'origin', 'method', 'headers', 'content-type', 'credentials', 'read']) {
      expect(html).toContain(`name="${field}"`);
    }
    expect(html).not.toMatch(/<script/i);
  });

  test('GET /diagnose/<upstream>/hostile (Accept: text/html) -> the target header is shown escaped, never as HTML', async () => {
    const params = new URLSearchParams({ origin: '"><script>alert(2)</script>' });
    const bad = await fetch(`${proxy.url}/diagnose/${upstream.origin}/hostile?${params}`, {
      headers: { accept: 'text/html' },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toMatch(/<script/i);

    const res = await fetch(`${proxy.url}/diagnose/${upstream.origin}/hostile?origin=${ORIGIN}`, {
      headers: { accept: 'text/html' },
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Blocked');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/<script/i);
  });

  test('GET / (Accept: text/html) -> the help page links to the diagnosis form', async () => {
    const html = await (await fetch(`${proxy.url}/`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain(`href="${proxy.url}/diagnose"`);
  });
});

describe.each(RUNTIMES)('%s: /diagnose passes the proxy checks', (runtime) => {
  const trap = new Upstream(routes);

  const proxy = suiteProxy(
    freshProxy(runtime, {
      CORSWAY_RATE_LIMIT: '2/1h',
      CORSWAY_ALLOW_ORIGINS: 'https://app.example',
    }),
    trap,
  );

  const get = (origin: string) =>
    fetch(`${proxy.url}/diagnose/${trap.origin}/good?origin=${ORIGIN}`, { headers: { origin } });

  test('GET /diagnose/<loopback>/good from a refused origin -> 403 origin_not_allowed', async () => {
    const res = await get('https://evil.example');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('origin_not_allowed');
  });

  test('GET /diagnose/<loopback>/good -> 403 target_not_allowed twice, then 429 rate_limited; the target never hit', async () => {
    const first = await get(ORIGIN);
    expect(first.status).toBe(403);
    expect(((await first.json()) as { error: string }).error).toBe('target_not_allowed');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect((await get(ORIGIN)).status).toBe(403);
    const third = await get(ORIGIN);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: string }).error).toBe('rate_limited');
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(trap.hits).toEqual([]);
  });
});

describe.each(RUNTIMES)('%s: /diagnose runs the target rules before any browser question', (runtime) => {
  const trap = new Upstream(routes);

  const proxy = suiteProxy(freshProxy(runtime, { CORSWAY_ALLOW_TARGETS: 'api.example.com,127.0.0.1' }), trap);

  async function ask(target: string, origin: string): Promise<{ status: number; error: string; message: string }> {
    const res = await fetch(`${proxy.url}/diagnose/${target}?origin=${encodeURIComponent(origin)}`);
    const body = (await res.json()) as { error: string; message: string };
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    return { status: res.status, ...body };
  }

  test.each<[string, string, number, string]>([
    // Same origin and mixed content were answered before any target check: "proxy works: true".
    ['http://10.1.2.3/', 'http://10.1.2.3', 403, 'target_not_allowed'],
    ['http://127.0.0.1:{trap}/good', 'http://127.0.0.1:{trap}', 403, 'target_not_allowed'],
    ['http://127.0.0.1:{trap}/good', 'https://app.example', 403, 'target_not_allowed'],
    ['https://other.example/', 'https://other.example', 403, 'target_not_allowed'],
    ['https://api.example.com:22/', 'https://api.example.com:22', 403, 'target_not_allowed'],
    ['https://intranet/', 'https://intranet', 400, 'invalid_target'],
    ['https://user:secret@api.example.com/', 'https://api.example.com', 400, 'invalid_target'],
  ])('GET /diagnose/%s?origin=%s -> %i %s, nothing sent', async (target, origin, status, error) => {
    const port = String(trap.port);
    const answer = await ask(target.replace('{trap}', port), origin.replace('{trap}', port));
    expect([answer.status, answer.error]).toEqual([status, error]);
    expect(answer.message).not.toContain('secret');
    expect(trap.hits).toEqual([]);
  });
});
