import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, type RunningProxy, runToExit } from './runtimes.ts';

/*
 * A Worker as deployed, without wrangler dev's local layers: the bundle
 * `wrangler deploy --dry-run` builds, served by the workerd binary wrangler
 * installs, with a capnp config written here.
 */

const WORKERD = join(ROOT, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
/** The compatibility date of wrangler.toml. */
const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m;

/** Builds the entry `main` (default: the corsway Worker) into a fresh directory; resolves with its bundle's path. */
export async function buildBundle(main = 'src/worker/main.ts'): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'corsway-bundle-'));
  const built = await runToExit(
    process.execPath,
    ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--outdir', outdir, main],
    { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true' },
    120_000,
  );
  if (built.code !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${built.stdout}${built.stderr}`);
  return join(outdir, `${main.split('/').at(-1)?.replace(/\.ts$/, '')}.js`);
}

function compatibilityDate(): string {
  const date = COMPATIBILITY_DATE.exec(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))?.[1];
  if (!date) throw new Error('wrangler.toml has no compatibility_date');
  return date;
}

/** A capnp text literal. */
const text = (value: string) => JSON.stringify(value);

/**
 * Where CORSWAY_BUDGETS leads: none, the bundle's RateLimitBudget in memory, an
 * object that always fails, or one that always refuses and counts its calls.
 */
export type Budgets = 'none' | 'memory' | 'overloaded' | 'refusing';

/** A RateLimitBudget whose every call fails, as Cloudflare's does when one object gets more than it can serve. */
const OVERLOADED = `import { DurableObject } from 'cloudflare:workers';
export class RateLimitBudget extends DurableObject {
  consume() { throw new Error('Durable Object is overloaded. Too many requests queued.'); }
}
export default { fetch: () => new Response(null, { status: 404 }) };
`;

/** A RateLimitBudget that refuses every request; its Retry-After, 60 s plus its calls so far, shows how often it was asked. */
const REFUSING = `import { DurableObject } from 'cloudflare:workers';
export class RateLimitBudget extends DurableObject {
  calls = 0;
  consume(spec) {
    this.calls++;
    return { allowed: false, limit: spec.limit, remaining: 0, reset: 60, retryAfter: 60 + this.calls };
  }
}
export default { fetch: () => new Response(null, { status: 404 }) };
`;

/** The stand-in budgets a test can put behind CORSWAY_BUDGETS. */
const FAKES: Partial<Record<Budgets, string>> = { overloaded: OVERLOADED, refusing: REFUSING };

/** How startWorkerd serves a bundle beyond its text bindings. */
export interface WorkerdOptions {
  /** Where CORSWAY_BUDGETS leads. @default 'none' */
  budgets?: Budgets;
  /** Names (name -> address) workerd resolves as /etc/hosts entries. @default {} */
  hosts?: Record<string, string>;
  /** host:port for workerd's inspector protocol. @default none */
  inspector?: string;
  /**
   * CF-Connecting-IP set on every request, replacing a client-sent one, as
   * Cloudflare's edge does. @default none: the header reaches the Worker as the client sent it
   */
  clientAddress?: string;
}

/**
 * Serves `bundle` in plain `workerd serve` on 127.0.0.1 with `env` as text
 * bindings. Its outbound network may reach loopback and private addresses
 * (the tests' upstream) only when `env` allows private targets, the way a
 * developer would configure it; otherwise public addresses only, as deployed.
 * `hosts` are resolved by workerd as /etc/hosts entries: it then runs in a
 * mount namespace of its own (`unshare -rm`) whose /etc/hosts is a copy with
 * them added. `inspector` opens workerd's inspector protocol there (the soak
 * reads the isolate's V8 heap through it).
 */
export async function startWorkerd(
  bundle: string,
  env: Record<string, string> = {},
  { budgets = 'none', hosts = {}, inspector, clientAddress }: WorkerdOptions = {},
): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'corsway-workerd-'));
  const port = await freePort();
  const bindings = Object.entries(env).map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`);
  const namespace = '(className = "RateLimitBudget", uniqueKey = "corsway-budgets", enableSql = true)';
  // SQLite-backed objects (as wrangler.toml declares them) need storage on disk.
  mkdirSync(join(dir, 'objects'));
  let services = `(name = "objects", disk = (path = ${text(join(dir, 'objects'))}, writable = true)),`;
  let objects = '';
  if (budgets === 'memory') {
    bindings.push('(name = "CORSWAY_BUDGETS", durableObjectNamespace = "RateLimitBudget")');
    objects = `durableObjectNamespaces = [${namespace}], durableObjectStorage = (localDisk = "objects"),`;
  } else if (budgets !== 'none') {
    writeFileSync(join(dir, 'budgets.js'), FAKES[budgets] ?? '');
    bindings.push(
      '(name = "CORSWAY_BUDGETS", durableObjectNamespace = (className = "RateLimitBudget", serviceName = "budgets"))',
    );
    services += `(name = "budgets", worker = (modules = [(name = "budgets.js", esModule = embed "budgets.js")], compatibilityDate = ${text(compatibilityDate())}, durableObjectNamespaces = [${namespace}], durableObjectStorage = (localDisk = "objects"))),`;
  }
  const inject = clientAddress
    ? `injectRequestHeaders = [(name = "cf-connecting-ip", value = ${text(clientAddress)})]`
    : '';
  const allow = env.CORSWAY_ALLOW_PRIVATE_NETWORK ? '"public", "private", "local"' : '"public"';
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    ${services}
    (name = "internet", network = (allow = [${allow}], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (${inject}), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "main.js", esModule = embed "main.js")],
  compatibilityDate = ${text(compatibilityDate())},
  compatibilityFlags = ["global_fetch_strictly_public"],
  bindings = [${bindings.join(', ')}],
  ${objects}
  globalOutbound = "internet",
);
`;
  // embed reads paths relative to the config's directory.
  copyFileSync(bundle, join(dir, 'main.js'));
  const file = join(dir, 'config.capnp');
  writeFileSync(file, config);
  const names = Object.entries(hosts);
  let command = [WORKERD, 'serve', file, ...(inspector ? [`--inspector-addr=${inspector}`] : [])];
  if (names.length > 0) {
    const list = join(dir, 'hosts');
    const lines = names.map(([name, address]) => `${address} ${name}`);
    writeFileSync(list, `${readFileSync('/etc/hosts', 'utf8')}\n${lines.join('\n')}\n`);
    command = ['unshare', '-rm', 'sh', '-c', `mount --bind ${list} /etc/hosts && exec "$@"`, 'sh', ...command];
  }
  const [program = WORKERD, ...args] = command;
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    return child.exitCode;
  };
  for (const deadline = Date.now() + 20_000; ; ) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}:\n${output}`);
    try {
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`workerd did not answer within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, runtime: 'worker', pid: child.pid ?? 0, output: () => output, stop };
}
