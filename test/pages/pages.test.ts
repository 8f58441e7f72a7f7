import { describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { type Config, parseConfig } from '../../src/config/config.ts';
import { diagnosePage } from '../../src/diagnose/page.ts';
import { helpHtml, helpText } from '../../src/pages/help.ts';

const SCRIPT = '<script>alert(1)</script>';
const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;';
/** Markup a hostile value would open: a script, an element with a handler. */
const UNESCAPED = /<script|<img/i;

describe('help page (HTML): every value is escaped', () => {
  test('hostile values in the configuration and the base URL are text, never markup', () => {
    const parsed = parseConfig({ CORSWAY_ALLOW_ORIGINS: 'https://app.example.com' });
    const origins = Object.assign((o: string) => o === 'https://app.example.com', { entries: [SCRIPT] });
    const config: Config = {
      ...parsed,
      allowOrigins: origins,
      requireHeader: [`x-'"><img src=x onerror=alert(1)>`],
      allowContentTypes: [SCRIPT],
    };
    const page = helpHtml(config, `http://proxy.test/"><script>alert(1)</script>`);
    expect(page).not.toMatch(UNESCAPED);
    expect(page).toContain(`<tr><th scope="row">Allowed origins</th><td>${ESCAPED}</td></tr>`);
    expect(page).toContain('one of x-&#39;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain(`href="http://proxy.test/&quot;&gt;${ESCAPED}/diagnose"`);
  });

  test('sizes read as sizes: 10 MiB, not 10485760 bytes; the shared layout frames it', () => {
    const page = helpHtml(parseConfig({ CORSWAY_MAX_RESPONSE_BYTES: '1572864' }), 'http://proxy.test');
    expect(page).toContain('<tr><th scope="row">Largest request body</th><td>10 MiB</td></tr>');
    expect(page).toContain('<td>1.5 MiB (1572864 bytes)</td>');
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/);
    expect(page).toContain('<title>corsway: a CORS proxy</title>');
    expect(helpText(parseConfig({}), 'http://proxy.test')).toContain('Largest request body: 10 MiB');
  });
});

describe('help page: secrets are counted or named by host, never shown', () => {
  test('CORSWAY_KEYS and CORSWAY_TARGET_HEADERS -> how many keys, which hosts; no key, no header value', () => {
    const key = 'k-never-on-the-page-0123';
    const config = parseConfig({
      CORSWAY_KEYS: JSON.stringify([{ key }, { key: `${key}-2` }]),
      CORSWAY_ANONYMOUS: 'off',
      CORSWAY_TARGET_HEADERS: '{"api.example.com": {"Authorization": "Bearer never-on-the-page"}}',
    });
    for (const page of [helpHtml(config, 'http://proxy.test'), helpText(config, 'http://proxy.test')]) {
      expect(page).toMatch(/Access keys \(X-Corsway-Key\)(<\/th><td>|: )2 keys/);
      expect(page).toMatch(/Target headers set for(<\/th><td>|: )api\.example\.com/);
      expect(page).toMatch(/Requests without an access key(<\/th><td>|: )refused/);
      expect(page).not.toContain('never-on-the-page');
      expect(page).not.toContain('Bearer');
    }
  });
});

describe('/diagnose page: every value is escaped', () => {
  test('hostile form fields and a hostile refusal message are text, never markup', () => {
    const page = diagnosePage({
      action: '/diagnose"><script>alert(1)</script>',
      fields: {
        url: `https://api.example.com/${SCRIPT}`,
        origin: '"><img src=x onerror=alert(1)>',
        method: SCRIPT,
        headers: SCRIPT,
        'content-type': SCRIPT,
        credentials: SCRIPT,
        read: SCRIPT,
      },
      diagnosis: null,
      error: { code: SCRIPT, message: '<img src=x onerror=alert(1)>' },
    });
    expect(page).not.toMatch(UNESCAPED);
    expect(page).toContain(`name="method" value="${ESCAPED}"`);
    expect(page).toContain('<form method="get" action="/diagnose&quot;&gt;');
    expect(page).toContain('<meta name="robots" content="noindex">');
  });

  test('GET /diagnose/<target> with a hostile query, against a target answering hostile headers -> all escaped', async () => {
    const app = createApp(parseConfig({}), {
      clientAddress: () => '203.0.113.1',
      upstream: async () => ({
        status: 200,
        headers: new Headers({
          'access-control-allow-origin': SCRIPT,
          'access-control-allow-headers': '"><img src=x onerror=alert(1)>',
          'x-evil': `${SCRIPT}"'&`,
        }),
        body: null,
      }),
    });
    const get = (query: Record<string, string>) =>
      app.request(`http://proxy.test/diagnose/https://api.example.com/x?${new URLSearchParams(query)}`, {
        headers: { accept: 'text/html' },
      });

    const refused = await get({ origin: 'https://app.test', read: `x-evil,${SCRIPT}`, headers: SCRIPT });
    const refusal = await refused.text();
    expect(refused.status).toBe(400);
    expect(refusal).toContain('Not diagnosed');
    expect(refusal).toContain(ESCAPED);
    expect(refusal).not.toMatch(UNESCAPED);

    const res = await get({ origin: 'https://app.test', method: 'PUT', headers: 'x-a', read: 'x-evil' });
    const page = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page).toContain('Blocked');
    expect(page).toContain(ESCAPED);
    expect(page).not.toMatch(UNESCAPED);
  });
});
