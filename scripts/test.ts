/*
 * `npm test`: Biome and the type checks run beside vitest instead of before it, on
 * the cores vitest leaves idle while its suites wait on servers
 * (docs/decisions/test-wall-time.md). Their output is held until vitest's ends, so
 * the two never interleave; the command fails when any of them fails. Arguments
 * go to `vitest run`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package.json scripts that check without running: each stays runnable on its own. */
const CHECKS = ['lint', 'typecheck'];

const children: ChildProcess[] = [];

interface Outcome {
  name: string;
  code: number;
  output: string;
  seconds: number;
}

/** Exit code of a child, 1 when a signal ended it. */
function exitCode(code: number | null): number {
  return code ?? 1;
}

function check(name: string): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(`npm run --silent ${name}`, { shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((resolve) => {
    child.on('close', (code) =>
      resolve({ name, code: exitCode(code), output, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

function vitest(args: string[]): Promise<number> {
  const bin = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: 'inherit' });
  children.push(child);
  return new Promise((resolve) => child.on('close', (code) => resolve(exitCode(code))));
}

// Ctrl-C reaches every child of the terminal itself; a SIGTERM (a CI timeout) is passed on.
// Either way this process waits for them to stop.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {
  for (const child of children) child.kill('SIGTERM');
});

const checks = Promise.all(CHECKS.map(check));
const tests = await vitest(process.argv.slice(2));
const outcomes = await checks;
for (const { name, code, output, seconds } of outcomes) {
  if (code === 0) {
    console.log(`npm run ${name}: passed (${seconds.toFixed(1)} s)`);
  } else {
    console.log(`\nnpm run ${name}: FAILED (exit ${code})\n${output.trimEnd()}\n`);
  }
}
process.exitCode = tests !== 0 ? tests : outcomes.some((o) => o.code !== 0) ? 1 : 0;
