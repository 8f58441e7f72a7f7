import type { RequestBody } from '../core/body.ts';
import { ProxyError } from '../core/errors.ts';
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
  // As text: workerd's fetch converts a URL object at a cost (docs/decisions/worker-cpu.md).
  const res = await fetch(url.href, {
    method,
    headers: headers.record(),
    body: body ? nativeBody(body) : null,
    signal,
    redirect: 'manual',
    cache: 'no-store',
  });
  if (res.status >= 100 && res.status < 200 && res.status !== 101) {
    await res.body?.cancel();
    throw new ProxyError('upstream_failed', interimMessage(res.status));
  }
  return { status: res.status, headers: res.headers, body: res.body };
};

/*
 * workerd's HTTP client (kj HttpClientImpl::request) takes the first response
 * head it reads, a 1xx included, for the response, and the rest of the
 * connection, final response and all, for that 1xx's body. Parsing that raw
 * HTTP here would be a second HTTP parser in the proxy, so a 1xx is refused.
 * https://github.com/cloudflare/workers-sdk/issues/7185 (upstream:workerd)
 */
function interimMessage(status: number): string {
  return `The target sent an interim ${status} response before its final one, which the Workers runtime cannot pass on: it hands over the interim response in place of the final one. Call the target without this proxy, or through a corsway on Node, which skips interim responses.`;
}

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
