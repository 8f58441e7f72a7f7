import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { ProxyError } from '../../src/core/errors.ts';
import type { Upstream, UpstreamRequest } from '../../src/core/upstream.ts';
import { readQuestion } from '../../src/diagnose/params.ts';
import { diagnoseQuestion, type Run } from '../../src/diagnose/probe.ts';
import type { Diagnosis, Fields } from '../../src/diagnose/types.ts';

/*
 * The diagnosis with an injected upstream: no network. Each test answers the
 * requests a browser would make and checks what the diagnosis concludes.
 */

type Answer = (request: UpstreamRequest) => { status: number; headers?: Record<string, string> };

function runWith(
  answer: Answer,
  env: Record<string, string> = { CORSWAY_ALLOW_PRIVATE_NETWORK: 'on' },
  proxyBase = 'https://proxy.example',
) {
  const sent: UpstreamRequest[] = [];
  const upstream: Upstream = async (request) => {
    sent.push(request);
    const { status, headers } = answer(request);
    return { status, headers: new Headers(headers), body: null };
  };
  const run: Run = {
    config: parseConfig(env),
    upstream,
    signal: new AbortController().signal,
    userAgent: null,
    proxyBase,
  };
  return {
    sent,
    diagnose(fields: Fields): Promise<Diagnosis> {
      const { question, notes } = readQuestion(fields, null);
      return diagnoseQuestion(question, notes, run);
    },
  };
}

const ORIGIN = 'https://app.example';

describe('readQuestion(fields)', () => {
  test.each<[string, Fields, RegExp]>([
    ['no origin', { url: 'https://api.example/x' }, /^origin: say which page/],
    ['an origin that is not http(s)', { url: 'https://api.example/x', origin: 'ftp://x.example' }, /^origin:/],
    ['a bad method', { url: 'https://api.example/x', origin: ORIGIN, method: 'GE T' }, /^method:/],
    ['a bad header name', { url: 'https://api.example/x', origin: ORIGIN, headers: 'x-a, x b' }, /^headers: "x b"/],
    [
      'content-type named without a value',
      { url: 'https://api.example/x', origin: ORIGIN, headers: 'Content-Type' },
      /content-type=/,
    ],
    ['unknown credentials', { url: 'https://api.example/x', origin: ORIGIN, credentials: 'yes' }, /^credentials:/],
    ['no target', { origin: ORIGIN }, /No target URL/],
  ])('%s -> 400 invalid_target naming it', (_name, fields, message) => {
    let error: unknown;
    try {
      readQuestion(fields, null);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProxyError);
    expect((error as ProxyError).code).toBe('invalid_target');
    expect((error as ProxyError).message).toMatch(message);
  });

  test('origin serialized as a browser does; forbidden headers dropped with a note; the Origin header as default', () => {
    const { question, notes } = readQuestion(
      {
        url: ' https://api.example/x ',
        origin: 'HTTPS://App.Example:443/page',
        headers: 'Cookie, X-A, x-a, sec-fetch-mode',
      },
      null,
    );
    expect(question.origin).toBe(ORIGIN);
    expect(question.headers).toEqual(['x-a']);
    expect(notes.join(' ')).toMatch(/cannot set cookie, sec-fetch-mode/);
    expect(readQuestion({ url: 'https://api.example/x' }, ORIGIN).question.origin).toBe(ORIGIN);
  });
});

