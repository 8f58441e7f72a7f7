import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';

/**
 * A program some suites start for real, beyond Node and npm. Without it, a
 * developer's `npm test` leaves those suites out with one line saying what to
 * install; under CI=true (CI installs it) its absence fails the run instead.
 */
export interface Prerequisite {
  /** What the one line calls it. */
  readonly name: string;
  /** The program as run, or its path. */
  readonly program: string;
  /** The Debian package that provides it. */
  readonly debian: string;
  /** The test/support module through which a suite starts it: a suite importing it needs the program. */
  readonly module: string;
}

export const REDIS: Prerequisite = {
  name: 'redis-server',
  program: 'redis-server',
  debian: 'redis-server',
  module: 'redis-server.ts',
};

/** The browser suite's Chromium: Debian's package, or CHROMIUM_PATH. */
export const CHROMIUM: Prerequisite = {
  name: `Chromium (${process.env.CHROMIUM_PATH || '/usr/bin/chromium'}; CHROMIUM_PATH names another)`,
  program: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  debian: 'chromium',
  module: 'browser.ts',
};

function installed(program: string): boolean {
  const candidates = program.includes('/')
    ? [program]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, program));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * The test files (relative to `root`) to leave out because a prerequisite is
 * missing, after saying so in one line per program; throws under CI=true.
 */
export function unrunnable(root: string, prerequisites: readonly Prerequisite[]): string[] {
  const out: string[] = [];
  for (const prerequisite of prerequisites) {
    if (installed(prerequisite.program)) continue;
    const suites = testFiles(join(root, 'test'))
      .filter((file) => readFileSync(file, 'utf8').includes(`/${prerequisite.module}'`))
      .map((file) => relative(root, file));
    const what = `${prerequisite.name} is not installed (Debian: apt install ${prerequisite.debian})`;
    if (process.env.CI === 'true') throw new Error(`${what}; CI runs every suite, so it must be installed`);
    console.warn(`${what}: skipping ${suites.join(', ')}`);
    out.push(...suites);
  }
  return out;
}
