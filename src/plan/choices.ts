// What the interactive wizard chose, turned into the three forms a user can keep: the TOML file, the
// equivalent command line, and the filters the planner reads. All three come from one config object,
// so they cannot disagree.
import { stringify } from 'smol-toml';
import { configToFilters, type ReplicationConfig } from './config-file.ts';
import type { FilterOptions } from './plan.ts';

export interface TimeFilterChoice {
  /** `schema.table` as a selector (quoted where SQL needs it). */
  table: string;
  column: string;
  last: string;
}

export interface DatabaseChoices {
  /** Selectors of tables whose data is not copied. */
  excludeTables: string[];
  schemaOnly: string[];
  timeFilters: TimeFilterChoice[];
}

export interface ReplicationChoices {
  databases: string[];
  perDatabase: Record<string, DatabaseChoices>;
}

/** `schema.table` in selector form: names that SQL would fold or cannot read bare are double-quoted. */
export function tableSelector(schema: string, name: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(schema)}.${part(name)}`;
}

export function choicesToConfig(choices: ReplicationChoices): ReplicationConfig {
  const databases: NonNullable<ReplicationConfig['databases']> = {};
  for (const name of choices.databases) {
    const c = choices.perDatabase[name];
    if (!c) continue;
    const section: NonNullable<ReplicationConfig['databases']>[string] = {};
    if (c.excludeTables.length) section.exclude_tables = [...c.excludeTables];
    if (c.schemaOnly.length) section.schema_only = [...c.schemaOnly];
    if (c.timeFilters.length)
      section.time_filters = c.timeFilters.map((f) => ({ table: f.table, column: f.column, last: f.last }));
    if (Object.keys(section).length) databases[name] = section;
  }
  return { include_databases: [...choices.databases], ...(Object.keys(databases).length ? { databases } : {}) };
}

export function configToToml(config: ReplicationConfig): string {
  return `# database-replicator replication plan (use with --config)\n${stringify(config)}\n`;
}

export function choicesToFilters(choices: ReplicationChoices): FilterOptions {
  return configToFilters(choicesToConfig(choices));
}

/** POSIX shell single-quoting, only where needed. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:,=@-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The flags that give the same plan as `filters`, for a command such as `init`. */
export function commandLineFor(command: string, filters: FilterOptions): string {
  const parts = ['database-replicator', command];
  const flag = (name: string, values: string[] | undefined, joined: boolean) => {
    if (!values?.length) return;
    if (joined) parts.push(`--${name}`, shellQuote(values.join(',')));
    else for (const v of values) parts.push(`--${name}`, shellQuote(v));
  };
  flag('include-databases', filters.includeDatabases, true);
  flag('exclude-databases', filters.excludeDatabases, true);
  flag('include-tables', filters.includeTables, true);
  flag('exclude-tables', filters.excludeTables, true);
  flag('schema-only-tables', filters.schemaOnlyTables, true);
  flag('time-filter', filters.timeFilters, false);
  flag('table-filter', filters.tableFilters, false);
  return parts.join(' ');
}
