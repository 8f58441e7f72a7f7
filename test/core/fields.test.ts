import { describe, expect, test } from 'vitest';
import { Fields } from '../../src/core/fields.ts';

describe('Fields: header fields as the proxy builds them', () => {
  test('fromRaw (Node rawHeaders) lower-cases names and keeps order and repeats', () => {
    const fields = Fields.fromRaw(['Host', 'a.example', 'Accept', 'text/html', 'X-Dup', '1', 'x-dup', '2']);
    expect(fields.flat()).toEqual(['host', 'a.example', 'accept', 'text/html', 'x-dup', '1', 'x-dup', '2']);
  });

  test.each<[string, string | null]>([
    ['x-dup', '1, 2'],
    ['accept', 'text/html'],
    ['missing', null],
  ])('get(%s) -> %s (repeats joined as Headers.get joins them)', (name, expected) => {
    const fields = Fields.fromRaw(['Accept', 'text/html', 'X-Dup', '1', 'x-dup', '2']);
    expect(fields.get(name)).toBe(expected);
    expect(fields.has(name)).toBe(expected !== null);
  });

  test('set replaces every value of a name; delete removes them all; append keeps the others', () => {
    const fields = new Fields({ Vary: 'Accept', 'X-A': '1' });
    fields.append('vary', 'Accept-Encoding');
    expect(fields.get('vary')).toBe('Accept, Accept-Encoding');
    fields.set('vary', 'Origin');
    expect(fields.pairs()).toEqual([
      ['x-a', '1'],
      ['vary', 'Origin'],
    ]);
    fields.delete('x-a');
    expect(fields.pairs()).toEqual([['vary', 'Origin']]);
  });

  test('copies WHATWG Headers and other Fields, and is read back the same by Headers', () => {
    const copy = new Fields(new Headers({ 'Content-Type': 'text/plain', 'x-n': '1' }));
    expect(new Fields(copy).get('content-type')).toBe('text/plain');
    const back = new Headers(copy.pairs());
    expect([...back]).toEqual([
      ['content-type', 'text/plain'],
      ['x-n', '1'],
    ]);
  });

  test('record() gives one value per name, repeats joined; `constructor` and `__proto__` are fields like any other', () => {
    const fields = Fields.fromRaw([
      'X-Dup',
      '1',
      'Accept',
      'text/html',
      'x-dup',
      '2',
      'Constructor',
      'c',
      '__proto__',
      'p',
    ]);
    const record = fields.record();
    expect(Object.entries(record)).toEqual([
      ['x-dup', '1, 2'],
      ['accept', 'text/html'],
      ['constructor', 'c'],
      ['__proto__', 'p'],
    ]);
  });

  test('flat() is a copy: writing it out cannot change the fields', () => {
    const fields = new Fields({ a: '1' });
    fields.flat().push('b', '2');
    expect(fields.has('b')).toBe(false);
  });
});
