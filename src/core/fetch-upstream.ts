import type { Upstream } from './upstream.ts';

/** Content codings that `fetch` decodes itself (Fetch standard, "HTTP-network fetch"). */
const DECODED_BY_FETCH = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/**
 * An upstream on the runtime's global `fetch`, told not to follow redirects so
 * the app checks each hop. It cannot see which address a name resolved to, so
 * only the target's spelling is checked; on Node, prefer `nodeUpstream` from
 * `corsway/node`, which refuses non-public addresses at connect time.
 */
export const fetchUpstream: Upstream = async ({ url, method, headers, body, signal }) => {
  const init: RequestInit & { duplex?: 'half' } = {
    method,
    headers: headers.pairs(),
    body: body?.stream() ?? null,
    signal,
    redirect: 'manual',
  };
  // A streamed request body needs half duplex on Node (undici); others ignore it.
  if (body) init.duplex = 'half';
  const res = await fetch(url, init);
  const out = new Headers(res.headers);
  // fetch hands over a decoded body but keeps the headers that described the
  // encoded one; relayed as they are, they would no longer match the bytes.
  const codings =
    out
      .get('content-encoding')
      ?.toLowerCase()
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean) ?? [];
  if (codings.length > 0 && codings.every((c) => DECODED_BY_FETCH.has(c))) {
    out.delete('content-encoding');
    out.delete('content-length');
  }
  return { status: res.status, headers: out, body: res.body };
};
