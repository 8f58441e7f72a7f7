import { Agent, request } from 'node:http';
import type { Load } from './wrk.ts';

/*
 * Single exchanges with node:http, which (unlike fetch) neither decodes
 * bodies nor hides hop-by-hop headers: what is checked is what was on the wire.
 */

export interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export function exchange(url: string, load: Load, agent: Agent | false = false, timeoutMs = 30_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: load.method, headers: load.headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(load.bodyBytes ? Buffer.alloc(load.bodyBytes, 'x') : undefined);
  });
}

/** Downloads `url` and throws away the bytes; resolves with how many arrived and how long it took. */
export function download(url: string, headers: Record<string, string>, timeoutMs: number) {
  return new Promise<{ bytes: number; seconds: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    const req = request(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url} answered ${res.statusCode}`));
        return;
      }
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`download took longer than ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Opens `count` keep-alive connections, each carrying one request at the same
 * time, and leaves them idle in the returned agent.
 */
export async function idleClients(
  url: string,
  load: Load,
  count: number,
): Promise<{ agent: Agent; held: () => number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count, scheduling: 'fifo' });
  await Promise.all(Array.from({ length: count }, () => exchange(url, load, agent, 60_000)));
  const held = () => Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
  return { agent, held };
}
