import type { Command } from 'commander';
import { splitOutsideQuotes } from '../plan/filters.ts';
import { ConfigFileError, loadConfigFile, mergeFilters } from '../plan/config-file.ts';
import type { FilterError } from '../plan/filters.ts';
import type { FilterOptions } from '../plan/plan.ts';
import { UsageError } from './io.ts';

export interface FilterFlags {
  config?: string;
  includeDatabases: string[];
  excludeDatabases: string[];
  includeTables: string[];
  excludeTables: string[];
  schemaOnlyTables: string[];
  timeFilter: string[];
  tableFilter: string[];
}

const list = (value: string, previous: string[] = []) => [
  ...previous,
  ...splitOutsideQuotes(value, ',')
    .map((s) => s.trim())
    .filter(Boolean),
];
const repeat = (value: string, previous: string[] = []) => [...previous, value];

/** The filters every command that plans (init, verify) takes, with the same meaning everywhere. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--include-databases <names>', 'only these source databases (comma-separated, repeatable)', list, [])
    .option('--exclude-databases <names>', 'skip these source databases', list, [])
    .option(
      '--include-tables <tables>',
      'copy data only for these tables: db.table or db.schema.table (quote names: shop."Order Items")',
      list,
      [],
    )
    .option(
      '--exclude-tables <tables>',
      'copy no data for these tables (their definitions are still created)',
      list,
      [],
    )
    .option('--schema-only-tables <tables>', 'create these tables without data and without replicating them', list, [])
    .option(
      '--time-filter <rule>',
      'copy only recent rows: "table:column:6 months" (second ... year); repeatable',
      repeat,
      [],
    )
    .option('--table-filter <rule>', 'copy only matching rows: "table:SQL condition"; repeatable', repeat, [])
    .option('--config <file>', 'read filters and defaults (jobs) from a TOML file; flags override it kind by kind');
}

/**
 * The filters and the --jobs value a command runs with: the TOML file's, overridden by flags given on
 * the command line. A bad file is a usage error naming the file and the line or key.
 */
export function resolveFilters(flags: FilterFlags, command: Command): { filters: FilterOptions; jobs?: number } {
  const fromFlags = filtersFrom(flags);
  if (!flags.config) return { filters: fromFlags };
  let loaded;
  try {
    loaded = loadConfigFile(flags.config);
  } catch (error) {
    if (error instanceof ConfigFileError) throw new UsageError(error.message);
    throw error;
  }
  const jobsFromCli = command.getOptionValueSource('jobs') === 'cli';
  return {
    filters: mergeFilters(loaded.filters, fromFlags),
    ...(loaded.jobs !== undefined && !jobsFromCli ? { jobs: loaded.jobs } : {}),
  };
}

export function filtersFrom(flags: FilterFlags): FilterOptions {
  return {
    includeDatabases: flags.includeDatabases,
    excludeDatabases: flags.excludeDatabases,
    includeTables: flags.includeTables,
    excludeTables: flags.excludeTables,
    schemaOnlyTables: flags.schemaOnlyTables,
    timeFilters: flags.timeFilter,
    tableFilters: flags.tableFilter,
  };
}

/**
 * A planning error about a table named in the --config file names the file and the key holding it, so
 * the user knows where to fix it (the planner itself only knows the table).
 */
export function filterUsageError(error: FilterError, flags: Pick<FilterFlags, 'config'>): UsageError {
  if (!flags.config) return new UsageError(error.message);
  let origins: Map<string, string>;
  try {
    origins = loadConfigFile(flags.config).origins;
  } catch {
    return new UsageError(error.message);
  }
  for (const [text, key] of origins) {
    if (error.message.includes(`"${text}"`))
      return new UsageError(
        `${flags.config}: ${key}: ${error.message.replace(/^The filter /, 'the table ')} Fix or remove it in the file.`,
      );
  }
  return new UsageError(error.message);
}