describe('diagnoseQuestion', () => {
  test('https page, http target -> blocked mixed_content, nothing sent', async () => {
    const { sent, diagnose } = runWith(() => ({ status: 200 }));
    const d = await diagnose({ url: 'http://api.example/x', origin: ORIGIN });
    expect(d.reason?.code).toBe('mixed_content');
    expect(d.fix?.message).toContain('https://api.example/x');
    expect(sent).toEqual([]);
  });

  test('same origin -> allowed, nothing sent', async () => {
    const { sent, diagnose } = runWith(() => ({ status: 200 }));
    const d = await diagnose({ url: `${ORIGIN}/x`, origin: ORIGIN, method: 'DELETE', headers: 'x-a' });
    expect(d).toMatchObject({ kind: 'same-origin', verdict: 'allowed' });
    expect(sent).toEqual([]);
  });

  test('a cross-origin redirect taints the origin (null) and drops Authorization from the next preflight', async () => {
    const { sent, diagnose } = runWith((r): ReturnType<Answer> => {
      if (r.url.host === 'api.example' && r.method === 'GET') {
        return { status: 302, headers: { location: 'https://cdn.example/y', 'access-control-allow-origin': '*' } };
      }
      return {
        status: r.method === 'OPTIONS' ? 204 : 200,
        headers: {
          'access-control-allow-origin': r.headers.get('origin') === 'null' ? ORIGIN : '*',
          'access-control-allow-headers': 'authorization, x-a',
        },
      };
    });
    const d = await diagnose({ url: 'https://api.example/x', origin: ORIGIN, headers: 'authorization, x-a' });
    expect(
      sent.map(
        (r) =>
          `${r.method} ${r.url.href} ${r.headers.get('origin')} ${r.headers.get('access-control-request-headers')}`,
      ),
    ).toEqual([
      `OPTIONS https://api.example/x ${ORIGIN} authorization,x-a`,
      `GET https://api.example/x ${ORIGIN} null`,
      'OPTIONS https://cdn.example/y null x-a',
    ]);
    expect(d.reason?.code).toBe('origin_mismatch');
    expect(d.fix?.message).toMatch(/Origin: null/);
  });

  test('a redirect to a private address -> 403 target_not_allowed before any request to it', async () => {
    const { sent, diagnose } = runWith(
      () => ({
        status: 302,
        headers: { location: 'http://169.254.169.254/latest/', 'access-control-allow-origin': '*' },
      }),
      {},
    );
    await expect(diagnose({ url: 'https://api.example/x', origin: ORIGIN })).rejects.toMatchObject({
      code: 'target_not_allowed',
    });
    expect(sent.map((r) => r.url.host)).toEqual(['api.example']);
  });

  test('more redirects than CORSWAY_MAX_REDIRECTS -> 502 upstream_failed', async () => {
    const { sent, diagnose } = runWith(
      (r) => ({ status: 302, headers: { location: `${r.url.href}x`, 'access-control-allow-origin': '*' } }),
      { CORSWAY_MAX_REDIRECTS: '2' },
    );
    await expect(diagnose({ url: 'https://api.example/x', origin: ORIGIN })).rejects.toMatchObject({
      code: 'upstream_failed',
    });
    expect(sent).toHaveLength(3);
  });

  test('DELETE -> judged from the preflight answer, never sent; the proxy suggestion is checked too', async () => {
    const { sent, diagnose } = runWith(() => ({
      status: 204,
      headers: { 'access-control-allow-origin': ORIGIN, 'access-control-allow-methods': 'DELETE' },
    }));
    const d = await diagnose({ url: 'https://api.example/x', origin: ORIGIN, method: 'delete', read: 'x-total' });
    expect(d.verdict).toBe('allowed');
    expect(d.steps.map((s) => [s.kind, s.method, s.sent])).toEqual([
      ['preflight', 'OPTIONS', true],
      ['request', 'DELETE', false],
    ]);
    expect(sent.map((r) => r.method)).toEqual(['OPTIONS']);
    expect(d.notes.join(' ')).toMatch(/x-total depends on the answer to the DELETE request/);
    expect(d.proxy).toMatchObject({ url: 'https://proxy.example/https://api.example/x', works: true });
  });

  test('an http proxy cannot serve an https page -> the suggestion says mixed content', async () => {
    const answer: Answer = () => ({ status: 200, headers: { 'access-control-allow-origin': ORIGIN } });
    const overHttps = await runWith(answer).diagnose({ url: 'https://api.example/x', origin: ORIGIN });
    expect(overHttps.proxy.works).toBe(true);
    const overHttp = await runWith(answer, {}, 'http://proxy.example').diagnose({
      url: 'https://api.example/x',
      origin: ORIGIN,
    });
    expect(overHttp.proxy.works).toBe(false);
    expect(overHttp.proxy.message).toMatch(/mixed content/);
  });
});
