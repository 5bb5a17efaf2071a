import { describe, expect, it } from 'vitest';
import { ConfigFileError, loadConfigFile, mergeFilters } from '../../../src/plan/config-file.ts';

const load = (text: string) => loadConfigFile('replication.toml', () => text);
const failure = (text: string): string => {
  try {
    load(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return (error as Error).message;
  }
  throw new Error('expected the file to be refused');
};

describe('loadConfigFile', () => {
  it('turns per-database sections into the same filters as the flags', () => {
    const config = load(`
jobs = 4
include_databases = ["shop"]

[databases.shop]
exclude_tables = ["audit_trail"]
schema_only = ["reporting.snapshots"]
include_tables = ['sales."Order Items"', "orders"]

[[databases.shop.time_filters]]
table = "analytics.events"
column = "occurred_at"
last = "6 months"

[[databases.shop.table_filters]]
table = "orders"
where = "status <> 'cancelled'"

[databases."my db"]
exclude_tables = ["logs"]
`);
    expect({ ...config, origins: undefined }).toEqual({
      origins: undefined,
      jobs: 4,
      filters: {
        includeDatabases: ['shop'],
        excludeDatabases: [],
        includeTables: ['shop.sales."Order Items"', 'shop.orders'],
        excludeTables: ['shop.audit_trail', '"my db".logs'],
        schemaOnlyTables: ['shop.reporting.snapshots'],
        timeFilters: ['shop.analytics.events:occurred_at:6 months'],
        tableFilters: ["shop.orders:status <> 'cancelled'"],
      },
    });
  });

  it.each([
    [
      'a TOML syntax error, with line and column',
      'jobs = \n[databases',
      /^replication\.toml line 1, column \d+: .*; fix the TOML syntax there\.$/,
    ],
    [
      'an unknown key, with the likely one',
      '[databases.shop]\nexclude_table = ["a"]',
      /^replication\.toml: unknown key "exclude_table" in databases\.shop; did you mean "exclude_tables"\?$/,
    ],
    ['an unknown top-level key', 'threads = 2', /unknown key "threads" in the top level/],
    ['a wrong type', 'jobs = "four"', /^replication\.toml: jobs: expected number, received string\.$/],
    ['jobs out of range', 'jobs = 0', /jobs: Too small/i],
    [
      'a list holding a number',
      '[databases.shop]\nexclude_tables = [1]',
      /databases\.shop\.exclude_tables\[0\]: expected string/,
    ],
    [
      'a bad time window',
      '[[databases.shop.time_filters]]\ntable = "e"\ncolumn = "at"\nlast = "six months"',
      /databases\.shop\.time_filters\[0\]\.last: write a positive number/,
    ],
    [
      'a time filter without a column',
      '[[databases.shop.time_filters]]\ntable = "e"\nlast = "1 day"',
      /databases\.shop\.time_filters\[0\]\.column: expected string/,
    ],
    [
      'an empty condition',
      '[[databases.shop.table_filters]]\ntable = "e"\nwhere = ""',
      /where: the condition cannot be empty/,
    ],
  ])('refuses %s in one sentence naming the file', (_name, text, message) => {
    const m = failure(text);
    expect(m).toMatch(message);
    expect(m).not.toContain('\n');
  });

  it('knows which key each table came from, for errors about tables that do not exist', () => {
    expect([
      ...load(
        '[databases.shop]\nexclude_tables = ["a", "b"]\n[[databases."my db".time_filters]]\ntable = "e"\ncolumn = "at"\nlast = "1 day"\n',
      ).origins,
    ]).toEqual([
      ['shop.a', 'databases.shop.exclude_tables[0]'],
      ['shop.b', 'databases.shop.exclude_tables[1]'],
      ['"my db".e', 'databases."my db".time_filters[0].table'],
    ]);
  });

  it('names an unreadable file', () => {
    expect(() => loadConfigFile('/nonexistent/replication.toml')).toThrow(
      /The configuration file \/nonexistent\/replication\.toml cannot be read \(ENOENT\); check the path given to --config\./,
    );
  });
});

describe('mergeFilters', () => {
  it("lets each filter kind given as a flag replace the file's, and keeps the rest", () => {
    const file = { excludeTables: ['shop.a'], schemaOnlyTables: ['shop.b'], timeFilters: ['shop.e:at:1 day'] };
    expect(mergeFilters(file, { excludeTables: ['shop.c'], schemaOnlyTables: [] })).toEqual({
      includeDatabases: [],
      excludeDatabases: [],
      includeTables: [],
      excludeTables: ['shop.c'],
      schemaOnlyTables: ['shop.b'],
      timeFilters: ['shop.e:at:1 day'],
      tableFilters: [],
    });
  });
});
