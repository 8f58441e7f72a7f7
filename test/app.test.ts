import { describe, expect, test } from 'vitest';
import { createApp } from '../src/app.ts';
import { parseConfig } from '../src/config/config.ts';
import type { UpstreamRequest } from '../src/core/upstream.ts';

/** The app with an in-process upstream that records what it was asked and never touches the network. */
function appWithRecorder() {
  const seen: Array<{ method: string; url: string; body: string | null }> = [];
  const app = createApp(parseConfig({}), {
    clientAddress: () => '203.0.113.1',
    upstream: async (req: UpstreamRequest) => {
      seen.push({
        method: req.method,
        url: req.url.href,
        body: req.body ? await new Response(req.body.stream()).text() : null,
      });
      return {
        status: 200,
        headers: new Headers({ 'content-type': 'text/plain', 'content-length': '5' }),
        body: new Response('hello').body,
      };
    },
  });
  return { app, seen };
}

describe('methods through the app (in-process upstream)', () => {
  test('HEAD /https://api.example.com/x -> forwarded as HEAD (Hono routes HEAD as GET), no body', async () => {
    const { app, seen } = appWithRecorder();
    const res = await app.request('http://proxy.test/https://api.example.com/x', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(seen.map((s) => s.method)).toEqual(['HEAD']);
    expect(await res.text()).toBe('');
  });

  test('GET //api.example.com/x -> the target is https://api.example.com/x, the proxy host unchanged', async () => {
    const { app, seen } = appWithRecorder();
    const res = await app.request('http://proxy.test//api.example.com/x');
    expect(res.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['https://api.example.com/x']);
  });
});
