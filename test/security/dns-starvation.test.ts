import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ROOT } from '../support/runtimes.ts';

/*
 * DNS starvation (issue 20 item 1), in a network namespace this test creates
 * (`unshare -rmn`: a private loopback, nothing reaches the machine's network).
 * Inside it, a DNS server on 127.0.0.1:53 never answers eight names; the
 * system's resolv.conf and hosts file are replaced by the test's own.
 */
let dir = '';
let result: {
  lookupMs: number;
  healthy: { status: number; body: string; ms: number };
  hosts: { status: number; body: string };
  missing: { status: number; body: string };
  silent: { status: number; body: string }[];
  queries: string[];
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corsway-netns-'));
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n');
  await writeFile(join(dir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 hosts-only.test\n');
  const script = [
    'ip link set lo up',
    'mount --bind "$1/resolv.conf" /etc/resolv.conf',
    'mount --bind "$1/hosts" /etc/hosts',
    'exec "$2" --import tsx test/security/netns/dns-starvation.ts',
  ].join(' && ');
  const child = spawn('unshare', ['-rmn', 'sh', '-c', script, 'sh', dir, process.execPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`the namespace scenario failed (exit ${code}); it needs unshare -rmn (user namespaces):\n${err}`);
  }
  result = JSON.parse(line);
}, 90_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('control: with eight silent names pending, dns.lookup of a healthy name waits for the thread pool (>= 1.5 s)', () => {
  expect(result.lookupMs).toBeGreaterThanOrEqual(1500);
});

test('GET /http://healthy2.test/ while eight requests wait on silent names -> 200 within 1 s', () => {
  expect(result.healthy).toMatchObject({ status: 200, body: 'ok' });
  // Far below what starvation costs (the control), with room for a loaded runner.
  expect(result.healthy.ms).toBeLessThan(1000);
});

test('GET /http://hosts-only.test/ (in the hosts file, unknown to DNS) -> 200, DNS never asked', () => {
  expect(result.hosts).toMatchObject({ status: 200, body: 'ok' });
  expect(result.queries.filter((q) => q.startsWith('hosts-only.test'))).toEqual([]);
});

test('GET /http://silent0.test/ ... (DNS never answers) -> 502 upstream_failed naming the URL and the DNS timeout', () => {
  expect(result.silent).toHaveLength(8);
  for (const [i, { status, body }] of result.silent.entries()) {
    expect(status).toBe(502);
    const { error, message } = JSON.parse(body);
    expect(error).toBe('upstream_failed');
    expect(message).toContain(`http://silent${i}.test:`);
    expect(message).toContain(`DNS gave no answer for silent${i}.test`);
  }
});

test('GET /http://nowhere.test/ (NXDOMAIN) -> 502 upstream_failed naming the URL and suggesting a typo', () => {
  expect(result.missing.status).toBe(502);
  const { error, message } = JSON.parse(result.missing.body);
  expect(error).toBe('upstream_failed');
  expect(message).toMatch(
    /^Fetching http:\/\/nowhere\.test:\d+\/ failed: the host name nowhere\.test does not exist in DNS\. Check it for a typo\./,
  );
});
