import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES, type RunningProxy } from '../support/runtimes.ts';
import { startWithSecrets } from '../support/secrets.ts';
import { Upstream } from '../support/upstream.ts';
import { type Browser, fetchInPage, launchBrowser, type PageServer, startPageServer } from './browser.ts';

/*
 * A public proxy with access keys: the page's own script sends X-Corsway-Key,
 * which makes its request preflighted; only a real browser shows that the
 * preflight lets the header through and that a refusal stays readable.
 */

const KEY = 'e2e-page-key-3b5d7f9a1c';

let browser: Browser;
let allowedPage: PageServer;

beforeAll(async () => {
  [browser, allowedPage] = await Promise.all([launchBrowser(), startPageServer()]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), allowedPage?.stop()]);
});

describe.each(RUNTIMES)('%s: access keys in Chromium', (runtime) => {
  const upstream = new Upstream({
    '/data': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"answer":42}');
    },
  });
  let proxy: RunningProxy;

  beforeAll(async () => {
    await upstream.start();
    proxy = await startWithSecrets(
      runtime,
      { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_ANONYMOUS: 'off' },
      { CORSWAY_KEYS: JSON.stringify([{ key: KEY, origins: [allowedPage.origin] }]) },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
  });

  test('a page on the key origin sends X-Corsway-Key (the preflight allows it) and reads the answer', async () => {
    const tab = await browser.newPage();
    try {
      await tab.page.goto(`${allowedPage.origin}/`);
      const before = upstream.hits.length;
      const result = await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/data`, {
        headers: { 'X-Corsway-Key': KEY },
      });
      expect(result).toEqual({ ok: true, status: 200, headers: {}, text: '{"answer":42}' });
      // The preflight was answered by the proxy; the target saw one GET, without the key.
      expect(upstream.hits.slice(before).map((h) => h.method)).toEqual(['GET']);
      expect(upstream.hits.at(-1)?.headers['x-corsway-key']).toBeUndefined();
    } finally {
      await tab.close();
    }
  });

  test('the same page without the key reads the 401 key_required JSON', async () => {
    const tab = await browser.newPage();
    try {
      await tab.page.goto(`${allowedPage.origin}/`);
      const result = await fetchInPage(tab.page, `${proxy.url}/${upstream.origin}/data`);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.status).toBe(401);
      expect(JSON.parse(result.text)).toMatchObject({ error: 'key_required' });
    } finally {
      await tab.close();
    }
  });
});
