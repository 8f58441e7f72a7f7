import { describe, expect, test } from 'vitest';
import { RUNTIMES } from '../support/runtimes.ts';
import { sharedProxy, suiteProxy } from '../support/shared-proxy.ts';
import { Upstream } from '../support/upstream.ts';

describe.each(RUNTIMES)('%s: server-sent events', (runtime) => {
  /** Resolved by the test once the client has read the first event. */
  let firstEventRead: () => void = () => {};
  let upstreamEnded = false;
  const upstream = new Upstream({
    '/events': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('id: 1\ndata: first\n\n');
      // The upstream holds the stream open until the client proves it got event 1
      // (or 20 s pass, which fails the test below).
      await new Promise<void>((resolve) => {
        firstEventRead = resolve;
        setTimeout(resolve, 20_000).unref();
      });
      res.write('id: 2\ndata: second\n\n');
      upstreamEnded = true;
      res.end('id: 3\ndata: last\n\n');
    },
  });

  const proxy = suiteProxy(sharedProxy(runtime, { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' }), upstream);

  test('GET /http://127.0.0.1:<port>/events -> the first event reaches the client before the upstream ends', async () => {
    const res = await fetch(`${proxy.url}/${upstream.origin}/events`, {
      headers: { accept: 'text/event-stream', origin: 'https://app.test' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n\n')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toBe('id: 1\ndata: first\n\n');
    expect(upstreamEnded).toBe(false);
    firstEventRead();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toBe('id: 1\ndata: first\n\nid: 2\ndata: second\n\nid: 3\ndata: last\n\n');
  });
});
