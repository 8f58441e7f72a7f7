import { describe, expect, test } from 'vitest';
import { type FailureCause, failureCause, failureMessage, shownUrl, timeoutMessage } from '../../src/core/failure.ts';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
/** undici's fetch wraps the network error: `TypeError: fetch failed` with `cause`. */
const wrapped = (cause: Error) => new TypeError('fetch failed', { cause });

describe('failureCause', () => {
  test.each<[string, unknown, FailureCause]>([
    ['getaddrinfo ENOTFOUND', coded('ENOTFOUND'), 'dns_not_found'],
    ['c-ares no answer (LookupError)', coded('EAI_AGAIN'), 'dns_no_answer'],
    ['ECONNREFUSED inside fetch failed', wrapped(coded('ECONNREFUSED')), 'refused'],
    ['ECONNRESET', coded('ECONNRESET'), 'reset'],
    ['undici other side closed', coded('UND_ERR_SOCKET', 'other side closed'), 'reset'],
    ['undici connect timeout', coded('UND_ERR_CONNECT_TIMEOUT'), 'connect_timeout'],
    ['EHOSTUNREACH', coded('EHOSTUNREACH'), 'unreachable'],
    ['OpenSSL wrong version number', coded('ERR_SSL_WRONG_VERSION_NUMBER'), 'tls_version'],
    ['EPROTO with wrong version number', coded('EPROTO', 'ssl3_get_record:wrong version number'), 'tls_version'],
    ['self-signed', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 'certificate'],
    ['expired', wrapped(coded('CERT_HAS_EXPIRED')), 'certificate'],
    ['name mismatch', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'certificate'],
    ['other TLS alert', coded('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tlsv1 alert protocol version'), 'tls'],
    ['llhttp', coded('HPE_INVALID_CONSTANT'), 'malformed'],
    ['workerd: refused or reset', new Error('Network connection lost.'), 'connection_lost'],
    ['workerd: TLS', new Error('internal error; reference = abc123'), 'opaque'],
    ['nothing known', new Error('boom'), 'unknown'],
    ['not an error', 'boom', 'unknown'],
  ])('%s -> %s', (_name, error, cause) => {
    expect(failureCause(error)).toBe(cause);
  });
});

describe('failureMessage names the URL and the cause', () => {
  test.each<[unknown, string, RegExp]>([
    [
      coded('ENOTFOUND'),
      'https://exmaple.invalid/a',
      /^Fetching https:\/\/exmaple\.invalid\/a failed: .*does not exist in DNS\. Check it for a typo/,
    ],
    [coded('EAI_AGAIN'), 'https://slow-dns.example/', /DNS gave no answer for slow-dns\.example/],
    [coded('ECONNREFUSED'), 'http://127.0.0.1:3001/json', /127\.0\.0\.1 refused the connection on port 3001/],
    [coded('ECONNRESET'), 'https://api.example/', /closed the connection before sending a complete response/],
    [coded('CERT_HAS_EXPIRED'), 'https://old.example/', /certificate of old\.example could not be verified/],
    [coded('UND_ERR_CONNECT_TIMEOUT'), 'https://api.example/', /did not accept the connection on port 443 in time/],
    [
      new Error('boom'),
      'https://api.example/x',
      /^Fetching https:\/\/api\.example\/x failed: api\.example could not be reached\.$/,
    ],
  ])('%s fetching %s', (error, url, expected) => {
    expect(failureMessage(error, new URL(url))).toMatch(expected);
  });

  test('the scheme-less /127.0.0.1:3001/json against plain HTTP -> names https://… and suggests /http://127.0.0.1:3001/json', () => {
    const message = failureMessage(coded('ERR_SSL_WRONG_VERSION_NUMBER'), new URL('https://127.0.0.1:3001/json?q=1'));
    expect(message).toContain('Fetching https://127.0.0.1:3001/json?q=1 failed');
    expect(message).toContain('wrong version number');
    expect(message).toContain('/http://127.0.0.1:3001/json?q=1');
    expect(message).not.toMatch(/target's side/);
  });

  test('a default https port keeps its number in the http:// suggestion', () => {
    expect(failureMessage(coded('ERR_SSL_WRONG_VERSION_NUMBER'), new URL('https://[::1]/'))).toContain(
      '/http://[::1]:443/',
    );
  });

  test('userinfo never appears in a message', () => {
    const url = new URL('https://user:hunter2@api.example/path');
    expect(shownUrl(url)).toBe('https://api.example/path');
    expect(failureMessage(coded('ECONNREFUSED'), url)).not.toMatch(/hunter2|user/);
    expect(timeoutMessage(url, 1000)).not.toMatch(/hunter2|user/);
  });

  test('a timeout names the URL and CORSWAY_TIMEOUT_MS', () => {
    expect(timeoutMessage(new URL('http://api.example:8080/slow'), 1500)).toMatch(
      /^Fetching http:\/\/api\.example:8080\/slow timed out: .*1500 ms \(CORSWAY_TIMEOUT_MS\)/,
    );
  });
});
