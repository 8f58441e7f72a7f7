import { describe, expect, test } from 'vitest';
import { ProxyError } from '../../src/core/errors.ts';
import { checkTarget, hostMatcher, parseHostPattern, parseTarget, type TargetPolicy } from '../../src/core/target.ts';

function codeOf(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    return error instanceof ProxyError ? error.code : `not a ProxyError: ${error}`;
  }
}

describe('parseTarget(what follows the proxy slash)', () => {
  test.each([
    ['https://api.example.com/x?a=1', 'https://api.example.com/x?a=1'],
    ['http://api.example.com/x', 'http://api.example.com/x'],
    ['HTTPS://API.example.com/X', 'https://api.example.com/X'],
    ['https:/api.example.com/x', 'https://api.example.com/x'],
    ['https:api.example.com/x', 'https://api.example.com/x'],
    ['https:///api.example.com/x', 'https://api.example.com/x'],
    ['api.example.com/x', 'https://api.example.com/x'],
    ['api.example.com', 'https://api.example.com/'],
    ['api.example.com:8443/x', 'https://api.example.com:8443/x'],
    ['api.example.com:80/x', 'http://api.example.com/x'],
    ['http://api.example.com:80/x', 'http://api.example.com/x'],
    ['https://api.example.com:80/x', 'https://api.example.com:80/x'],
    ['https%3A%2F%2Fapi.example.com%2Fx%3Fa%3D1', 'https://api.example.com/x?a=1'],
    ['http%3a%2f%2fapi.example.com%2F', 'http://api.example.com/'],
    ['https://api.example.com/p?b=2&a=1&a=%2F&c=x+y&e=', 'https://api.example.com/p?b=2&a=1&a=%2F&c=x+y&e='],
    ['https://api.example.com/a%2Fb', 'https://api.example.com/a%2Fb'],
    ['https://api.example.com/x#frag', 'https://api.example.com/x'],
    ['https://api.example.com/x?q#', 'https://api.example.com/x?q'],
    ['https%3A%2F%2Fapi.example.com%2Fx%23frag', 'https://api.example.com/x'],
    ['https://api.example.com/x%23y', 'https://api.example.com/x%23y'],
    ['https://127.0.0.1:8080/', 'https://127.0.0.1:8080/'],
    ['http://[::1]:8080/', 'http://[::1]:8080/'],
    ['http://localhost:3000/', 'http://localhost:3000/'],
    ['http://api.example.com./', 'http://api.example.com./'],
    ['/api.example.com/x', 'https://api.example.com/x'],
    ['http:/api.example.com/x', 'http://api.example.com/x'],
    ['http:////api.example.com/x', 'http://api.example.com/x'],
    ['https.example.com/x', 'https://https.example.com/x'],
    ['http.example.com:8080/x', 'https://http.example.com:8080/x'],
  ])('%s -> %s', (raw, href) => {
    expect(parseTarget(raw).href).toBe(href);
  });

  test.each([
    ['', 'missing'],
    ['https://', 'no host'],
    ['http://[::1/', 'unparsable'],
    ['ftp://api.example.com/', 'ftp:'],
    ['javascript:alert(1)', 'javascript:'],
    ['file:///etc/passwd', 'file:'],
    ['data:text/plain,hi', 'data:'],
    ['ws://api.example.com/', 'ws:'],
    ['https://user:pass@api.example.com/', 'userinfo'],
    ['https://user@api.example.com/', 'user only'],
    ['https://:pass@api.example.com/', 'password only'],
    ['https://api.example.com:0/', 'port 0'],
    ['https://api.example.com:65536/', 'port 65536'],
    ['https://api.example.com:99999/', 'port 99999'],
    ['https://api.example.com:-1/', 'negative port'],
    ['https://intranet/', 'single-label host'],
    ['intranet/x', 'single-label host, no scheme'],
    ['https:8443/x', 'single-label host named https, with a port'],
    ['https://api.example.com/a\r\nX: 1', 'CR/LF'],
    ['https://api.example.com/a\n', 'LF'],
    ['https://api.example.com/\0', 'NUL'],
    ['https://api.example.com/a b', 'space'],
    ['https%3A%2F%2Fapi.example.com%2F%0D%0AX%3A1', 'encoded CR/LF'],
    ['https%3A%2F%2Fapi.example.com%2F%00', 'encoded NUL'],
    ['https%3A%2F%2F%E0%A4%A', 'broken percent-encoding'],
    [`https://api.example.com/${'a'.repeat(9000)}`, 'longer than 8192'],
    [`https://${'a'.repeat(64)}.example.com/`, 'a label of 64 octets'],
    [`https://${'abcdefghi.'.repeat(25)}example.com/`, 'a name of 261 octets'],
    [`https://${'ü'.repeat(60)}.example.com/`, 'a label of 64 octets once punycoded'],
  ])('%s (%s) -> invalid_target', (raw) => {
    expect(codeOf(() => parseTarget(raw))).toBe('invalid_target');
  });
});

