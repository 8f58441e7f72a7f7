import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Diagnosis } from '../../src/diagnose/types.ts';
import { permissive } from '../support/cors-target.ts';
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
 * The diagnosis is right only if the browser agrees. For each way a target can
 * make Chromium block a request, the page's own fetch() runs against a local
 * upstream, and /diagnose is asked about the same request: the verdicts must
 * match, and so must the reason Chromium prints to the console.
 */

let browser: Browser;
let page: PageServer;
let tab: BrowserPage;

/**
 * A tab on the page's origin that collects the deprecation issues Chromium
 * reports (DevTools protocol, Audits domain); each is reported once per page,
 * so every case that looks for one gets a fresh tab.
 */
async function openTab(): Promise<{ tab: BrowserPage; deprecations: string[] }> {
  const opened = await browser.newPage();
  const deprecations: string[] = [];
  const devtools = await opened.page.context().newCDPSession(opened.page);
  devtools.on('Audits.issueAdded', ({ issue }) => {
    const type = issue.details.deprecationIssueDetails?.type;
    if (type) deprecations.push(type);
  });
  await devtools.send('Audits.enable');
  await opened.page.goto(page.origin);
  return { tab: opened, deprecations };
}

type Headers = Record<string, string>;
/** A route that answers OPTIONS and the request itself; `origin` is the Origin header received. */
type Answer = (method: string, origin: string) => Headers & { status?: string };

function route(answer: Answer) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const { status, ...headers } = answer(req.method ?? '', String(req.headers.origin));
    res.writeHead(Number(status ?? (req.method === 'OPTIONS' ? 204 : 200)), headers);
    res.end(req.method === 'OPTIONS' ? undefined : 'payload');
  };
}

/** A second origin, for redirects that cross origins. It allows the page's origin by name only. */
const other = new Upstream({
  '/named': route(() => ({ 'access-control-allow-origin': page.origin })),
  '/any': route(() => ({ 'access-control-allow-origin': '*' })),
});

