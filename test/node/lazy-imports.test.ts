import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningProxy, startCommand } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';

/*
 * Target 3 of issue 26 (idle memory): a Node server loads only what its
 * configuration uses. The server runs with a preload that names every module
 * it resolves (test/support/module-log.ts); a module that is never resolved
 * costs no memory, which this checks without measuring any.
 */

const START = [process.execPath, '--import', 'tsx', '--import', './test/support/module-log.ts', 'src/node/main.ts'];

/** Modules a default configuration proxies without: the app's pages, the cache, metrics, Redis, undici's index. */
const UNUSED: Record<string, RegExp> = {
  hono: /\/node_modules\/hono\//,
  '@hono/node-server': /\/node_modules\/@hono\/node-server\//,
  'src/app.ts': /\/src\/app\.ts$/,
  'src/pages/': /\/src\/pages\//,
  'src/diagnose/': /\/src\/diagnose\//,
  'src/cache/': /\/src\/cache\//,
  'src/observe/metrics.ts': /\/src\/observe\/metrics\.ts$/,
  'src/limiters/redis.ts': /\/src\/limiters\/redis\.ts$/,
  redis: /\/node_modules\/(@redis|redis)\//,
  "undici's index": /\/node_modules\/undici\/index\.js$/,
};

function modules(proxy: RunningProxy): string[] {
  return [...proxy.output().matchAll(/^module: (.+)$/gm)].map((match) => match[1] as string);
}

function loaded(proxy: RunningProxy, pattern: RegExp): boolean {
  return modules(proxy).some((url) => pattern.test(url));
}

async function start(env: Record<string, string>): Promise<RunningProxy> {
  return startCommand(
    START[0] as string,
    START.slice(1),
    {
      ...process.env,
      CORSWAY_LOG_LEVEL: 'silent',
      CORSWAY_ALLOW_PRIVATE_NETWORK: 'on',
      HOST: '127.0.0.1',
      PORT: '0',
      ...env,
    },
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
  );
}

let upstream: Upstream;
beforeAll(async () => {
  upstream = await new Upstream().start();
});
afterAll(async () => {
  await upstream.stop();
});

describe('a Node server loads what its configuration uses', { timeout: 90_000 }, () => {
  test('default configuration: proxies without the pages, cache, metrics, Redis or all of undici; the pages load on their first request', async () => {
    const proxy = await start({});
    try {
      const proxied = await fetch(`${proxy.url}/${upstream.origin}/data`, {
        headers: { origin: 'https://app.example' },
      });
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('access-control-allow-origin')).toBe('https://app.example');
      await proxied.arrayBuffer();
      // The log works: the proxy's own core was resolved. (undici's parts are
      // required, which this hook does not see on Node 20: test/node/undici.test.ts.)
      await eventually(() => loaded(proxy, /\/src\/core\/proxy\.ts$/));
      for (const [name, pattern] of Object.entries(UNUSED)) expect(loaded(proxy, pattern), name).toBe(false);
      // ipaddr.js is CommonJS: src/core/ipaddr.cjs requires it, so the ESM loader (whose
      // resolves this log shows) never translates it, which cost about 4.5 MB idle on Node 20.
      expect(loaded(proxy, /\/src\/core\/ipaddr\.cjs$/), 'src/core/ipaddr.cjs').toBe(true);
      expect(loaded(proxy, /\/node_modules\/ipaddr\.js\//), 'ipaddr.js through the ESM loader').toBe(false);

      const help = await fetch(`${proxy.url}/`, { headers: { accept: 'text/html' } });
      expect(help.status).toBe(200);
      expect(help.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await help.text()).toContain('corsway');
      // The hook writes from its own thread, so its lines may trail the response.
      await eventually(() => loaded(proxy, /\/src\/app\.ts$/) && loaded(proxy, /\/src\/pages\/help\.ts$/));
      // Loaded once: later pages reuse the app.
      const health = await fetch(`${proxy.url}/healthz`);
      expect(await health.text()).toBe('ok');
    } finally {
      await proxy.stop();
    }
  });

  test('CORSWAY_CACHE and CORSWAY_METRICS: the cache and the counters load at start', async () => {
    const proxy = await start({
      CORSWAY_CACHE: 'on',
      CORSWAY_METRICS: 'on',
      CORSWAY_METRICS_TOKEN: 'a-long-enough-token-0123456789',
    });
    try {
      await eventually(
        () =>
          loaded(proxy, /\/src\/node\/listener\.ts$/) &&
          loaded(proxy, /\/src\/cache\/layer\.ts$/) &&
          loaded(proxy, /\/src\/observe\/metrics\.ts$/),
      );
      const proxied = await fetch(`${proxy.url}/${upstream.origin}/data`, {
        headers: { origin: 'https://app.example' },
      });
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('cache-status')).toMatch(/corsway/);
    } finally {
      await proxy.stop();
    }
  });
});
