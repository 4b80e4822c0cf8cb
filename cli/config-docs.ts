// `npm run docs:config`: rewrites README.md's table of settings from their declarations in
// domain/config.ts. test/unit/config.test.ts fails while the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings } from '../domain/config';
import { settingsTable, withSettingsTable } from '../domain/settings';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
const before = readFileSync(readmePath, 'utf8');
const after = withSettingsTable(before, settingsTable(settings));
if (after === before) {
  console.log('README.md: the settings table is up to date');
} else {
  writeFileSync(readmePath, after);
  console.log(`README.md: settings table rewritten (${Object.keys(settings).length} settings)`);
}
