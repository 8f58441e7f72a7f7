import fc from 'fast-check';
import type { buildConnector } from 'undici';
import { describe, expect, test } from 'vitest';
import { isPublicAddress } from '../../src/core/address.ts';
import { findProxyError } from '../../src/core/errors.ts';
import { guardedConnector } from '../../src/node/upstream.ts';
import { anyV4, dotted, embedV4, nonPublicV4, nonPublicV6 } from '../support/arbitraries.ts';

/** A DNS answer as the resolver gives it: dotted IPv4 or IPv6 text. */
const nonPublicAnswer = fc.oneof(nonPublicV4.map(dotted), nonPublicV4.chain(embedV4), nonPublicV6);
const anyAnswer = fc.oneof(anyV4.map(dotted), anyV4.chain(embedV4), nonPublicV6);

/** Runs the connector for `name` with `answer` as its DNS answer; records instead of connecting. */
function dial(answer: readonly string[]) {
  const connected: string[] = [];
  const connect = ((options, callback) => {
    connected.push(options.hostname);
    callback(new Error('recorded, not connected'), null);
  }) as buildConnector.connector;
  const connector = guardedConnector(async () => answer, connect);
  return new Promise<{ error: Error | null; connected: string[] }>((done) => {
    connector({ hostname: 'generated.test', host: 'generated.test', protocol: 'http:', port: '80' }, (...[error]) =>
      done({ error, connected }),
    );
  });
}

describe('guardedConnector (fast-check)', () => {
  test('a name with any non-public address among its answers is refused and nothing is connected', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyAnswer, { maxLength: 4 }), nonPublicAnswer, fc.nat(), async (others, bad, at) => {
        const answer = [...others];
        answer.splice(at % (answer.length + 1), 0, bad);
        const { error, connected } = await dial(answer);
        expect(connected).toEqual([]);
        expect(findProxyError(error)?.code).toBe('target_not_allowed');
        for (const address of answer) expect(error?.message).not.toContain(address);
      }),
      { numRuns: 1000 },
    );
  });

  test('a name whose answers are all public is connected to its first answer, the one checked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyAnswer, { minLength: 1, maxLength: 4 }), async (answer) => {
        fc.pre(answer.every(isPublicAddress));
        const { connected } = await dial(answer);
        expect(connected).toEqual([answer[0]]);
      }),
      { numRuns: 300 },
    );
  });
});
