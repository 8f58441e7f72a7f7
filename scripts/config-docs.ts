/*
 * `npm run docs:config`: writes the settings table of docs/configuration.md
 * from src/config/settings.ts; test/config/docs.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { type AnySetting, flagOf, type Place, SETTINGS } from '../src/config/settings.ts';

export const DOC = new URL('../docs/configuration.md', import.meta.url);
export const BEGIN = '<!-- settings table: generated from src/config/settings.ts by `npm run docs:config` -->';
export const END = '<!-- end of settings table -->';

const PLACES: Record<Place, string> = { node: 'Node', workers: 'Workers', library: 'library' };

/** Plain text in a table cell: no column breaks, no tags, no emphasis. */
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('*', '\\*');

function defaultCell(setting: AnySetting): string {
  const meaning = 'meaning' in setting ? setting.meaning : undefined;
  if (!setting.default) return meaning ? `empty = ${meaning}` : 'empty';
  return `\`${setting.default}\`${meaning ? ` (${meaning})` : ''}`;
}

/** The settings as a Markdown table, in the table's order. */
export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const flag = flagOf(s);
    const option = s.where.some((w) => w === 'library') ? `\`${s.name}\`` : '';
    const hint = s.kind.hint ? ` \`${s.kind.hint.replaceAll('|', '\\|')}\`` : '';
    return `| \`${s.variable}\` | ${flag ? `\`${flag}\`${hint}` : ''} | ${option} | ${defaultCell(s)} | ${s.where.map((w) => PLACES[w]).join(', ')} | ${cell(s.doc)} |`;
  });
  return [
    '| variable | CLI flag | `corsway()` option | default | applies to | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The document with its table section replaced by `table`. */
export function withTable(doc: string, table: string): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md lacks the markers ${BEGIN} ... ${END}`);
  return `${doc.slice(0, begin + BEGIN.length)}\n${table}\n${doc.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(DOC, withTable(readFileSync(DOC, 'utf8'), settingsTable()));
}
