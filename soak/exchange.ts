import { createHash } from 'node:crypto';
import { type Agent, type IncomingHttpHeaders, request } from 'node:http';

/** What one request gave the client. */
export interface Exchange {
  status: number | null;
  headers: IncomingHttpHeaders;
  /** The body as received (only kept when `keep` asked for it). */
  body: Buffer;
  bytes: number;
  sha256: string;
  /** The response began and its body was cut before its end. */
  cut: boolean;
  /** A socket or request error code (ECONNRESET, ECONNREFUSED ...), when one happened. */
  error: string | null;
  ms: number;
}

export interface ExchangeOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  agent: Agent | false;
  /** Keep the body bytes (small answers only). @default false */
  keep?: boolean;
  /** Destroy the request once this many response bytes arrived (a client that gives up). */
  abortAfterBytes?: number;
  /** Send this many body bytes, then destroy the request (an upload given up). */
  abortUploadAfter?: number;
  /** Pause this long after each chunk read (a slow reader: backpressure). @default 0 */
  readPauseMs?: number;
  /** Give up after this long. @default 30 s */
  timeoutMs?: number;
}

/** One request over node:http, the body hashed as it streams. Never throws. */
export function exchange(url: string, options: ExchangeOptions): Promise<Exchange> {
  const started = performance.now();
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  const result: Exchange = {
    status: null,
    headers: {},
    body: Buffer.alloc(0),
    bytes: 0,
    sha256: '',
    cut: false,
    error: null,
    ms: 0,
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.sha256 = hash.digest('hex');
      if (options.keep) result.body = Buffer.concat(chunks);
      result.ms = performance.now() - started;
      resolve(result);
    };
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent });
    const timer = setTimeout(() => {
      result.error ??= 'CLIENT_TIMEOUT';
      req.destroy();
      done();
    }, options.timeoutMs ?? 30_000);
    req.on('error', (error: NodeJS.ErrnoException) => {
      result.error ??= error.code ?? error.message;
      if (result.status !== null) result.cut = true;
      done();
    });
    req.on('response', (res) => {
      result.status = res.statusCode ?? null;
      result.headers = res.headers;
      res.on('data', (chunk: Buffer) => {
        result.bytes += chunk.length;
        hash.update(chunk);
        if (options.keep) chunks.push(chunk);
        if (options.abortAfterBytes !== undefined && result.bytes >= options.abortAfterBytes) {
          result.error = 'CLIENT_ABORT';
          req.destroy();
          done();
          return;
        }
        if (options.readPauseMs) {
          res.pause();
          setTimeout(() => res.resume(), options.readPauseMs);
        }
      });
      res.on('aborted', () => {
        result.cut = true;
      });
      res.on('error', (error: NodeJS.ErrnoException) => {
        result.cut = true;
        result.error ??= error.code ?? error.message;
        done();
      });
      res.on('end', () => {
        if (!res.complete) result.cut = true;
        done();
      });
      res.on('close', () => {
        if (!res.complete) result.cut = true;
        done();
      });
    });
    const body = options.body;
    if (body && options.abortUploadAfter !== undefined) {
      req.write(body.subarray(0, options.abortUploadAfter), () => {
        setTimeout(() => {
          result.error = 'CLIENT_ABORT';
          req.destroy();
          done();
        }, 50);
      });
    } else {
      req.end(body);
    }
  });
}
