import { gzipSync } from 'node:zlib';

/*
 * The bodies the benchmark upstream serves, built the same way by the
 * upstream and by the checks in run.ts.
 */

/** Scenario 1: a small JSON answer, like an API's status endpoint. */
export const SMALL_JSON = '{"ok":true,"id":42,"name":"corsway"}';

/** Scenario 9: a 10 KiB JSON answer that a shared cache may keep for an hour. */
export const CACHEABLE_JSON = JSON.stringify({ items: 'x'.repeat(10 * 1024 - 12) });

export const MEDIUM_BYTES = 256 * 1024;
export const UPLOAD_BYTES = 64 * 1024;
export const GZIP_PLAIN_BYTES = 100 * 1024;

/** Scenario 4: 100 KiB of JSON-like text, gzip-encoded once at startup. */
export function gzipBody(): Buffer {
  const rows: string[] = [];
  let size = 2;
  for (let i = 0; size < GZIP_PLAIN_BYTES; i++) {
    const row = `{"id":${i},"name":"item ${i}","tags":["a${i % 7}","b${i % 13}"],"price":${(i * 37) % 1000}}`;
    rows.push(row);
    size += row.length + 1;
  }
  const text = `[${rows.join(',')}]`.slice(0, GZIP_PLAIN_BYTES);
  return gzipSync(text, { level: 6 });
}
