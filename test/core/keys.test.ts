import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { fingerprint, keyRing } from '../../src/core/keys.ts';
import { originMatcher, parseOriginPattern } from '../../src/core/origin.ts';

/** The keys as the settings table parses CORSWAY_KEYS, ready to look up. */
const parseKeys = (json: string) => keyRing(parseConfig({ CORSWAY_KEYS: json }).keys);

const APP = 'app-key-0123456789abcdef';
const OTHER = 'other-key-0123456789abcdef';

describe('access keys', () => {
  const ring = parseKeys(
    JSON.stringify([
      { key: APP, origins: ['https://app.example.com', 'https://*.example.org'], rateLimit: '600/1m' },
      { key: OTHER, bandwidthLimit: '1048576/1d' },
    ]),
  );

  test('a known key is found with its policy, named by a fingerprint of its SHA-256', async () => {
    const key = await ring.find(APP);
    expect(key?.fingerprint).toBe(await fingerprint(APP));
    expect(key?.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(key?.budget).toMatch(/^[0-9a-f]{64}$/);
    expect(key?.rateLimit).toEqual({ limit: 600, windowSeconds: 60 });
    expect(key?.bandwidthLimit).toBeNull();
    expect(key?.origins?.('https://app.example.com')).toBe(true);
    expect(key?.origins?.('https://deep.a.example.org')).toBe(true);
    expect(key?.origins?.('https://example.org')).toBe(false);
    const other = await ring.find(OTHER);
    expect(other?.origins).toBeNull();
    expect(other?.bandwidthLimit).toEqual({ limit: 1048576, windowSeconds: 86400 });
    expect(other?.budget).not.toBe(key?.budget);
  });

  test.each(['', APP.slice(0, -1), `${APP}x`, APP.toUpperCase(), ` ${APP}`])('%j is no key', async (guess) => {
    expect(await ring.find(guess)).toBeNull();
  });
});

// One hyphen at most: never a punycode prefix (`xn--`), which must be valid IDNA to parse.
const label = fc.stringMatching(/^[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4})?$/);
const domain = fc.array(label, { minLength: 2, maxLength: 3 }).map((l) => l.join('.'));
const scheme = fc.constantFrom('http', 'https');

describe('key origins (fast-check): the same matcher as CORSWAY_ALLOW_ORIGINS', () => {
  test('a key pinned to a list accepts exactly the origins the origin allow list would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(scheme, fc.boolean(), domain), { minLength: 1, maxLength: 3 }),
        scheme,
        fc.array(label, { maxLength: 2 }),
        domain,
        async (entries, requestScheme, sub, host) => {
          const origins = entries.map(([s, wild, d]) => `${s}://${wild ? '*.' : ''}${d}`);
          const ring = parseKeys(JSON.stringify([{ key: APP, origins }]));
          const key = await ring.find(APP);
          const lists = originMatcher(origins.map(parseOriginPattern));
          // Origins near the entries: the same hosts, their subdomains, and unrelated ones.
          const near = entries[0]?.[2] ?? host;
          for (const origin of [
            `${requestScheme}://${host}`,
            `${requestScheme}://${near}`,
            `${requestScheme}://${[...sub, near].join('.')}`,
            `${requestScheme}://evil-${near}`,
          ]) {
            expect(key?.origins?.(origin)).toBe(lists(origin));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a wildcard key matches subdomains at any depth, never the bare domain nor a look-alike', async () => {
    await fc.assert(
      fc.asyncProperty(domain, fc.array(label, { minLength: 1, maxLength: 3 }), async (d, sub) => {
        const key = await parseKeys(JSON.stringify([{ key: APP, origins: [`https://*.${d}`] }])).find(APP);
        expect(key?.origins?.(`https://${[...sub, d].join('.')}`)).toBe(true);
        expect(key?.origins?.(`https://${d}`)).toBe(false);
        expect(key?.origins?.(`https://evil${d}`)).toBe(false);
        expect(key?.origins?.(`http://${[...sub, d].join('.')}`)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
