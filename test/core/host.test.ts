import { describe, expect, test } from 'vitest';
import { nameTooLong, normalHost } from '../../src/core/host.ts';

describe('normalHost(hostname)', () => {
  test.each([
    ['bad.example', 'bad.example'],
    ['bad.example.', 'bad.example'],
    ['Bad.Example.', 'bad.example'],
    ['localhost.', 'localhost'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '[::1]'],
  ])('%s -> %s', (host, normal) => {
    expect(normalHost(host)).toBe(normal);
  });
});

describe('nameTooLong(host): RFC 1035 limits', () => {
  test.each<[string, boolean]>([
    ['api.example.com', false],
    [`${'a'.repeat(63)}.example.com`, false],
    [`${'a'.repeat(64)}.example.com`, true],
    [`${'a.'.repeat(126)}bc`, true], // 254 characters
    [`${'abcdefghi.'.repeat(25)}abc`, false],
    [`${'abcdefghi.'.repeat(25)}abcd`, true],
  ])('%s -> too long: %s', (host, tooLong) => {
    expect(nameTooLong(host) !== null).toBe(tooLong);
  });
});