describe('checkTarget(url, policy)', () => {
  const open: TargetPolicy = { allowTargets: null, allowPrivateNetwork: false };
  const privateOk: TargetPolicy = { allowTargets: null, allowPrivateNetwork: true };
  const listed: TargetPolicy = {
    allowTargets: hostMatcher([parseHostPattern('api.example.com'), parseHostPattern('*.example.org')]),
    allowPrivateNetwork: false,
  };

  test.each<[string, TargetPolicy, string | null]>([
    ['https://api.example.com/', open, null],
    ['https://8.8.8.8/', open, null],
    ['https://api.example.com:8443/', open, null],
    ['https://api.example.com:22/', open, 'target_not_allowed'],
    ['https://api.example.com:25/', open, 'target_not_allowed'],
    ['https://api.example.com:6000/', open, 'target_not_allowed'],
    ['http://127.0.0.1/', open, 'target_not_allowed'],
    ['http://10.0.0.1/', open, 'target_not_allowed'],
    ['http://169.254.169.254/', open, 'target_not_allowed'],
    ['http://[::1]/', open, 'target_not_allowed'],
    ['http://[::ffff:127.0.0.1]/', open, 'target_not_allowed'],
    ['http://localhost/', open, 'target_not_allowed'],
    ['http://app.localhost/', open, 'target_not_allowed'],
    ['http://127.0.0.1:8080/', privateOk, null],
    ['http://localhost:3000/', privateOk, null],
    ['http://127.0.0.1:22/', privateOk, 'target_not_allowed'],
    ['ftp://api.example.com/', open, 'target_not_allowed'],
    ['https://api.example.com/', listed, null],
    ['https://api.example.com./', listed, null],
    ['https://deep.sub.example.org/', listed, null],
    ['https://example.org/', listed, 'target_not_allowed'],
    ['https://evil-example.org/', listed, 'target_not_allowed'],
    ['https://other.example.com/', listed, 'target_not_allowed'],
    ['https://api.example.com.:443/', listed, null],
    ['https://API.EXAMPLE.COM./', listed, null],
    ['https://x.example.org./', listed, null],
    // The rules a redirect hop meets are the first URL's: syntax included.
    ['http://user:secret@api.example.com/', open, 'invalid_target'],
    ['http://intranet/', open, 'invalid_target'],
    ['http://intranet/', privateOk, 'invalid_target'],
    [`https://${'a'.repeat(64)}.example.com/`, open, 'invalid_target'],
    [`https://${'a'.repeat(63)}.example.com/`, open, null],
    ['http://localhost./', open, 'target_not_allowed'],
    ['http://127.0.0.1./', open, 'target_not_allowed'],
  ])('%s -> %s', (href, policy, code) => {
    expect(codeOf(() => checkTarget(new URL(href), policy))).toBe(code);
  });
  test('a host that passed is no pass for the next: each URL is judged by its own host', () => {
    const sequence: [string, string | null][] = [
      ['https://11.0.0.1/', null],
      ['https://11.0.0.2/', null],
      ['http://127.0.0.1/', 'target_not_allowed'],
      ['https://api.example.com/', null],
      ['http://api.example.com.localhost/', 'target_not_allowed'],
      ['https://intranet/', 'invalid_target'],
      [`https://${'a'.repeat(64)}.example.com/`, 'invalid_target'],
      ['https://api.example.com/', null],
      ['http://10.0.0.1/', 'target_not_allowed'],
      ['https://11.0.0.1/', null],
      ['http://localhost/', 'target_not_allowed'],
    ];
    for (const [href, code] of sequence) {
      expect([href, codeOf(() => checkTarget(new URL(href), open))]).toEqual([href, code]);
    }
  });
});

describe('parseHostPattern(CORSWAY_ALLOW_TARGETS entry)', () => {
  test.each(['api.example.com', '*.example.com', 'API.Example.COM', '127.0.0.1', '[::1]'])(
    '%s is accepted',
    (entry) => {
      expect(() => parseHostPattern(entry)).not.toThrow();
    },
  );
  test.each(['https://api.example.com', 'api.example.com/path', 'user@api.example.com', 'api.example.com:443', ''])(
    '%s is refused',
    (entry) => {
      expect(() => parseHostPattern(entry)).toThrow(TypeError);
    },
  );
});

describe('hostMatcher: both sides normalised alike', () => {
  test.each<[string, string, boolean]>([
    ['api.example.com.', 'api.example.com', true],
    ['API.Example.com', 'api.example.com.', true],
    ['*.example.org.', 'deep.x.example.org', true],
    ['bücher.example', 'xn--bcher-kva.example', true],
    ['*.example.org', 'example.org.', false],
  ])('entry %s, host %s -> %s', (entry, host, matches) => {
    expect(hostMatcher([parseHostPattern(entry)])(host)).toBe(matches);
  });
});
