import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DOC, settingsTable, withTable } from '../../scripts/config-docs.ts';
import { SETTINGS } from '../../src/config/settings.ts';

describe('docs/configuration.md', () => {
  const doc = readFileSync(DOC, 'utf8');

  test('its settings table is the one src/config/settings.ts generates (npm run docs:config rewrites it)', () => {
    expect(withTable(doc, settingsTable())).toBe(doc);
  });

  test('a setting added, renamed or redocumented in the table would make the check fail', () => {
    const table = settingsTable();
    const first = SETTINGS[0];
    expect(table).toContain(`| \`${first.variable}\` |`);
    expect(withTable(doc, table.replace(first.doc, `${first.doc}.`))).not.toBe(doc);
  });

  test('names every variable, option and flag', () => {
    for (const s of SETTINGS) expect(doc).toContain(`\`${s.variable}\``);
  });
});
