import { type IncomingHttpHeaders, request } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** A response read by node:http, which neither decodes bodies nor normalises the request path. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RawOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Abort when the response has not ended within this time. @default 20000 */
  timeoutMs?: number;
}

/**
 * Sends `path` exactly as given (no URL parsing, so `//x`, `%2F` and `..` reach
 * the proxy untouched) and reads the body as raw bytes, compressed or not.
 */
export function raw(base: string, path: string, options: RawOptions = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const headers = { ...options.headers };
  // node:http frames a body with neither header for DELETE and OPTIONS, which servers reject.
  if (options.body !== undefined && !headers['content-length'] && !headers['transfer-encoding']) {
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      },
    );
    req.setTimeout(options.timeoutMs ?? 20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const DECODERS: Record<string, (body: Buffer) => Buffer> = {
  gzip: gunzipSync,
  br: brotliDecompressSync,
  deflate: inflateSync,
};

/** The body as the client would read it, decoded per its Content-Encoding. */
export function decoded(res: RawResponse): Buffer {
  const encoding = res.headers['content-encoding'];
  if (!encoding) return res.body;
  const decode = DECODERS[encoding];
  if (!decode) throw new Error(`unexpected content-encoding ${encoding}`);
  return decode(res.body);
}

/** The JSON error body the SPEC prescribes, parsed. */
export function errorOf(res: RawResponse): { error: string; message: string } {
  return JSON.parse(decoded(res).toString('utf8')) as { error: string; message: string };
}
