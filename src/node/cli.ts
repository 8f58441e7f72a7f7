#!/usr/bin/env node
/*
 * `npx corsway`: flags become the environment variables they mirror (flags
 * win over the environment, and cluster workers inherit them), then the Node
 * server starts as `npm start` does.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseSettings, variableOf } from '../config/config.ts';
import { type AnySetting, flagOf, SETTINGS, type SettingName } from '../config/settings.ts';

const FLAGS = SETTINGS.flatMap((setting) => {
  const flag = flagOf(setting);
  return flag ? [{ flag, setting: setting as AnySetting }] : [];
});

function defaultText(setting: AnySetting): string {
  const meaning = 'meaning' in setting ? setting.meaning : undefined;
  if (!setting.default) return meaning ?? 'none';
  return meaning ? `${setting.default} (${meaning})` : setting.default;
}

function helpText(): string {
  const rows = FLAGS.map(({ flag, setting }) => [
    `${flag === '--port' ? '-p, ' : ''}${flag}${setting.kind.hint ? ` ${setting.kind.hint}` : ''}`,
    `${setting.doc}\n${setting.variable}, default: ${defaultText(setting)}`,
  ]);
  rows.push(['-h, --help', 'show this help'], ['-v, --version', 'show the version']);
  const width = Math.max(...rows.map(([left]) => (left as string).length));
  const indent = `\n  ${' '.repeat(width)}  `;
  return `Usage: corsway [options]

A CORS proxy: GET http://localhost:8080/https://api.example.com/data fetches
the target and answers with CORS headers added.

Every option mirrors an environment variable (named below it); options win.
Lists are comma-separated. Switches also take --no-<name>.
HTTP_PROXY, HTTPS_PROXY and NO_PROXY route upstream requests through a proxy.
Access keys and target headers are secrets: set them in the environment only.

Options:
${rows.map(([left, right]) => `  ${(left as string).padEnd(width)}  ${(right as string).replace('\n', indent)}`).join('\n')}
`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** A usage error: bad flags exit 2, as shells and getopt tools do. */
function usageError(message: string): never {
  process.stderr.write(`corsway: ${message}\nRun corsway --help to see the options.\n`);
  process.exit(2);
}

const SHORT = new Set(['-p', '-h', '-v']);
const takesValue = new Set(FLAGS.filter(({ setting }) => setting.kind.hint).map(({ flag }) => flag));
takesValue.add('-p');

/**
 * `--max-body-bytes -5` is a value that starts with a dash, which parseArgs
 * calls ambiguous; joined as `--max-body-bytes=-5`, the setting's own check
 * says what is wrong with it.
 */
function joinDashValues(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (takesValue.has(arg) && next?.startsWith('-') && !next.startsWith('--') && !SHORT.has(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    args: joinDashValues(process.argv.slice(2)),
    options: {
      ...Object.fromEntries(
        FLAGS.map(({ flag, setting }) => [flag.slice(2), { type: setting.kind.hint ? 'string' : 'boolean' } as const]),
      ),
      port: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowNegative: true,
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  // Node's messages are precise but long; the first sentence names the problem.
  usageError(((error as Error).message.split(/\.\s/)[0] ?? '').replace(/^Unknown option/, 'unknown option'));
}

if (values.help) {
  process.stdout.write(helpText());
  process.exit(0);
}
if (values.version) {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}

/** Setting -> the flag that set it. */
const fromFlags = new Map<SettingName, string>();
for (const { flag, setting } of FLAGS) {
  const value = values[flag.slice(2)];
  if (value === undefined) continue;
  process.env[setting.variable] = typeof value === 'boolean' ? (value ? 'on' : 'off') : value;
  fromFlags.set(setting.name, flag);
}

// Checked here too, so a bad flag value is a usage error named after the flag;
// problems in the environment alone are reported by the server, exit 1.
try {
  parseSettings(
    (setting) => process.env[setting.variable],
    (name) => fromFlags.get(name) ?? variableOf(name),
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  if (error.issues.some((issue) => fromFlags.has(issue.setting))) usageError(error.problems.join('\n  '));
}

await import('./main.ts');
