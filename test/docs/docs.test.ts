import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERROR_STATUS } from '../../src/core/errors.ts';
import { ORIGIN_STATE_HEADERS, ORIGIN_STATE_PREFIXES } from '../../src/core/headers.ts';
import { parseTarget } from '../../src/core/target.ts';
import { ROOT } from '../support/runtimes.ts';

/*
 * The docs are part of the interface: a link that leads nowhere, a URL form the
 * parser reads otherwise, or an error code with another status is a bug a
 * reader meets before any test of ours would.
 */

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const README = read('README.md');

function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}
const DOCS = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'BENCHMARKS.md', ...markdownFiles('docs')];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (heading) found.add(slug(heading[1] as string));
  }
  return found;
}

/** The rows of the first table whose header row starts with `firstHeader`. */
function tableRows(markdown: string, firstHeader: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  expect(start, `a table headed "${firstHeader}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe('README', () => {
  test('stays under 10,000 characters', () => {
    expect(README.length).toBeLessThan(10_000);
  });

  test('its first screen has the command that installs and starts, and the one that tests', () => {
    const firstScreen = README.split('\n').slice(0, 25).join('\n');
    expect(firstScreen).toContain('npm ci && npm start');
    expect(firstScreen).toMatch(/^npm test\b/m);
    const scripts = JSON.parse(read('package.json')).scripts;
    expect(scripts.start).toBeTruthy();
    expect(scripts.test).toBeTruthy();
  });

  test('every URL form in the table is parsed to the URL it says', () => {
    const rows = tableRows(README, 'you write');
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const [written, fetched] of rows) {
      const path = /`\/([^`]*)`/.exec(written as string)?.[1] as string;
      const expected = /`([^`]+)`/.exec(fetched as string)?.[1] as string;
      const raw = path.startsWith('?url=') ? decodeURIComponent(path.slice('?url='.length)) : path;
      expect(parseTarget(raw).href, written).toBe(expected);
    }
  });

  test('every error code in the table has the status the proxy answers it with', () => {
    const rows = tableRows(README, 'status');
    const listed = new Set<string>();
    for (const [status, codes] of rows) {
      for (const [, code] of (codes as string).matchAll(/`([a-z_]+)`/g)) {
        listed.add(code as string);
        expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], code).toBe(Number(status));
      }
    }
    expect([...listed].sort()).toEqual(Object.keys(ERROR_STATUS).sort());
  });
});

describe('links between the docs', () => {
  test.each(DOCS)('%s: every relative link leads to a file, and its #anchor to a heading there', (doc) => {
    const text = read(doc);
    const broken: string[] = [];
    for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(href as string)) continue;
      const [file, anchor] = (href as string).split('#');
      const target = file ? join(dirname(doc), file) : doc;
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${href} (no ${relative('.', target)})`);
        continue;
      }
      if (anchor && target.endsWith('.md') && !anchors(read(target)).has(anchor)) {
        broken.push(`${href} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('docs/security.md', () => {
  test('its origin-state table names exactly the headers and families src/core/headers.ts drops', () => {
    const names = tableRows(read('docs/security.md'), 'response header').map((row) =>
      (row[0] ?? '').replace(/`/g, '').toLowerCase(),
    );
    expect(names.filter((name) => !name.endsWith('*')).sort()).toEqual([...ORIGIN_STATE_HEADERS].sort());
    expect(
      names
        .filter((name) => name.endsWith('*'))
        .map((name) => name.slice(0, -1))
        .sort(),
    ).toEqual([...ORIGIN_STATE_PREFIXES].sort());
  });
});
