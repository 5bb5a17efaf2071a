import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { parseWindow } from './filters.ts';
import type { FilterOptions } from './plan.ts';

/** A bad configuration file: one sentence naming the file, the line or key, and the fix. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

const tableList = z.array(z.string().min(1, 'a table name cannot be empty'));

const databaseSection = z.strictObject({
  include_tables: tableList.optional(),
  exclude_tables: tableList.optional(),
  schema_only: tableList.optional(),
  table_filters: z
    .array(z.strictObject({ table: z.string().min(1), where: z.string().min(1, 'the condition cannot be empty') }))
    .optional(),
  time_filters: z
    .array(
      z.strictObject({
        table: z.string().min(1),
        column: z.string().min(1),
        last: z.string().refine((text) => {
          try {
            parseWindow(text, 'last');
            return true;
          } catch {
            return false;
          }
        }, 'write a positive number and one of second, minute, hour, day, week, month, year, e.g. "6 months"'),
      }),
    )
    .optional(),
});

const configSchema = z.strictObject({
  include_databases: z.array(z.string().min(1)).optional(),
  exclude_databases: z.array(z.string().min(1)).optional(),
  jobs: z.number().int().min(1).max(64).optional(),
  databases: z.record(z.string().min(1), databaseSection).optional(),
});

export type ReplicationConfig = z.infer<typeof configSchema>;

/** What a file contributes: filters in the same form as the flags, and option defaults. */
export interface LoadedConfig {
  filters: FilterOptions;
  /** Selector text -> key path in the file (see configOrigins). */
  origins: Map<string, string>;
  jobs?: number;
}

const KNOWN_KEYS = [
  'include_databases',
  'exclude_databases',
  'jobs',
  'databases',
  'include_tables',
  'exclude_tables',
  'schema_only',
  'table_filters',
  'time_filters',
  'table',
  'where',
  'column',
  'last',
];

function closest(key: string): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = KNOWN_KEYS.map((k) => ({ k, d: distance(key, k) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d <= 3 ? best.k : undefined;
}

function keyPath(path: PropertyKey[]): string {
  return (
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || 'the top level'
  );
}

/** Quotes a name for a table selector when SQL would need quotes (database names keep their case). */
function selectorPart(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_$-]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** Turns the file's per-database sections into the flags' `db.table` forms, so one planner serves both. */
export function configToFilters(config: ReplicationConfig): FilterOptions {
  const filters: Required<FilterOptions> = {
    includeDatabases: config.include_databases ?? [],
    excludeDatabases: config.exclude_databases ?? [],
    includeTables: [],
    excludeTables: [],
    schemaOnlyTables: [],
    timeFilters: [],
    tableFilters: [],
  };
  for (const [database, section] of Object.entries(config.databases ?? {})) {
    const qualify = (table: string) => `${selectorPart(database)}.${table}`;
    filters.includeTables.push(...(section.include_tables ?? []).map(qualify));
    filters.excludeTables.push(...(section.exclude_tables ?? []).map(qualify));
    filters.schemaOnlyTables.push(...(section.schema_only ?? []).map(qualify));
    filters.tableFilters.push(...(section.table_filters ?? []).map((f) => `${qualify(f.table)}:${f.where}`));
    filters.timeFilters.push(
      ...(section.time_filters ?? []).map((f) => `${qualify(f.table)}:${selectorPart(f.column)}:${f.last}`),
    );
  }
  return filters;
}

/**
 * Where each table named in a file sits (`databases.shop.exclude_tables[0]`), by the selector text the
 * planner reports, so an error about a missing table can name the file and key to fix.
 */
export function configOrigins(config: ReplicationConfig): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [database, section] of Object.entries(config.databases ?? {})) {
    const qualify = (table: string) => `${selectorPart(database)}.${table}`;
    const at = (key: string, i: number) => `databases.${selectorPart(database)}.${key}[${i}]`;
    (section.include_tables ?? []).forEach((t, i) => origins.set(qualify(t), at('include_tables', i)));
    (section.exclude_tables ?? []).forEach((t, i) => origins.set(qualify(t), at('exclude_tables', i)));
    (section.schema_only ?? []).forEach((t, i) => origins.set(qualify(t), at('schema_only', i)));
    (section.table_filters ?? []).forEach((f, i) => origins.set(qualify(f.table), `${at('table_filters', i)}.table`));
    (section.time_filters ?? []).forEach((f, i) => origins.set(qualify(f.table), `${at('time_filters', i)}.table`));
  }
  return origins;
}

/** Reads and validates a TOML configuration file; every problem is one sentence naming the file and where. */
export function loadConfigFile(
  path: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): LoadedConfig {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigFileError(
      `The configuration file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path given to --config.`,
    );
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const what = error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new ConfigFileError(
        `${path} line ${error.line}, column ${error.column}: ${what}; fix the TOML syntax there.`,
      );
    }
    throw error;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const hint = closest(key);
      throw new ConfigFileError(
        `${path}: unknown key "${key}" in ${keyPath(issue.path)}${hint ? `; did you mean "${hint}"?` : `; the keys are ${KNOWN_KEYS.slice(0, 8).join(', ')}.`}`,
      );
    }
    throw new ConfigFileError(`${path}: ${keyPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}.`);
  }
  return {
    filters: configToFilters(result.data),
    origins: configOrigins(result.data),
    ...(result.data.jobs !== undefined ? { jobs: result.data.jobs } : {}),
  };
}

/** Flags override the file, kind by kind: a filter kind given on the command line replaces the file's. */
export function mergeFilters(file: FilterOptions, flags: FilterOptions): FilterOptions {
  const pick = (k: keyof FilterOptions) => ((flags[k]?.length ?? 0) > 0 ? flags[k] : file[k]) ?? [];
  return {
    includeDatabases: pick('includeDatabases'),
    excludeDatabases: pick('excludeDatabases'),
    includeTables: pick('includeTables'),
    excludeTables: pick('excludeTables'),
    schemaOnlyTables: pick('schemaOnlyTables'),
    timeFilters: pick('timeFilters'),
    tableFilters: pick('tableFilters'),
  };
}
