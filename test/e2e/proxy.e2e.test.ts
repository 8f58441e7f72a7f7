import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ROOT, RUNTIMES, type RunningProxy, startProxy } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import {
  type Browser,
  type BrowserPage,
  fetchInPage,
  launchBrowser,
  type PageFetch,
  type PageServer,
  startPageServer,
} from './browser.ts';

/*
 * Three origins on 127.0.0.1: the page (where the app's script runs), the proxy,
 * and an upstream that sends no CORS headers. Only a real browser decides what a
 * page may read, so these tests assert what the page saw, not header strings.
 */

const BIG = randomBytes(20 * 1024 * 1024);
const BIG_SHA256 = createHash('sha256').update(BIG).digest('hex');
const GZIPPED_TEXT = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `item ${i}` })));

let browser: Browser;
let page: PageServer;
/** A second page origin: the only one the guarded proxy serves. */
let allowedPage: PageServer;

beforeAll(async () => {
  [browser, page, allowedPage] = await Promise.all([launchBrowser(), startPageServer(), startPageServer()]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), page?.stop(), allowedPage?.stop()]);
});

/** The body of a successful page fetch; fails the test with what the page caught otherwise. */
function readable(result: PageFetch): Extract<PageFetch, { ok: true }> {
  if (!result.ok) throw new Error(`the page could not read the response: ${result.error}`);
  return result;
}

