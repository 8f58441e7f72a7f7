import { beforeAll, describe, expect, test } from 'vitest';
import { closedPort } from './ports.ts';
import { proxyKey } from './proxy-broker.ts';
import { sharedProxy } from './shared-proxy.ts';

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
