import type { RequestBody } from '../core/body.ts';
import type { Upstream } from '../core/upstream.ts';

/**
 * Workers' global fetch, told not to follow redirects so each hop is checked.
 * Not fetch-upstream.ts: that one drops Content-Encoding for runtimes that
 * would send the decoded body as it is, whereas workerd compresses a body
 * again for a response that keeps the header, so compression survives here.
 * `cache: 'no-store'`: a target's response is never stored by URL in
 * Cloudflare's cache and handed to another user (CORSWAY_CACHE decides that).
 */
export const upstream: Upstream = async ({ url, method, headers, body, signal }) => {
  const res = await fetch(url, {
    method,
    headers: headers.pairs(),
    body: body ? nativeBody(body) : null,
    signal,
    redirect: 'manual',
    cache: 'no-store',
  });
  return { status: res.status, headers: res.headers, body: res.body };
};

/**
 * A declared length goes out with the client's Content-Length (targets such
 * as S3 presigned PUTs refuse a chunked upload): past the 1 MiB replay copy as
 * the client's own stream, which workerd passes natively with its length (a
 * 10 MiB upload: 4 ms of CPU, 10.5 through FixedLengthStream); within it, the
 * kept copy framed by FixedLengthStream. A chunked upload streams through JS,
 * which counts it against CORSWAY_MAX_BODY_BYTES.
 */
function nativeBody(body: RequestBody): ReadableStream<Uint8Array> {
  const { declared } = body;
  if (!declared) return body.stream();
  return declared.source ?? body.stream().pipeThrough(new FixedLengthStream(declared.length));
}
