import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An upstream route that is a correct CORS server: it reflects the origin,
 * allows whatever the preflight asks (credentials included) and exposes
 * `x-total`. The diagnosis suites' "allowed" baseline.
 */
export function permissive(req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string> = {
    'access-control-allow-origin': String(req.headers.origin),
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-total',
    vary: 'Origin',
    'x-total': '42',
  };
  if (req.method === 'OPTIONS') {
    headers['access-control-allow-methods'] = String(req.headers['access-control-request-method']);
    const asked = req.headers['access-control-request-headers'];
    if (asked) headers['access-control-allow-headers'] = String(asked);
  }
  res.writeHead(req.method === 'OPTIONS' ? 204 : 200, headers);
  res.end(req.method === 'OPTIONS' ? undefined : 'payload');
}
