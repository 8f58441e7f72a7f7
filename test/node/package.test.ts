import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closedPort } from '../support/ports.ts';
import { ROOT, startCommand } from '../support/runtimes.ts';
import { Upstream } from '../support/upstream.ts';
import { eventually } from '../support/wait.ts';

/*
 * The package as a user gets it: `npm pack` (which builds dist/), installed
 * from the tarball into an empty project, its dependencies from the local npm
 * cache, then `npx corsway` run as a process.
 */

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

let dir: string;
let project: string;
let packed: PackResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corsway-pack-'));
  project = join(dir, 'project');
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT });
  // prepack's build output precedes the JSON on stdout.
  packed = (JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as PackResult[])[0] as PackResult;
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'uses-corsway', private: true, type: 'module' }),
  );
  await run(
    NPM,
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, packed.filename)],
    { cwd: project },
  );
}, 240_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('contains the built files, README and LICENSE, and nothing else', () => {
    const paths = packed.files.map((f) => f.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    for (const entry of ['node/cli', 'index', 'node/library']) {
      expect(paths).toEqual(expect.arrayContaining([`dist/${entry}.js`, `dist/${entry}.d.ts`]));
    }
    const unexpected = paths.filter(
      (p) => !/^(LICENSE|README\.md|package\.json|bin\/corsway\.js|dist\/([\w-]+\/)*[\w-]+\.(c?js|d\.c?ts))$/.test(p),
    );
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /test|bench|\.ts$(?<!\.d\.ts)/.test(p))).toEqual([]);
  });

  test('bin and exports point at files in the package', async () => {
    const pkg = JSON.parse(await readFile(join(project, 'node_modules/corsway/package.json'), 'utf8'));
    const paths = new Set(packed.files.map((f) => f.path));
    const targets = [
      pkg.bin.corsway,
      ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as object))),
    ];
    for (const target of targets) expect(paths.has(String(target).replace(/^\.\//, '')), target).toBe(true);
  });

  test('installing it brings runtime dependencies only (no tsx, no TypeScript)', () => {
    expect(existsSync(join(project, 'node_modules/hono'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/typescript'))).toBe(false);
  });

  test("import { corsway } from 'corsway' and 'corsway/node' work from the installed package", async () => {
    const script = `
      import { corsway } from 'corsway';
      import { corsway as onNode, nodeUpstream } from 'corsway/node';
      const res = await corsway().fetch(new Request('http://proxy.test/', { headers: { accept: 'text/plain' } }));
      console.log(res.status, typeof onNode, typeof nodeUpstream);
      try { corsway({ rateLimit: 'lots' }); } catch (e) { console.log(e.name, e.message.includes('rateLimit:')); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    expect(stdout).toBe('200 function function\nTypeError true\n');
  });
});

describe("README's library example, run as written in a project that installed the tarball", () => {
  test('it serves under /cors: the help page, its origin list and its address guard hold', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const library = readme.slice(readme.indexOf('## Library'));
    const example = /```ts\n([\s\S]*?)```/.exec(library)?.[1] as string;
    expect(example).toContain("from 'corsway/node'");
    // Only the port changes: 3000 may be taken on this machine.
    const port = await closedPort();
    expect(example).toContain('port: 3000');
    await writeFile(join(project, 'readme-example.mjs'), example.replace('port: 3000', `port: ${port}`));
    const child = spawn(process.execPath, ['readme-example.mjs'], { cwd: project, stdio: 'ignore' });
    try {
      const base = `http://127.0.0.1:${port}/cors`;
      await eventually(
        () =>
          fetch(`${base}/`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
      );
      const from = (origin: string) => ({ headers: { origin } });
      const foreign = await fetch(`${base}/https://api.example.com/data`, from('https://other.example'));
      expect([foreign.status, ((await foreign.json()) as { error: string }).error]).toEqual([
        403,
        'origin_not_allowed',
      ]);
      const internal = await fetch(`${base}/http://127.0.0.1:${port}/`, from('https://app.example.com'));
      expect([internal.status, ((await internal.json()) as { error: string }).error]).toEqual([
        403,
        'target_not_allowed',
      ]);
      expect(internal.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    } finally {
      child.kill();
    }
  });
});

describe('npx corsway (from the installed tarball)', { timeout: 90_000 }, () => {
  // --no-install: the local bin or nothing, never a download.
  const npx = (args: string[]) =>
    run(NPX, ['--no-install', 'corsway', ...args], { cwd: project }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  test.concurrent('npx corsway --version -> the package version, exit 0', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const { code, stdout } = await npx(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${version}\n`);
  });

  test.concurrent('npx corsway --help -> every flag with its variable and default, exit 0', async () => {
    const { code, stdout } = await npx(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: corsway \[options\]/);
    expect(stdout).toMatch(/--port <number>[^\n]*\n\s+PORT, default: 8080/);
    expect(stdout).toMatch(/--rate-limit <count\/window>[^\n]*\n\s+CORSWAY_RATE_LIMIT, default: off/);
    expect(stdout).toMatch(/--allow-origins <list>[^\n]*\n\s+CORSWAY_ALLOW_ORIGINS, default: any/);
  });

  test.concurrent('npx corsway --bogus -> a clear message on stderr, exit 2', async () => {
    const { code, stdout, stderr } = await npx(['--bogus']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("corsway: unknown option '--bogus'");
    expect(stderr).toContain('corsway --help');
  });

  test.concurrent('npx corsway --rate-limit lots -> names the flag, exit 2', async () => {
    const { code, stderr } = await npx(['--rate-limit', 'lots']);
    expect(code).toBe(2);
    expect(stderr).toContain('corsway: --rate-limit: expected <count>/<window>');
  });

  test('npx corsway --port 0 ... -> serves a proxied request; flags win over the environment', async () => {
    const upstream = await new Upstream({
      '/plain': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('hello');
      },
    }).start();
    const proxy = await startCommand(
      NPX,
      ['--no-install', 'corsway', '--port', '0', '--host', '127.0.0.1', '--allow-private-network', '--max-age', '7'],
      { ...process.env, CORSWAY_MAX_AGE: '5', CORSWAY_LOG_LEVEL: 'silent' },
      /corsway listening on (http:\/\/127\.0\.0\.1:\d+)/,
      project,
    );
    try {
      const base = proxy.url;
      const res = await fetch(`${base}/${upstream.origin}/plain`, { headers: { origin: 'https://app.test' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello');
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.test');
      expect(upstream.hits.map((h) => h.url)).toEqual(['/plain']);

      const preflight = await fetch(`${base}/${upstream.origin}/plain`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.test', 'access-control-request-method': 'PUT' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-max-age')).toBe('7');
    } finally {
      await proxy.stop();
      await upstream.stop();
    }
  });
});
