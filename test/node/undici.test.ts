import * as undici from 'undici';
import { expect, test } from 'vitest';
import { Agent, buildConnector, egressParts } from '../../src/node/undici.ts';

// src/node/undici.ts requires undici's parts from their files (the index costs
// about 9 MB of idle memory): each must be the very class or function the
// index exports, so an undici upgrade that moves one fails here.
test("undici's parts, required one by one, are the index's own", () => {
  expect(Agent).toBe(undici.Agent);
  expect(buildConnector).toBe(undici.buildConnector);
  expect(egressParts().ProxyAgent).toBe(undici.ProxyAgent);
  expect(egressParts().Pool).toBe(undici.Pool);
});
