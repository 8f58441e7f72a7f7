import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, type RunningProxy, startWorker } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';

/*
 * Numbers, booleans and arrays are normal in wrangler.toml [vars]; wrangler
 * hands them to the Worker typed, not as strings.
 */
describe('worker: typed [vars] in wrangler.toml (numbers, booleans, arrays)', () => {
  const upstream = new Upstream({
    '/hop': (req, res) => {
      const n = Number(req.url?.split('/').at(-1));
      res.writeHead(302, { location: `/hop/${n + 1}` }).end();
    },
  });
  let proxy: RunningProxy;
  let dir: string;

  beforeAll(async () => {
    await upstream.start();
    dir = await mkdtemp(join(tmpdir(), 'corsway-typed-vars-'));
    const base = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
    const setting = (key: string) => new RegExp(`^${key} = .*$`, 'm').exec(base)?.[0] ?? '';
    const config = join(dir, 'wrangler.toml');
    await writeFile(
      config,
      [
        'name = "corsway"',
        `main = ${JSON.stringify(join(ROOT, 'src/worker/main.ts'))}`,
        setting('compatibility_date'),
        setting('compatibility_flags'),
        '[vars]',
        'CORSWAY_ALLOW_PRIVATE_NETWORK = true',
        'CORSWAY_MAX_REDIRECTS = 1',
        'CORSWAY_MAX_AGE = 7',
        'CORSWAY_ALLOW_ORIGINS = ["https://app.test", "https://*.app.test"]',
        '',
      ].join('\n'),
    );
    proxy = await startWorker({}, ['--config', config]);
  }, 90_000);
  afterAll(async () => {
    await proxy?.stop();
    await upstream.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('GET / -> 200 help page, not 500 invalid_config', async () => {
    const res = await fetch(`${proxy.url}/`, { headers: { accept: 'text/plain', origin: 'https://app.test' } });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(body).toContain('Redirects followed: 1');
    expect(body).toContain('Allowed origins: https://app.test, https://*.app.test');
  });

  test('CORSWAY_MAX_AGE = 7 and the origin array: a preflight from a subdomain -> 204, Max-Age 7', async () => {
    const res = await fetch(`${proxy.url}/${upstream.origin}/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://a.app.test', 'access-control-request-method': 'PUT' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-max-age')).toBe('7');
  });

  test('CORSWAY_ALLOW_PRIVATE_NETWORK = true, CORSWAY_MAX_REDIRECTS = 1: one hop followed, the second refused', async () => {
    const headers = { origin: 'https://app.test' };
    const res = await fetch(`${proxy.url}/${upstream.origin}/data`, { headers });
    expect(res.status).toBe(200);
    const oneHop = await fetch(`${proxy.url}/${upstream.origin}/hop/0`, { headers, redirect: 'manual' });
    expect(oneHop.status).toBe(502);
    expect(await oneHop.json()).toMatchObject({ error: 'upstream_failed' });
    expect(upstream.hits.filter((h) => h.url.startsWith('/hop/')).map((h) => h.url)).toEqual(['/hop/0', '/hop/1']);
  });
});
