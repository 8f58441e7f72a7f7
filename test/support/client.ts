import { request } from 'node:http';

/** One exchange, as a browser app would see it. */
export interface Exchange {
  status: number;
  headers: Headers;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /**
   * The loopback address to send from (any of 127.0.0.0/8 works on Linux), so
   * one test run can play many clients with real, distinct socket addresses.
   * @default the system's choice
   */
  from?: string;
}

/** Sends one request with node:http (fetch cannot pick its source address). */
export function send(url: string, options: SendOptions = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, localAddress: options.from, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : [value ?? '']) headers.append(name, v);
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The SPEC's error body. */
export function errorCode(exchange: Exchange): string {
  return (JSON.parse(exchange.body) as { error: string }).error;
}
