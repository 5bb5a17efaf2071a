import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addFilterOptions, filtersFrom, type FilterFlags } from '../../../src/cli/filter-options.ts';
import {
  choicesToConfig,
  choicesToFilters,
  commandLineFor,
  configToToml,
  tableSelector,
  type ReplicationChoices,
} from '../../../src/plan/choices.ts';
import { loadConfigFile } from '../../../src/plan/config-file.ts';
import { parseTableSelector } from '../../../src/plan/filters.ts';
import { shellWords } from '../../support/shell.ts';

const dir = mkdtempSync(join(tmpdir(), 'dbr-choices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parseFlags(line: string) {
  const words = shellWords(line);
  expect(words.slice(0, 2)).toEqual(['database-replicator', 'init']);
  const command = addFilterOptions(new Command('init').exitOverride());
  command.parse(words.slice(2), { from: 'user' });
  return filtersFrom(command.opts<FilterFlags>());
}

const choices: ReplicationChoices = {
  databases: ['shop', 'Analytics DB'],
  perDatabase: {
    shop: {
      excludeTables: ['public.audit_trail', `public."Order Items"`],
      schemaOnly: ['reporting.snapshots'],
      timeFilters: [{ table: 'public.orders', column: 'created_at', last: '6 months' }],
    },
    'Analytics DB': {
      excludeTables: [],
      schemaOnly: [],
      timeFilters: [{ table: `public."Events"`, column: 'Occurred At', last: '30 days' }],
    },
  },
};

describe('the plan chosen interactively, as TOML, flags and filters', () => {
  it('quotes table names that SQL would fold or cannot read bare', () => {
    expect(tableSelector('public', 'orders')).toBe('public.orders');
    expect(tableSelector('public', 'Order Items')).toBe('public."Order Items"');
    expect(tableSelector('Sales', 'x"y')).toBe('"Sales"."x""y"');
    expect(parseTableSelector(`db.${tableSelector('Sales', 'x"y')}`)).toMatchObject({
      database: 'db',
      schema: 'Sales',
      name: 'x"y',
    });
  });

  it('writes a TOML file that --config reads back into the same filters', () => {
    const file = join(dir, 'plan.toml');
    writeFileSync(file, configToToml(choicesToConfig(choices)));
    expect(loadConfigFile(file).filters).toEqual(choicesToFilters(choices));
  });

  it('prints a command line whose flags parse into the same filters', () => {
    const line = commandLineFor('init', choicesToFilters(choices));
    expect(line).toContain(`--time-filter 'shop.public.orders:created_at:6 months'`);
    expect(parseFlags(line)).toEqual({
      ...choicesToFilters(choices),
      excludeDatabases: [],
      includeTables: [],
      tableFilters: [],
    });
  });

  it('names every chosen database and leaves out empty sections', () => {
    const config = choicesToConfig({
      databases: ['a', 'b'],
      perDatabase: { a: { excludeTables: [], schemaOnly: [], timeFilters: [] } },
    });
    expect(config).toEqual({ include_databases: ['a', 'b'] });
  });
});
