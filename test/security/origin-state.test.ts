import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ORIGIN_STATE_HEADERS, ORIGIN_STATE_PREFIXES } from '../../src/core/headers.ts';
import { RUNTIMES } from '../support/runtimes.ts';
import { type FreshProxy, freshProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';
import { send } from './traps.ts';

/*
 * The proxy's origin is never lent (SPEC "Responses"): a target's answer,
 * opened through the proxy, must not store browser state for the proxy's
 * origin, prompt for credentials there, or be kept by a cache for another
 * origin's page. Real target on 127.0.0.1, real proxy on each runtime.
 */

/** What a hostile target sends to act on the origin that serves it. */
const ORIGIN_STATE: Record<string, string> = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
  'clear-site-data': '"cache", "cookies", "storage"',
  'service-worker-allowed': '/',
  nel: '{"report_to":"x","max_age":86400}',
  'report-to': '{"group":"x","max_age":86400,"endpoints":[{"url":"https://collector.example/"}]}',
  'reporting-endpoints': 'x="https://collector.example/"',
  'alt-svc': 'h3=":443"; ma=86400',
  'accept-ch': 'Sec-CH-UA-Model, Sec-CH-UA-Platform-Version',
  'critical-ch': 'Sec-CH-UA-Model',
  'set-login': 'logged-in',
  'origin-agent-cluster': '?1',
  'attribution-reporting-register-source': '{"destination":"https://shop.example"}',
  'attribution-reporting-register-trigger': '{"event_trigger_data":[{"trigger_data":"1"}]}',
  'attribution-reporting-info': 'preferred-platform=web',
  'shared-storage-write': 'set;key=user;value=tracked',
  'shared-storage-cross-origin-worklet-allowed': '?1',
  'observe-browsing-topics': '?1',
  'activate-storage-access': 'retry; allowed-origin="https://tracker.example"',
  'public-key-pins': 'pin-sha256="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; max-age=5184000',
  'expect-ct': 'max-age=86400, enforce',
  'idp-signin-status': 'action=signin',
  'origin-trial': 'AnYtokenThatEnablesAFeatureForTheOrigin==',
  'use-as-dictionary': 'match="/*", id="tracker"',
  'speculation-rules': '"/rules.json"',
  'supports-loading-mode': 'credentialed-prerender, fenced-frame',
  'sec-session-registration': '(ES256);path="/register";challenge="c"',
  'sec-session-challenge': '"c";id="session"',
  'ad-auction-allowed': '?1',
  'ad-auction-signals': '[{"adSlot":"slot","sellerSignals":{}}]',
  'ad-auction-record-event': 'type="view", eligible-origins=("https://ads.example")',
  'x-allow-fledge': 'true',
  'x-fledge-auction-only': 'true',
  'sec-private-state-token': 'issued-token',
};

test('the catalogue sends every entry of the origin-state table, and one header of each family', () => {
  const sent = Object.keys(ORIGIN_STATE);
  for (const name of ORIGIN_STATE_HEADERS) expect(sent, name).toContain(name);
  for (const prefix of ORIGIN_STATE_PREFIXES)
    expect(
      sent.some((name) => name.startsWith(prefix)),
      prefix,
    ).toBe(true);
});

const upstream = new Upstream({
  '/origin-state': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', ...ORIGIN_STATE, 'x-kept': 'yes' });
    res.end('<script>document.cookie="a=1"</script>');
  },
  '/basic': (_req, res) => {
    res.writeHead(401, [
      ['www-authenticate', 'Basic realm="admin"'],
      ['www-authenticate', 'Bearer realm="api"'],
      ['content-type', 'text/plain'],
    ]);
    res.end('who are you?');
  },
  '/varies': (_req, res) => {
    res.writeHead(200, { vary: 'Accept-Encoding', 'cache-control': 'public, max-age=600' });
    res.end('cacheable');
  },
  '/huge-head': (req, res) => {
    // A HEAD answer describes a body it does not send: 1 GiB declared, nothing to cut.
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(1024 ** 3) });
    if (req.method === 'HEAD') res.end();
    else res.destroy();
  },
});

beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

describe.each(RUNTIMES)('%s: the proxy origin is never lent', (runtime) => {
  let proxy: FreshProxy;
  let target = '';
  const started = freshProxy(runtime, {
    CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
    CORSWAY_MAX_RESPONSE_BYTES: '4096',
  });
  beforeAll(async () => {
    target = `/${upstream.origin}`;
    proxy = await started;
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  test('GET /<target>/origin-state -> 200 without any header that stores state for the proxy origin', async () => {
    const res = await send(proxy.url, `${target}/origin-state`, { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    for (const name of Object.keys(ORIGIN_STATE)) expect(res.headers[name], name).toBeUndefined();
    const exposed = String(res.headers['access-control-expose-headers']);
    for (const name of Object.keys(ORIGIN_STATE)) expect(exposed).not.toContain(name);
    expect(res.headers['x-kept']).toBe('yes');
    // Opened directly, the page runs in an opaque origin and is never sniffed into something else.
    expect(res.headers['content-security-policy']).toBe('sandbox');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  test('GET /<target>/basic -> 401 with the challenges only as an exposed X-Target-WWW-Authenticate', async () => {
    const res = await send(proxy.url, `${target}/basic`, { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(401);
    expect(res.body).toBe('who are you?');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.headers['x-target-www-authenticate']).toBe('Basic realm="admin", Bearer realm="api"');
    expect(String(res.headers['access-control-expose-headers']).split(', ')).toContain('x-target-www-authenticate');
  });

  test('GET /<target>/basic without Origin (a page opened directly) -> still no WWW-Authenticate', async () => {
    const res = await send(proxy.url, `${target}/basic`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  test.each([
    ['without Origin', {}, '*'],
    ['with Origin', { origin: 'https://app.example' }, 'https://app.example'],
  ])('GET /<target>/varies %s -> Vary: Origin merged into the target Vary', async (_, headers, allowed) => {
    const res = await send(proxy.url, `${target}/varies`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(allowed);
    expect(res.headers.vary).toMatch(/^accept-encoding, origin$/i);
  });

  test('GET /<target>/echo without Origin -> Vary: Origin where the target sent no Vary', async () => {
    const res = await send(proxy.url, `${target}/echo`);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers.vary).toBe('Origin');
  });

  test('a refusal varies on Origin too: GET /ftp://x/ -> 400 with Vary: Origin', async () => {
    const res = await send(proxy.url, '/ftp://x.example/');
    expect(res.status).toBe(400);
    expect(res.headers.vary).toBe('Origin');
  });

  test('HEAD /<target>/huge-head declaring 1 GiB past CORSWAY_MAX_RESPONSE_BYTES -> 200, answered, not cut', async () => {
    const res = await send(proxy.url, `${target}/huge-head`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.cut).toBe(false);
    expect(res.headers['content-type']).toBe('video/mp4');
  });

  test('GET /<target>/huge-head declaring 1 GiB -> still 502 upstream_failed', async () => {
    const res = await send(proxy.url, `${target}/huge-head`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).error).toBe('upstream_failed');
  });
});