const upstream = new Upstream({
  '/good': permissive,
  '/none': route(() => ({})),
  '/mismatch': route(() => ({ 'access-control-allow-origin': 'http://127.0.0.1:1' })),
  '/wildcard': route(() => ({ 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true' })),
  '/methods': route((_m, origin) => ({
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST',
  })),
  '/headers': route(() => ({ 'access-control-allow-origin': '*', 'access-control-allow-headers': 'x-other' })),
  '/star-headers': route(() => ({ 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' })),
  '/status': route((method) => ({
    status: method === 'OPTIONS' ? '405' : '200',
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'PUT',
  })),
  '/moved': route(() => ({ status: '301', location: '/good', 'access-control-allow-origin': '*' })),
  '/credentials': route((_m, origin) => ({ 'access-control-allow-origin': origin })),
  '/hidden': route(() => ({ 'access-control-allow-origin': '*', 'x-total': '42' })),
  '/hop': route(() => ({ status: '302', location: '/good', 'access-control-allow-origin': '*' })),
  '/hop-bare': route(() => ({ status: '302', location: '/good' })),
  '/cross-named': route(() => ({
    status: '302',
    location: `${other.origin}/named`,
    'access-control-allow-origin': '*',
  })),
  '/cross-any': route(() => ({ status: '302', location: `${other.origin}/any`, 'access-control-allow-origin': '*' })),
});

interface Case {
  readonly path: string;
  readonly method?: string;
  readonly headers?: Headers;
  readonly credentials?: 'omit' | 'include';
  readonly read?: readonly string[];
  readonly verdict: 'allowed' | 'blocked';
  /** The reason code, and what Chromium's console says for it. */
  readonly reason?: readonly [code: string, console: RegExp];
  /**
   * Where Chromium departs from the Fetch standard, which the diagnosis follows:
   * what it does instead, and the deprecation issue it reports for it.
   */
  readonly chromium?: { readonly verdict: 'allowed'; readonly deprecation: string };
}

const CASES: readonly Case[] = [
  { path: '/good', verdict: 'allowed', read: ['x-total'] },
  {
    path: '/good',
    method: 'PUT',
    headers: { authorization: 'Bearer t', 'x-custom': '1', 'content-type': 'application/json' },
    credentials: 'include',
    verdict: 'allowed',
  },
  { path: '/good', method: 'POST', headers: { 'content-type': 'text/plain' }, verdict: 'allowed' },
  { path: '/none', verdict: 'blocked', reason: ['missing_allow_origin', /No 'Access-Control-Allow-Origin' header/] },
  { path: '/mismatch', verdict: 'blocked', reason: ['origin_mismatch', /that is not equal to the supplied origin/] },
  { path: '/wildcard', verdict: 'allowed' },
  {
    path: '/wildcard',
    credentials: 'include',
    verdict: 'blocked',
    reason: [
      'wildcard_with_credentials',
      /must not be the wildcard '\*' when the request's credentials mode is 'include'/,
    ],
  },
  {
    path: '/methods',
    method: 'PUT',
    verdict: 'blocked',
    reason: ['method_not_allowed', /Method PUT is not allowed by Access-Control-Allow-Methods/],
  },
  { path: '/methods', method: 'POST', headers: { 'content-type': 'text/plain' }, verdict: 'allowed' },
  {
    path: '/headers',
    headers: { 'x-custom': '1' },
    verdict: 'blocked',
    reason: ['header_not_allowed', /Request header field x-custom is not allowed by Access-Control-Allow-Headers/],
  },
  { path: '/star-headers', headers: { 'x-custom': '1' }, verdict: 'allowed' },
  {
    // Fetch: Authorization is a "CORS non-wildcard request-header name". Chromium
    // still lets `*` cover it and reports a deprecation issue instead.
    path: '/star-headers',
    headers: { authorization: 'Bearer t' },
    verdict: 'blocked',
    reason: ['header_not_allowed', /^$/],
    chromium: { verdict: 'allowed', deprecation: 'AuthorizationCoveredByWildcard' },
  },
  {
    path: '/status',
    method: 'PUT',
    verdict: 'blocked',
    reason: ['preflight_status', /It does not have HTTP ok status/],
  },
  {
    path: '/moved',
    headers: { 'x-custom': '1' },
    verdict: 'blocked',
    reason: ['preflight_redirect', /Redirect is not allowed for a preflight request/],
  },
  {
    path: '/credentials',
    credentials: 'include',
    verdict: 'blocked',
    reason: ['missing_allow_credentials', /Access-Control-Allow-Credentials' header in the response is ''/],
  },
  { path: '/credentials', verdict: 'allowed' },
  { path: '/hidden', read: ['x-total'], verdict: 'blocked', reason: ['header_not_exposed', /^$/] },
  { path: '/hop', verdict: 'allowed' },
  { path: '/hop-bare', verdict: 'blocked', reason: ['missing_allow_origin', /No 'Access-Control-Allow-Origin'/] },
  {
    path: '/cross-named',
    verdict: 'blocked',
    reason: ['origin_mismatch', /that is not equal to the supplied origin/],
  },
  { path: '/cross-any', verdict: 'allowed' },
];

/** Blocked for the page: fetch() rejected, or a header it reads came back null. */
function outcome(result: PageFetch, read: readonly string[]): 'allowed' | 'blocked' {
  if (!result.ok) return 'blocked';
  return read.every((name) => result.headers[name] !== null) ? 'allowed' : 'blocked';
}

function label(c: Case): string {
  const parts = [c.method ?? 'GET', c.path];
  if (c.headers) parts.push(`headers ${Object.keys(c.headers).join(',')}`);
  if (c.credentials) parts.push(`credentials ${c.credentials}`);
  if (c.read) parts.push(`reads ${c.read.join(',')}`);
  return parts.join(' ');
}

beforeAll(async () => {
  [browser, page] = await Promise.all([launchBrowser(), startPageServer(), upstream.start(), other.start()]);
  ({ tab } = await openTab());
});
afterAll(async () => {
  await Promise.all([browser?.close(), page?.stop(), upstream.stop(), other.stop()]);
});

describe.each(RUNTIMES)('%s: the diagnosis agrees with Chromium', (runtime) => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    proxy = await startProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function diagnose(c: Case): Promise<Diagnosis> {
    const headers = Object.keys(c.headers ?? {}).filter((h) => h !== 'content-type');
    const params = new URLSearchParams({ origin: page.origin, method: c.method ?? 'GET' });
    if (headers.length > 0) params.set('headers', headers.join(','));
    if (c.headers?.['content-type']) params.set('content-type', c.headers['content-type']);
    if (c.credentials) params.set('credentials', c.credentials);
    if (c.read) params.set('read', c.read.join(','));
    const res = await fetch(`${proxy.url}/diagnose/${upstream.origin}${c.path}?${params}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Diagnosis;
  }

  test.each(CASES.map((c) => [label(c), c] as const))('%s: page fetch() and /diagnose agree', async (_label, c) => {
    // A unique query keeps Chromium's preflight cache from answering for an earlier case.
    const url = `${upstream.origin}${c.path}?run=${runtime}-${Math.random().toString(36).slice(2)}`;
    const own = c.chromium ? await openTab() : { tab, deprecations: [] };
    const logged = own.tab.console.length;
    const result = await fetchInPage(own.tab.page, url, {
      method: c.method ?? 'GET',
      headers: c.headers ?? {},
      credentials: c.credentials ?? 'omit',
      read: c.read ?? [],
      body: c.method === 'PUT' || c.method === 'POST' ? 'data' : undefined,
    });
    const diagnosis = await diagnose(c);
    expect({ browser: outcome(result, c.read ?? []), diagnosis: diagnosis.verdict }).toEqual({
      browser: c.chromium?.verdict ?? c.verdict,
      diagnosis: c.verdict,
    });
    if (c.chromium) {
      const { deprecation } = c.chromium;
      await expect.poll(() => own.deprecations).toContain(deprecation);
      await own.tab.close();
      expect(diagnosis.reason?.message).toContain(deprecation);
    }
    if (c.reason) {
      const [code, said] = c.reason;
      expect(diagnosis.reason?.code).toBe(code);
      if (!result.ok) {
        // Chromium prints its reason a moment after fetch() rejects.
        await expect.poll(() => own.tab.console.slice(logged).join('\n')).toMatch(said);
      }
    }
  });

  test(`browser GET /diagnose/<upstream>/methods?method=PUT -> the page shows Blocked, saved as test-results/diagnose-${runtime}.png`, async () => {
    const view = await browser.newPage();
    try {
      const params = new URLSearchParams({ origin: page.origin, method: 'PUT', headers: 'authorization' });
      const response = await view.page.goto(`${proxy.url}/diagnose/${upstream.origin}/methods?${params}`);
      expect(response?.status()).toBe(200);
      await expect.poll(() => view.page.locator('.verdict h2').textContent()).toBe('Blocked');
      expect(await view.page.locator('.verdict p').first().textContent()).toContain('does not allow the method PUT');
      // The inline style applies under the CSP: the banner is coloured, not default black.
      const color = await view.page
        .locator('.verdict h2')
        .evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).color);
      expect(color).toBe('rgb(180, 35, 24)');
      expect(view.console.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
      await mkdir(join(ROOT, 'test-results'), { recursive: true });
      await view.page.screenshot({ path: join(ROOT, 'test-results', `diagnose-${runtime}.png`), fullPage: true });
    } finally {
      await view.close();
    }
  });

  test('browser GET / -> follows the help page link to the form and submits it', async () => {
    const view = await browser.newPage();
    try {
      await view.page.goto(`${proxy.url}/`);
      await view.page.getByRole('link', { name: 'Describe it in this form' }).click();
      await view.page.fill('#f-url', `${upstream.origin}/none`);
      await view.page.fill('#f-origin', page.origin);
      await Promise.all([view.page.waitForURL(/\/diagnose\?/), view.page.click('button[type=submit]')]);
      await expect.poll(() => view.page.locator('.verdict h2').textContent()).toBe('Blocked');
      expect(await view.page.content()).toContain('missing_allow_origin');
    } finally {
      await view.close();
    }
  });
});
