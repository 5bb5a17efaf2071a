import type { CatalogTable } from '../catalog/tables.ts';
import { FilterError, parseTableFilter, parseTableSelector, parseTimeFilter, type TableSelector } from './filters.ts';

/** The filters as given (flags now, TOML later): plain strings, parsed here. */
export interface FilterOptions {
  includeDatabases?: string[];
  excludeDatabases?: string[];
  includeTables?: string[];
  excludeTables?: string[];
  schemaOnlyTables?: string[];
  timeFilters?: string[];
  tableFilters?: string[];
}

export type TableMode = 'data' | 'schema-only' | 'excluded';

/** One unit of copy: a table or leaf partition with storage, and how much of it to copy. */
export interface TablePlan {
  schema: string;
  name: string;
  mode: TableMode;
  /** Columns copied: generated columns are left out, the target computes them. */
  columns: string[];
  /** SQL condition limiting the rows (time window and table filter, ANDed), or null for all rows. */
  where: string | null;
  bytes: number;
  estimatedRows: number;
  primaryKey: string[];
  unlogged: boolean;
  /** The top-level table the user sees and the publication lists (itself unless a partition). */
  publishedAs: { schema: string; name: string };
}

export interface PublicationEntry {
  schema: string;
  name: string;
  rowFilter: string | null;
  /**
   * A table filter must hold for streamed rows too; a time window need not (new rows fall inside it,
   * and changes to old rows the target lacks are skipped by the apply worker).
   */
  rowFilterRequired: boolean;
}

export interface DatabasePlan {
  source: string;
  target: string;
  tables: TablePlan[];
  /** Top-level tables in the publication, each with its row filter (PostgreSQL 15+). */
  publication: PublicationEntry[];
}

