import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, test } from 'vitest';
import { flagOf, SETTINGS } from '../../src/config/settings.ts';
import { ROOT } from '../support/runtimes.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `corsway <args>` from the source, as a child process; resolves once it has exited and its output is read, or,
 * with `until`, once stderr matches it (then the process group is stopped).
 */
function corsway(args: string[], env: Record<string, string> = {}, until?: RegExp): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, CORSWAY_LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`corsway ${args.join(' ')} did not finish within 20 s:\n${run.stderr}`));
    }, 20_000);
    const stop = () => {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    };
    child.stdout.on('data', (d: Buffer) => {
      run.stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      run.stderr += d.toString();
      if (until?.test(run.stderr)) stop();
    });
    // 'close', not 'exit': a child can exit before its last stderr bytes were read, and under
    // load the test then saw exit 2 with an empty stderr.
    child.on('close', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

describe('corsway CLI: a bad flag value is a usage error naming the flag (exit 2)', () => {
  test.concurrent.each([
    [['--max-body-bytes', '-5'], /^corsway: --max-body-bytes: expected a whole number from 0 to \d+, got "-5"$/m],
    [['--max-body-bytes=-5'], /^corsway: --max-body-bytes: expected a whole number from 0 to \d+, got "-5"$/m],
    [['--port', '-1'], /^corsway: --port: expected a whole number from 0 to 65535, got "-1"$/m],
    [['--rate-limit', 'lots'], /^corsway: --rate-limit: expected <count>\/<window> such as 60\/1m/m],
    [['--rate-limit-by', 'user'], /^corsway: --rate-limit-by: expected one of ip, origin, got "user"$/m],
  ])('corsway %j', async (args, message) => {
    const { code, stdout, stderr } = await corsway(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toContain('ambiguous');
    expect(stderr).toContain('Run corsway --help to see the options.');
  });

  test.concurrent('a bad flag and a bad variable together: both reported, each by the name the user wrote', async () => {
    const { code, stderr } = await corsway(['--max-age', 'forever'], { CORSWAY_TIMEOUT_MS: '0' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ {2}--max-age: expected a whole number/m);
    expect(stderr).toMatch(/^corsway: CORSWAY_TIMEOUT_MS: expected a whole number from 1/m);
  });

  test.concurrent('a bad variable alone: the server reports it by name, exit 1', async () => {
    const { code, stderr } = await corsway([], { CORSWAY_MAX_AGE: 'forever' });
    expect(code).toBe(1);
    expect(stderr).toContain('CORSWAY_MAX_AGE: expected a whole number from 0');
  });

  test.concurrent('--max-redirects without a value -> says the value is missing', async () => {
    const { code, stderr } = await corsway(['--max-redirects']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--max-redirects <value>' argument missing/);
  });
});

describe('corsway --help', () => {
  test.concurrent('lists a flag for every Node setting of the table, with its variable and default; none for secrets', async () => {
    const { code, stdout } = await corsway(['--help']);
    expect(code).toBe(0);
    for (const setting of SETTINGS) {
      const flag = flagOf(setting);
      if (!flag) {
        expect(stdout).not.toContain(`--${setting.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        continue;
      }
      const hint = setting.kind.hint ? ` ${setting.kind.hint}` : '';
      expect(stdout).toContain(`${flag}${hint}`);
      expect(stdout).toContain(`${setting.variable}, default: `);
    }
    expect(stdout).toMatch(/--max-body-bytes <bytes>[^\n]*\n\s+CORSWAY_MAX_BODY_BYTES, default: 10485760 \(10 MiB\)/);
  });
});

describe('corsway --workers: more than one per core', () => {
  test('cores + 1 workers -> a warning naming the variable, the flag and the core count', async () => {
    const cores = availableParallelism();
    const { stderr } = await corsway(['--workers', String(cores + 1)], {}, /warning/);
    expect(stderr).toContain(
      `corsway: warning: ${cores + 1} workers (CORSWAY_WORKERS, --workers) on ${cores} cores; workers beyond one per core only compete for them`,
    );
  }, 30_000);
});
