import { beforeAll, describe, expect, test } from 'vitest';
import { closedPort } from './ports.ts';
import { proxyKey } from './proxy-broker.ts';
import { freshProxy, sharedProxy } from './shared-proxy.ts';

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: string }).error;
}

describe('the run’s shared proxies', () => {
  test('the same settings in another order are one proxy; other settings or another runtime are not', () => {
    const a = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_TIMEOUT_MS: '1500' };
    const b = { CORSWAY_TIMEOUT_MS: '1500', CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' };
    expect(proxyKey('node', a)).toBe(proxyKey('node', b));
    expect(proxyKey('node', a)).not.toBe(proxyKey('worker', a));
    expect(proxyKey('node', a)).not.toBe(proxyKey('node', { ...a, CORSWAY_TIMEOUT_MS: '1501' }));
    expect(proxyKey('node', {})).not.toBe(proxyKey('node', { CORSWAY_ALLOW_PRIVATE_NETWORK: '' }));
  });

  // Started in beforeAll, whose timeout allows for a start on a busy machine.
  const starting = Promise.all([
    sharedProxy('node', { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }),
    sharedProxy('node', { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }),
    sharedProxy('node', {}),
  ]);
  let started: Awaited<typeof starting>;
  beforeAll(async () => {
    started = await starting;
  });

  test('sharedProxy(node, env) twice -> one running proxy, started with env; other settings -> another', async () => {
    const [first, again, defaults] = started;
    expect(again.url).toBe(first.url);
    expect(defaults.url).not.toBe(first.url);
    // The settings reached the proxy: only the one with the private network on goes to loopback.
    const target = `/http://127.0.0.1:${await closedPort()}/`;
    const [open, guarded] = await Promise.all([fetch(first.url + target), fetch(defaults.url + target)]);
    expect(await errorCode(open)).toBe('upstream_failed');
    expect(await errorCode(guarded)).toBe('target_not_allowed');
  });
});

describe('a file’s own proxies', () => {
  const env = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', CORSWAY_RATE_LIMIT: '1/1m' };
  const starting = Promise.all([freshProxy('worker', env), freshProxy('worker', env), sharedProxy('worker', {})]);
  let started: Awaited<typeof starting>;
  beforeAll(async () => {
    started = await starting;
  });

  test('freshProxy(worker, env) twice -> two proxies of their own; a client-sent CF-Connecting-IP is replaced', async () => {
    const [first, second, shared] = started;
    expect(new Set([first.url, second.url, shared.url]).size).toBe(3);
    const target = `/http://127.0.0.1:${await closedPort()}/`;
    const as = (ip: string) => ({ headers: { 'cf-connecting-ip': ip } });
    // One budget for both "clients", as behind Cloudflare's edge from one address; the other proxy's is untouched.
    expect((await fetch(first.url + target, as('203.0.113.1'))).status).toBe(502);
    expect(await errorCode(await fetch(first.url + target, as('203.0.113.2')))).toBe('rate_limited');
    expect((await fetch(second.url + target, as('203.0.113.1'))).status).toBe(502);
  });

  test('stop() -> the proxy no longer answers', async () => {
    const [first] = started;
    await first.stop();
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();
  });
});