/** A time window turned once into a literal, recorded with the plan so copy, publication and verify agree. */
export interface ResolvedTimeFilter {
  database: string;
  schema: string;
  table: string;
  column: string;
  window: string;
  since: string;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Which source databases a job covers. */
export function selectDatabases(available: string[], urlDatabase: string | null, options: FilterOptions): string[] {
  const include = options.includeDatabases ?? [];
  const exclude = new Set(options.excludeDatabases ?? []);
  for (const name of [...include, ...exclude]) {
    if (!available.includes(name))
      throw new FilterError(
        `The database "${name}" does not exist on the source (it has ${available.join(', ') || 'no user databases'}).`,
      );
  }
  const both = include.filter((d) => exclude.has(d));
  if (both.length)
    throw new FilterError(
      `The database "${both[0]}" is both included and excluded; keep one of --include-databases and --exclude-databases for it.`,
    );
  const base = include.length ? include : urlDatabase && urlDatabase !== 'postgres' ? [urlDatabase] : available;
  const selected = base.filter((d) => !exclude.has(d));
  if (selected.length === 0) throw new FilterError('No source database is left to replicate after the filters.');
  return selected;
}

interface Parsed {
  include: TableSelector[];
  exclude: TableSelector[];
  schemaOnly: TableSelector[];
  time: ReturnType<typeof parseTimeFilter>[];
  where: ReturnType<typeof parseTableFilter>[];
}

export function parseFilters(options: FilterOptions): Parsed {
  return {
    include: (options.includeTables ?? []).map(parseTableSelector),
    exclude: (options.excludeTables ?? []).map(parseTableSelector),
    schemaOnly: (options.schemaOnlyTables ?? []).map(parseTableSelector),
    time: (options.timeFilters ?? []).map(parseTimeFilter),
    where: (options.tableFilters ?? []).map(parseTableFilter),
  };
}

const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/**
 * Resolves a selector inside one database to a top-level table (partitions resolve to themselves).
 * Returns null when the selector names another database; throws when the table does not exist.
 */
function resolve(
  selector: TableSelector,
  database: string,
  databases: string[],
  tables: CatalogTable[],
): CatalogTable | null {
  // With one database planned, `schema.table` and `table` are accepted too.
  let db = selector.database;
  let schema = selector.schema;
  if (db !== undefined && schema === undefined && databases.length === 1 && !databases.includes(db)) {
    schema = db;
    db = undefined;
  }
  if (db !== undefined && db !== database) {
    if (!databases.includes(db))
      throw new FilterError(
        `The filter "${selector.text}" names the database "${db}", which is not replicated (planned: ${databases.join(', ')}).`,
      );
    return null;
  }
  if (db === undefined && databases.length > 1) {
    throw new FilterError(
      `The filter "${selector.text}" must name its database (db.table or db.schema.table) when several databases are replicated.`,
    );
  }
  // Unquoted schema names fold to lower case in SQL; accept either spelling here.
  const candidates = tables.filter(
    (t) =>
      t.name === selector.name && (schema === undefined || t.schema === schema || t.schema === schema.toLowerCase()),
  );
  if (candidates.length === 0) {
    throw new FilterError(
      `The filter "${selector.text}" names a table that does not exist in database ${database}; check the name (quote mixed-case names, e.g. shop."Order Items").`,
    );
  }
  if (candidates.length > 1) {
    throw new FilterError(
      `The filter "${selector.text}" is ambiguous in database ${database}: ${candidates.map(key).join(', ')}; write db.schema.table.`,
    );
  }
  return candidates[0]!;
}

/** The rules that apply to a table: its own, or those given for its partitioned root. */
function ruleFor<T>(rules: Map<string, T>, table: CatalogTable): T | undefined {
  return rules.get(key(table)) ?? (table.root ? rules.get(key(table.root)) : undefined);
}

export interface PlanInput {
  sourceDatabase: string;
  targetDatabase: string;
  databases: string[];
  tables: CatalogTable[];
  filters: Parsed;
  /** Time filters already resolved to literals (from a recorded plan or computed now). */
  resolveSince: (schema: string, table: string, column: string, window: string) => string;
  rowFilters: boolean;
}

/** Builds one database's plan, refusing conflicting or dangling rules with one clear sentence. */
export function planDatabase(input: PlanInput): { plan: DatabasePlan; timeFilters: ResolvedTimeFilter[] } {
  const { sourceDatabase: database, tables, filters } = input;
  const collect = (selectors: TableSelector[]) => {
    const out = new Map<string, { table: CatalogTable; text: string }>();
    for (const s of selectors) {
      const table = resolve(s, database, input.databases, tables);
      if (table) out.set(key(table), { table, text: s.text });
    }
    return out;
  };
  const include = collect(filters.include);
  const exclude = collect(filters.exclude);
  const schemaOnly = collect(filters.schemaOnly);
  const conflict = (a: Map<string, { text: string }>, b: Map<string, { text: string }>, what: string) => {
    for (const [k, v] of a)
      if (b.has(k)) throw new FilterError(`The table ${v.text} is ${what}; keep one rule for it.`);
  };
  conflict(include, exclude, 'both included and excluded');
  conflict(schemaOnly, exclude, 'both schema-only and excluded');

  const windows = new Map<string, { column: string; window: string; text: string }>();
  const resolvedTime: ResolvedTimeFilter[] = [];
  for (const f of filters.time) {
    const table = resolve(f.table, database, input.databases, tables);
    if (!table) continue;
    if (windows.has(key(table))) throw new FilterError(`The table ${f.table.text} has two time filters; give one.`);
    const column = table.columns.find((c) => c.name === f.column);
    if (!column)
      throw new FilterError(
        `The time filter on ${f.table.text} names the column "${f.column}", which ${table.schema}.${table.name} does not have.`,
      );
    if (!/^(timestamp|date)/.test(column.type))
      throw new FilterError(
        `The time filter on ${f.table.text} needs a date or timestamp column, but "${f.column}" is ${column.type}.`,
      );
    windows.set(key(table), { column: f.column, window: f.window, text: f.table.text });
  }
  const predicates = new Map<string, string>();
  for (const f of filters.where) {
    const table = resolve(f.table, database, input.databases, tables);
    if (!table) continue;
    const previous = predicates.get(key(table));
    predicates.set(key(table), previous ? `(${previous}) AND (${f.predicate})` : f.predicate);
  }
  for (const [k, w] of windows)
    if (exclude.has(k) || schemaOnly.has(k))
      throw new FilterError(
        `The table ${w.text} has a time filter but copies no data (excluded or schema-only); drop one of the rules.`,
      );
  for (const k of predicates.keys())
    if (exclude.has(k) || schemaOnly.has(k))
      throw new FilterError(
        `The table ${k} has a table filter but copies no data (excluded or schema-only); drop one of the rules.`,
      );

  const conditionFor = (table: CatalogTable): string | null => {
    const parts: string[] = [];
    const w = ruleFor(windows, table);
    if (w) {
      const owner = table.root ?? table;
      const since = input.resolveSince(owner.schema, owner.name, w.column, w.window);
      if (!resolvedTime.some((r) => r.schema === owner.schema && r.table === owner.name)) {
        resolvedTime.push({
          database,
          schema: owner.schema,
          table: owner.name,
          column: w.column,
          window: w.window,
          since,
        });
      }
      parts.push(`${quoteIdentifier(w.column)} >= '${since}'`);
    }
    const p = ruleFor(predicates, table);
    if (p) parts.push(`(${p})`);
    return parts.length ? parts.join(' AND ') : null;
  };

  const modeFor = (table: CatalogTable): TableMode => {
    if (ruleFor(exclude, table)) return 'excluded';
    if (include.size && !ruleFor(include, table)) return 'excluded';
    if (ruleFor(schemaOnly, table)) return 'schema-only';
    return 'data';
  };

  // A partitioned root is published as a whole (publish_via_partition_root): a partition left without
  // data under a root that replicates would still receive every live change through the root.
  for (const t of tables.filter((x) => x.root)) {
    const root = tables.find((x) => x.schema === t.root!.schema && x.name === t.root!.name);
    const mode = modeFor(t);
    if (root && mode !== 'data' && modeFor(root) === 'data') {
      throw new FilterError(
        `The partition ${key(t)} is ${mode} but its partitioned table ${key(root)} replicates, so live changes would still reach it through ${key(root)}; give the rule for ${key(root)} itself, or leave those rows out with --table-filter on ${key(root)}.`,
      );
    }
  }

  const planned: TablePlan[] = tables
    .filter((t) => t.hasStorage)
    .map((t) => {
      const mode = modeFor(t);
      return {
        schema: t.schema,
        name: t.name,
        mode,
        columns: t.columns.filter((c) => !c.generated).map((c) => c.name),
        where: mode === 'data' ? conditionFor(t) : null,
        bytes: t.bytes,
        estimatedRows: t.estimatedRows,
        primaryKey: t.primaryKey,
        unlogged: t.unlogged,
        publishedAs: t.root ?? { schema: t.schema, name: t.name },
      };
    });

  // Published: top-level logged tables that copy data. Unlogged tables write no WAL and cannot be published.
  const publication = tables
    .filter((t) => t.kind !== 'partition' && !t.unlogged && modeFor(t) === 'data')
    .map((t) => ({
      schema: t.schema,
      name: t.name,
      rowFilter: input.rowFilters ? conditionFor(t) : null,
      rowFilterRequired: ruleFor(predicates, t) !== undefined,
    }));

  return {
    plan: { source: database, target: input.targetDatabase, tables: planned, publication },
    timeFilters: resolvedTime,
  };
}
