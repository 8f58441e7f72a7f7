/*
 * Runs inside the network and mount namespace that dns-starvation.test.ts
 * creates: its own loopback, this DNS server on 127.0.0.1:53 as the system's
 * only name server, and a hosts file of its own. Prints one JSON line.
 */
import { lookup } from 'node:dns/promises';
import { DnsServer } from '../../support/dns-server.ts';
import { startNode } from '../../support/runtimes.ts';
import { Upstream } from '../../support/upstream.ts';

const SILENT = Array.from({ length: 8 }, (_, i) => `silent${i}.test`);
const dns = await new DnsServer({
  'healthy.test': { addresses: ['127.0.0.1'] },
  'healthy2.test': { addresses: ['127.0.0.1'] },
  ...Object.fromEntries(SILENT.map((name) => [name, 'silent' as const])),
}).start(53);
const upstream = await new Upstream({
  '/': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  },
}).start();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Control: getaddrinfo (dns.lookup) shares libuv's four threads, so the silent names starve a healthy one.
const starving = SILENT.map((name) => lookup(name).catch(() => null));
await delay(100);
let started = Date.now();
await lookup('healthy.test');
const lookupMs = Date.now() - started;
await Promise.all(starving);

const proxy = await startNode({ CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' });
try {
  const at = (name: string) => `${proxy.url}/http://${name}:${upstream.port}/`;
  // A first request warms the proxy's code paths, so the timing below is DNS's alone.
  await (await fetch(at('127.0.0.1'))).text();
  const slow = SILENT.map((name) =>
    fetch(at(name)).then(async (res) => ({ status: res.status, body: await res.text() })),
  );
  await delay(200);
  started = Date.now();
  const healthy = await fetch(at('healthy2.test'));
  const healthyMs = Date.now() - started;
  const healthyBody = await healthy.text();
  const hosts = await fetch(at('hosts-only.test'));
  const missing = await fetch(at('nowhere.test'));
  started = Date.now();
  const failed = await Promise.all(slow);
  console.log(
    JSON.stringify({
      lookupMs,
      healthy: { status: healthy.status, body: healthyBody, ms: healthyMs },
      hosts: { status: hosts.status, body: await hosts.text() },
      missing: { status: missing.status, body: await missing.text() },
      silent: failed,
      silentWaitMs: Date.now() - started,
      queries: dns.queries,
    }),
  );
} finally {
  await proxy.stop();
  await upstream.stop();
  await dns.stop();
}
