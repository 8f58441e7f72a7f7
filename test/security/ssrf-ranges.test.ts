import { describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/config.ts';
import type { Upstream, UpstreamRequest } from '../../src/core/upstream.ts';

/*
 * Non-public destinations outside loopback (cloud metadata, RFC 1918, CGNAT,
 * multicast, documentation ...). A real proxy must never be sent there, not
 * even to be refused, so these cases go through the real app in-process with
 * an upstream that records what it was asked to fetch and connects nowhere.
 * The refusal must come before the upstream is asked at all.
 */

const asked: UpstreamRequest[] = [];
const recorder: Upstream = async (request) => {
  asked.push(request);
  return { status: 200, headers: new Headers({ 'content-type': 'text/plain' }), body: null };
};

function app(env: Record<string, string> = {}) {
  return createApp(parseConfig(env), { upstream: recorder, clientAddress: () => '192.0.2.1' });
}

const REFUSED = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://2852039166/latest/meta-data/',
  'http://0xa9fea9fe/',
  'http://0251.0376.0251.0376/',
  'http://169.254.43518/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[64:ff9b::169.254.169.254]/',
  'http://[2002:a9fe:a9fe::]/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://10.0.0.1/',
  'http://10.255.255.255/',
  'http://172.16.0.1/',
  'http://172.31.255.254/',
  'http://192.168.0.1/',
  'http://0xc0a80001/',
  'http://100.64.0.1/',
  'http://100.127.255.254/',
  'http://224.0.0.1/',
  'http://239.255.255.250/',
  'http://255.255.255.255/',
  'http://0.0.0.0/',
  'http://192.0.0.1/',
  'http://192.0.2.1/',
  'http://198.51.100.1/',
  'http://203.0.113.1/',
  'http://198.18.0.1/',
  'http://240.0.0.1/',
  'http://[fe80::1]/',
  'http://[fc00::1]/',
  'http://[fd12:3456:789a::1]/',
  'http://[ff02::1]/',
  'http://[2001:db8::1]/',
  'http://[100::1]/',
  'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/',
  'http://[::ffff:10.0.0.1]/',
  'http://[::10.0.0.1]/',
];

describe('non-public destinations are refused before any upstream request', () => {
  const proxy = app();

  test.each(REFUSED)('GET /%s -> 403 target_not_allowed', async (target) => {
    const before = asked.length;
    const res = await proxy.request(`/${target}`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('target_not_allowed');
    expect(asked.length).toBe(before);
  });

  // A name is not refused by its spelling: the Node upstream resolves it and
  // refuses at connect time (dns-guard.test.ts); Workers cannot reach it.
  test('GET /http://metadata.google.internal./ -> handed to the upstream, which checks the resolved address', async () => {
    const res = await proxy.request('/http://metadata.google.internal./');
    expect(res.status).toBe(200);
    expect(asked.at(-1)?.url.hostname).toBe('metadata.google.internal.');
  });

  test.each([
    'http://[::ffff:8.8.8.8]/',
    'http://[64:ff9b::8.8.8.8]/',
    'http://[2002:808:808::]/',
    'http://134744072/',
  ])('GET /%s -> handed to the upstream: it embeds a public IPv4 address', async (target) => {
    const before = asked.length;
    const res = await proxy.request(`/${target}`);
    expect(res.status).toBe(200);
    expect(asked.length).toBe(before + 1);
  });

  test('GET /http://169.254.169.254/ with CORSWAY_ALLOW_PRIVATE_NETWORK=on -> handed to the upstream', async () => {
    const before = asked.length;
    const res = await app({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }).request('/http://169.254.169.254/');
    expect(res.status).toBe(200);
    expect(asked.length).toBe(before + 1);
  });

  test('GET /http://10.0.0.1/ with CORSWAY_ALLOW_TARGETS=api.example.com -> 403 target_not_allowed', async () => {
    const before = asked.length;
    const res = await app({ CORSWAY_ALLOW_TARGETS: 'api.example.com' }).request('/http://10.0.0.1/');
    expect(res.status).toBe(403);
    expect(asked.length).toBe(before);
  });
});