describe.each(RUNTIMES)('%s: in Chromium', (runtime) => {
  /** The SSE route sends one event, then waits for this before sending the rest. */
  let releaseEvents: () => void = () => {};
  const events = { finished: false };
  const upstream = new Upstream({
    '/plain': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-custom': 'from upstream' });
      res.end('hello from upstream');
    },
    '/redirect': (_req, res) => {
      res.writeHead(302, { location: '/plain' });
      res.end();
    },
    '/events': async (_req, res) => {
      events.finished = false;
      const released = new Promise<void>((resolve) => {
        releaseEvents = resolve;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('data: one\n\n');
      await released;
      res.write('data: two\n\n');
      res.write('data: three\n\n');
      res.end();
      events.finished = true;
    },
    '/big': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      res.end(BIG);
    },
    '/gzip': (_req, res) => {
      const body = gzipSync(GZIPPED_TEXT);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': body.length,
      });
      res.end(body);
    },
  });
  /** Open to any origin, with a budget large enough for the whole file. */
  let proxy: RunningProxy;
  /** Serves only `allowedPage`, two requests per hour. */
  let guarded: RunningProxy;
  let tab: BrowserPage;

  beforeAll(async () => {
    await upstream.start();
    [proxy, guarded] = await Promise.all([
      startProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '1000/1h' }),
      startProxy(runtime, {
        CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
        CORSWAY_ALLOW_ORIGINS: allowedPage.origin,
        CORSWAY_RATE_LIMIT: '2/1h',
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([proxy?.stop(), guarded?.stop()]);
    await upstream.stop();
  });
  beforeEach(async () => {
    tab = await browser.newPage();
    await tab.page.goto(`${page.origin}/`);
  });
  afterEach(async () => {
    await tab.close();
  });

  test('page GET <upstream>/plain directly is blocked by CORS; GET /<upstream>/plain through the proxy -> 200 with the body', async () => {
    const direct = await fetchInPage(tab.page, `${upstream.origin}/plain`);
    expect(direct).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    // The upstream answered; the browser withheld the response for want of CORS headers.
    expect(upstream.hits.some((h) => h.url === '/plain')).toBe(true);
    expect(tab.console.join('\n')).toContain(
      `Access to fetch at '${upstream.origin}/plain' from origin '${page.origin}' has been blocked by CORS policy`,
    );

    const proxied = readable(await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/plain`));
    expect(proxied.status).toBe(200);
    expect(proxied.text).toBe('hello from upstream');
  });

  test('page PUT /<upstream>/echo with application/json and X-Trace -> preflight answered by the proxy, PUT reaches the upstream', async () => {
    const cdp = await tab.page.context().newCDPSession(tab.page);
    const preflights: string[] = [];
    cdp.on('Network.requestWillBeSent', (event) => {
      if (event.request.method === 'OPTIONS') preflights.push(event.request.url);
    });
    await cdp.send('Network.enable');

    const url = `${proxy.url}/${upstream.origin}/echo`;
    const result = readable(
      await fetchInPage(tab.page, url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-trace': 'e2e-1' },
        body: JSON.stringify({ hello: 'world' }),
      }),
    );
    expect(result.status).toBe(200);
    const echo = JSON.parse(result.text) as { method: string; headers: Record<string, string>; body: string };
    expect(echo.method).toBe('PUT');
    expect(echo.headers['x-trace']).toBe('e2e-1');
    expect(echo.headers['content-type']).toBe('application/json');
    expect(JSON.parse(Buffer.from(echo.body, 'base64').toString())).toEqual({ hello: 'world' });

    // The browser did send a preflight, and the proxy kept it to itself.
    expect(preflights).toContain(url);
    expect(upstream.hits.filter((h) => h.method === 'OPTIONS')).toEqual([]);
    await cdp.detach();
  });

  test('page GET /<upstream>/plain reads X-Custom and RateLimit-Remaining; GET /<upstream>/redirect reads X-Final-URL', async () => {
    const read = ['x-custom', 'ratelimit-remaining', 'x-final-url'];
    const first = readable(await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/plain`, { read }));
    expect(first.headers['x-custom']).toBe('from upstream');
    const remaining = Number(first.headers['ratelimit-remaining']);
    expect(Number.isInteger(remaining)).toBe(true);
    expect(remaining).toBeGreaterThan(0);

    const redirected = readable(await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/redirect`, { read }));
    expect(redirected.status).toBe(200);
    expect(redirected.text).toBe('hello from upstream');
    expect(redirected.headers['x-final-url']).toBe(`${upstream.origin}/plain`);
    expect(Number(redirected.headers['ratelimit-remaining'])).toBe(remaining - 1);
  });

  test('page GET /<upstream>/plain from an origin off the allow list -> 403 origin_not_allowed, readable', async () => {
    const hitsBefore = upstream.hits.length;
    const result = readable(await fetchInPage(tab.page, `${guarded.url}/${upstream.origin}/plain`));
    expect(result.status).toBe(403);
    expect(JSON.parse(result.text)).toMatchObject({ error: 'origin_not_allowed' });
    expect(upstream.hits.length).toBe(hitsBefore);
  });

  test('page GET /<upstream>/plain past the budget -> 429 rate_limited with Retry-After, readable', async () => {
    await tab.page.goto(`${allowedPage.origin}/`);
    const url = `${guarded.url}/${upstream.origin}/plain`;
    const read = ['retry-after', 'ratelimit-remaining'];
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push(readable(await fetchInPage(tab.page, url, { read })).status);
    expect(statuses).toEqual([200, 200]);

    const refused = readable(await fetchInPage(tab.page, url, { read }));
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text)).toMatchObject({ error: 'rate_limited' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
  });

  test('page EventSource /<upstream>/events -> events arrive one by one while the upstream is still sending', async () => {
    const url = `${proxy.url}/${upstream.origin}/events`;
    await tab.page.evaluate((url) => {
      const received: string[] = [];
      const source = new EventSource(url);
      source.addEventListener('message', (event) => {
        received.push(String((event as MessageEvent).data));
        // Closing stops EventSource from reconnecting once the upstream ends.
        if (received.length === 3) source.close();
      });
      Object.assign(globalThis, { received });
    }, url);
    const received = () => tab.page.evaluate(() => (globalThis as unknown as { received: string[] }).received);

    await tab.page.waitForFunction(() => (globalThis as unknown as { received: string[] }).received.length >= 1);
    expect(await received()).toEqual(['one']);
    expect(events.finished).toBe(false);

    releaseEvents();
    await tab.page.waitForFunction(() => (globalThis as unknown as { received: string[] }).received.length >= 3);
    expect(await received()).toEqual(['one', 'two', 'three']);
    expect(events.finished).toBe(true);
  });

  test('page GET /<upstream>/big -> 20 MiB arrayBuffer() with the upstream bytes', async () => {
    const result = await tab.page.evaluate(async (url) => {
      const response = await fetch(url);
      const bytes = await response.arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return {
        status: response.status,
        length: bytes.byteLength,
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      };
    }, `${proxy.url}/${upstream.origin}/big`);
    expect(result).toEqual({ status: 200, length: BIG.length, sha256: BIG_SHA256 });
    // wrangler dev reports every chunk to its inspector: 20 MiB can take tens of seconds on a busy machine.
  }, 180_000);

  test('page GET /<upstream>/gzip (Content-Encoding: gzip) -> the decoded body, intact', async () => {
    const result = readable(await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/gzip`));
    expect(result.status).toBe(200);
    expect(result.text).toBe(GZIPPED_TEXT);
  });

  test("page GET /<upstream>/plain with credentials: 'include' -> unreadable, cookies not forwarded; a preflighted one is never sent", async () => {
    // Cookies ignore ports, so the page's cookie is sent to the proxy on the same host.
    await tab.page.evaluate(() => {
      (globalThis as unknown as { document: { cookie: string } }).document.cookie = 'session=secret; path=/';
    });
    const hitsBefore = upstream.hits.length;
    const result = await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/plain?credentialed`, {
      credentials: 'include',
    });
    expect(result).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    expect(tab.console.join('\n')).toContain("'Access-Control-Allow-Credentials' header in the response is ''");
    // The request went through, without the cookie; only reading the answer is refused.
    const hits = upstream.hits.slice(hitsBefore);
    expect(hits.map((h) => h.url)).toEqual(['/plain?credentialed']);
    expect(hits[0]?.headers.cookie).toBeUndefined();

    // A request that needs a preflight stops there: the preflight answer allows no credentials.
    const preflighted = await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/plain?credentialed-put`, {
      method: 'PUT',
      headers: { 'x-trace': 'e2e-2' },
      credentials: 'include',
    });
    expect(preflighted).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    expect(upstream.hits.slice(hitsBefore).map((h) => h.url)).toEqual(['/plain?credentialed']);
    await tab.page.context().clearCookies();
  });

  test('browser GET / -> the help page, saved as test-results/help-<runtime>.png', async () => {
    await tab.page.setViewportSize({ width: 1100, height: 800 });
    const response = await tab.page.goto(`${proxy.url}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toContain('text/html');
    expect(await tab.page.locator('h1').innerText()).toBe('corsway');
    expect(await tab.page.locator('pre').first().innerText()).toBe(`${proxy.url}/https://api.example.com/data`);
    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    await tab.page.screenshot({ path: join(ROOT, 'test-results', `help-${runtime}.png`), fullPage: true });
  });
});
