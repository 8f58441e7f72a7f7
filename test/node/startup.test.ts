import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runToExit, startCommand } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';

/*
 * The first hour of a new user on Node, as child processes: start-up failures
 * are one line naming the fix, exit 1; private targets keep the proxy on
 * loopback; the commands a clone offers (`npm start -- <flags>`, `npx .`) work.
 */

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const START = [process.execPath, '--import', 'tsx', 'src/node/cli.ts'] as const;
const QUIET: NodeJS.ProcessEnv = { ...process.env, CORSWAY_LOG_LEVEL: 'silent' };
const LOOPBACK_LINE = /listening on (http:\/\/127\.0\.0\.1:\d+) \(loopback only: private targets are allowed\)\n/;

/** A port held by another program, as 8080 often is on a developer's machine. */
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  taken.close();
  await once(taken, 'close');
});

/** Exit 1 and exactly one line on stderr, matching `expected`; none of Node's stack. */
function expectOneLine(result: { code: number | null; stdout: string; stderr: string }, expected: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(expected);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/Unhandled| {4}at /);
  expect(result.stdout).not.toContain('listening');
}

describe('start-up failures: one line naming the fix, exit 1', { timeout: 40_000 }, () => {
  test.concurrent('PORT=<taken> npm start -> port in use, names PORT and --port', async () => {
    const result = await runToExit(NPM, ['start'], { ...QUIET, HOST: '127.0.0.1', PORT: String(takenPort) });
    expectOneLine(
      result,
      new RegExp(`^corsway: port ${takenPort} is already in use on 127\\.0\\.0\\.1.*PORT or --port`),
    );
  });

  test.concurrent('corsway --port <taken> (the CLI) -> the same line', async () => {
    const result = await runToExit(
      START[0],
      [...START.slice(1), '--host', '127.0.0.1', '--port', String(takenPort)],
      QUIET,
    );
    expectOneLine(result, new RegExp(`^corsway: port ${takenPort} is already in use.*PORT or --port`));
  });

  test.concurrent('CORSWAY_WORKERS=2 PORT=<taken> -> the same line once, from the primary', async () => {
    const result = await runToExit(START[0], START.slice(1), {
      ...QUIET,
      HOST: '127.0.0.1',
      PORT: String(takenPort),
      CORSWAY_WORKERS: '2',
    });
    expectOneLine(result, new RegExp(`^corsway: port ${takenPort} is already in use.*PORT or --port`));
  });

  test.concurrent('HOST=192.0.2.1 (not an address of this machine) -> names HOST and --host', async () => {
    const result = await runToExit(START[0], START.slice(1), { ...QUIET, HOST: '192.0.2.1', PORT: '0' });
    expectOneLine(result, /^corsway: HOST 192\.0\.2\.1 is not an address of this machine; set HOST or --host/);
  });

  // In a network namespace of its own: the failed lookup sends nothing beyond this test.
  test.concurrent('HOST=<a name that does not resolve> -> names HOST and --host', async () => {
    const result = await runToExit('unshare', ['-rn', ...START], { ...QUIET, HOST: 'no-such-host.invalid', PORT: '0' });
    expectOneLine(result, /^corsway: HOST no-such-host\.invalid could not be resolved.*set HOST or --host/);
  });

  // Root may bind any port, so the capability is dropped, in a namespace of the test's own.
  test.concurrent('PORT=80 without the privilege -> names PORT and --port', async () => {
    const result = await runToExit(
      'unshare',
      ['-rn', 'setpriv', '--inh-caps=-net_bind_service', '--bounding-set=-net_bind_service', ...START],
      { ...QUIET, HOST: '127.0.0.1', PORT: '80' },
    );
    expectOneLine(
      result,
      /^corsway: not permitted to listen on 127\.0\.0\.1 port 80 \(ports below 1024 need privileges\).*PORT or --port/,
    );
  });
});

describe('private targets keep a development proxy on loopback', { timeout: 60_000 }, () => {
  test.concurrent('CORSWAY_ALLOW_PRIVATE_NETWORK=on without HOST -> listens on 127.0.0.1 and says why', async () => {
    const env: NodeJS.ProcessEnv = { ...QUIET, CORSWAY_ALLOW_PRIVATE_NETWORK: 'on', PORT: '0' };
    delete env.HOST;
    const proxy = await startCommand(START[0], START.slice(1), env, LOOPBACK_LINE);
    try {
      expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
      expect(proxy.output()).not.toContain('WARNING');
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });

  // Bound in a namespace of the test's own, so nothing outside it can reach the open port.
  test.concurrent('--allow-private-network with HOST=0.0.0.0 -> starts, with a warning naming the risk', async () => {
    const env = { ...QUIET, HOST: '0.0.0.0', PORT: '0' };
    const proxy = await startCommand(
      'unshare',
      ['-rn', ...START, '--allow-private-network'],
      env,
      /corsway: WARNING: CORSWAY_ALLOW_PRIVATE_NETWORK is on and HOST (\S+) is reachable from other machines.*\n/,
    );
    try {
      expect(proxy.output()).toMatch(/^corsway listening on http:\/\/0\.0\.0\.0:\d+\n/m);
      expect(proxy.output()).toMatch(/use this proxy to fetch from your private network/);
    } finally {
      await proxy.stop();
    }
  });
});

describe('the commands a clone offers', { timeout: 90_000 }, () => {
  const upstream = new Upstream({
    '/plain': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello');
    },
  });
  beforeAll(async () => {
    await upstream.start();
  });
  afterAll(async () => {
    await upstream.stop();
  });

  test.each([
    ['npm start -- --port 0 --allow-private-network --max-age 7', NPM, ['start', '--', '--port', '0']],
    // --offline: a local folder needs nothing from a registry.
    ['npx . --port 0 --allow-private-network --max-age 7', NPX, ['--offline', '.', '--port', '0']],
  ])('%s -> serves a proxied request on loopback, flags winning over the environment', async (_name, command, args) => {
    // A cache of its own, as on a fresh clone: npx keeps the bin link of its first run of a folder.
    const cache = await mkdtemp(join(tmpdir(), 'corsway-npm-cache-'));
    const env: NodeJS.ProcessEnv = { ...QUIET, CORSWAY_MAX_AGE: '5', npm_config_cache: cache };
    delete env.HOST;
    const proxy = await startCommand(
      command,
      [...args, '--allow-private-network', '--max-age', '7'],
      env,
      LOOPBACK_LINE,
    );
    try {
      const res = await fetch(`${proxy.url}/${upstream.origin}/plain`, { headers: { origin: 'https://app.test' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello');
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
      const preflight = await fetch(`${proxy.url}/${upstream.origin}/plain`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.test', 'access-control-request-method': 'PUT' },
      });
      expect(preflight.headers.get('access-control-max-age')).toBe('7');
    } finally {
      await proxy.stop();
      await rm(cache, { recursive: true, force: true });
    }
  });
});
