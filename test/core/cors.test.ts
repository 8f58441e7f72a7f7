import { describe, expect, test } from 'vitest';
import { addCorsHeaders, isPreflight, preflightFields } from '../../src/core/cors.ts';
import { Fields } from '../../src/core/fields.ts';

describe('isPreflight(method, headers)', () => {
  test.each<[string, Record<string, string>, boolean]>([
    ['OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }, true],
    ['OPTIONS', { origin: 'null', 'access-control-request-method': 'GET' }, true],
    ['OPTIONS', { origin: 'https://a.example' }, false],
    ['OPTIONS', { 'access-control-request-method': 'PUT' }, false],
    ['OPTIONS', {}, false],
    ['GET', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }, false],
  ])('%s %j -> %s', (method, headers, expected) => {
    expect(isPreflight(method, new Headers(headers))).toBe(expected);
  });
});

describe('preflightFields(request, maxAge)', () => {
  test('allows what was asked, for the asking origin, with Max-Age and Vary', () => {
    const h = new Headers(
      preflightFields(
        new Headers({
          origin: 'https://a.example',
          'access-control-request-method': 'DELETE',
          'access-control-request-headers': 'x-api-key,content-type',
        }),
        600,
      ).pairs(),
    );
    expect(Object.fromEntries(h)).toEqual({
      'access-control-allow-origin': 'https://a.example',
      'access-control-allow-methods': 'DELETE',
      'access-control-allow-headers': 'x-api-key,content-type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  test('no requested headers -> no Allow-Headers', () => {
    const h = new Headers(
      preflightFields(new Headers({ origin: 'https://a.example', 'access-control-request-method': 'GET' }), 0).pairs(),
    );
    expect(h.has('access-control-allow-headers')).toBe(false);
    expect(h.get('access-control-max-age')).toBe('0');
  });
});

describe('addCorsHeaders(headers, origin)', () => {
  test.each<[Record<string, string>, string | null, string, string | null]>([
    [{}, null, '*', 'Origin'],
    [{}, 'https://a.example', 'https://a.example', 'Origin'],
    [{ vary: 'Accept-Encoding' }, 'https://a.example', 'https://a.example', 'Accept-Encoding, Origin'],
    [{ vary: 'Accept-Encoding' }, null, '*', 'Accept-Encoding, Origin'],
    [{ vary: 'origin' }, 'https://a.example', 'https://a.example', 'origin'],
    [{ vary: '*' }, 'https://a.example', 'https://a.example', '*'],
    [{ vary: 'Accept,ORIGIN' }, 'https://a.example', 'https://a.example', 'Accept,ORIGIN'],
    [{ vary: 'accept, \tOrigin\t , cookie' }, 'https://a.example', 'https://a.example', 'accept, \tOrigin\t , cookie'],
    [{ vary: 'accept, *' }, 'https://a.example', 'https://a.example', 'accept, *'],
    [{ vary: 'Origins' }, 'https://a.example', 'https://a.example', 'Origins, Origin'],
    [{ vary: 'X-Origin, Accept' }, 'https://a.example', 'https://a.example', 'X-Origin, Accept, Origin'],
    [{ vary: 'accept-*' }, 'https://a.example', 'https://a.example', 'accept-*, Origin'],
    [{}, 'null', 'null', 'Origin'],
  ])('%j with Origin %s -> ACAO %s, Vary %s', (start, origin, acao, vary) => {
    const h = new Headers(start);
    addCorsHeaders(h, origin);
    expect(h.get('access-control-allow-origin')).toBe(acao);
    expect(h.get('vary')).toBe(vary);
    expect(h.has('access-control-allow-credentials')).toBe(false);
  });

  test('exposes every header name except the CORS ones', () => {
    const h = new Headers({ 'x-request-url': 'u', 'x-final-url': 'f', 'content-type': 't', etag: '"e"' });
    addCorsHeaders(h, null);
    expect(h.get('access-control-expose-headers')?.split(', ').sort()).toEqual([
      'content-type',
      'etag',
      'vary',
      'x-final-url',
      'x-request-url',
    ]);
  });

  test('exposes each name once, in code-unit order, whatever the order and repeats of the fields', () => {
    const h = new Fields();
    for (const name of [
      'x-b',
      'vary',
      'etag',
      'link',
      'x-a',
      'link',
      'access-control-max-age',
      'content-type',
      'etag',
    ]) {
      h.append(name, 'v');
    }
    addCorsHeaders(h, null);
    expect(h.get('access-control-expose-headers')).toBe('content-type, etag, link, vary, x-a, x-b');
  });

  test.each<[string, [string, string][], [string, string][]]>([
    [
      'appended after the others, Vary added',
      [['etag', 'e']],
      [
        ['etag', 'e'],
        ['access-control-allow-origin', 'https://a.example'],
        ['vary', 'Origin'],
        ['access-control-expose-headers', 'etag, vary'],
      ],
    ],
    [
      'Vary kept in place when it names Origin',
      [
        ['vary', 'origin'],
        ['etag', 'e'],
      ],
      [
        ['vary', 'origin'],
        ['etag', 'e'],
        ['access-control-allow-origin', 'https://a.example'],
        ['access-control-expose-headers', 'etag, vary'],
      ],
    ],
    [
      'Vary fields joined and moved last with Origin, CORS fields replaced',
      [
        ['vary', 'accept'],
        ['access-control-expose-headers', 'old'],
        ['vary', 'accept-encoding'],
        ['access-control-allow-origin', 'old'],
        ['etag', 'e'],
      ],
      [
        ['etag', 'e'],
        ['access-control-allow-origin', 'https://a.example'],
        ['vary', 'accept, accept-encoding, Origin'],
        ['access-control-expose-headers', 'etag, vary'],
      ],
    ],
  ])('the fields in order: %s', (_, start, expected) => {
    const h = new Fields();
    for (const [name, value] of start) h.append(name, value);
    addCorsHeaders(h, 'https://a.example');
    expect(h.pairs()).toEqual(expected);
  });
});

describe('addCorsHeaders, response after response', () => {
  const exposed = (names: string[]) => {
    const fields = new Fields();
    for (const name of names) fields.append(name, 'x');
    addCorsHeaders(fields, 'https://a.example');
    return fields.get('access-control-expose-headers');
  };

  test('each response exposes its own names, whatever the one before exposed', () => {
    expect(exposed(['date', 'content-type'])).toBe('content-type, date, vary');
    expect(exposed(['date', 'content-type'])).toBe('content-type, date, vary');
    expect(exposed(['date', 'content-typf'])).toBe('content-typf, date, vary');
    expect(exposed(['date', 'x-a'])).toBe('date, vary, x-a');
    expect(exposed(['date', 'x-b'])).toBe('date, vary, x-b');
    expect(exposed(['date'])).toBe('date, vary');
    expect(exposed(['date', 'content-type', 'x-more'])).toBe('content-type, date, vary, x-more');
    expect(exposed([])).toBe('vary');
    expect(exposed(['date', 'content-type'])).toBe('content-type, date, vary');
  });

  test('a response with its own Vary or CORS fields after one without', () => {
    expect(exposed(['date'])).toBe('date, vary');
    const fields = new Fields({ vary: 'Accept', 'access-control-allow-origin': '*', date: 'x' });
    addCorsHeaders(fields, 'https://a.example');
    expect(fields.get('vary')).toBe('Accept, Origin');
    expect(fields.get('access-control-allow-origin')).toBe('https://a.example');
    expect(exposed(['date'])).toBe('date, vary');
    const plain = new Fields({ date: 'x' });
    addCorsHeaders(plain, null);
    expect(plain.get('vary')).toBe('Origin');
    expect(plain.get('access-control-allow-origin')).toBe('*');
  });
});
