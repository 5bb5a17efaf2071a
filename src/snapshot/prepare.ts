import { createHash } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import { listUserDatabases } from '../catalog/server.ts';
import { readCatalogTables } from '../catalog/tables.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { FilterError } from '../plan/filters.ts';
import { parseFilters, planDatabase, selectDatabases, type DatabasePlan, type FilterOptions, type ResolvedTimeFilter } from '../plan/plan.ts';
import { checkPublishable } from '../replication/publication.ts';

/** A stable job id for one source/target pair, so running the same init again resumes it. */
export function deriveJobId(source: ConnectionSpec, target: ConnectionSpec): string {
  const text = `${source.host}:${source.port}/${source.database}->${target.host}:${target.port}/${target.database}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Slot, publication and subscription share one name per job and database (at most 63 bytes). */
export function replicationObjectName(jobId: string, database: string): string {
  const db = database.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 6);
  return `dbr_${jobId}_${db}_${hash}`;
}

/** The second slot, publication and subscription a resume uses until it joins them to the job's own. */
export function resumeObjectName(jobId: string, database: string): string {
  return `dbr_${jobId}_r${createHash('sha256').update(`resume:${database}`).digest('hex').slice(0, 6)}`;
}

/** Computes each time window's start once, on the source clock, as an ISO literal. */
async function resolveWindows(client: pg.Client, windows: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const window of new Set(windows)) {
    const { rows } = await client.query<{ since: string }>(
      `SELECT to_char((statement_timestamp() - $1::interval) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS since`,
      [window],
    );
    out.set(window, rows[0]!.since);
  }
  return out;
}

export interface PlannedJob {
  databases: DatabasePlan[];
  timeFilters: ResolvedTimeFilter[];
}

/**
 * Reads the source catalogs and builds the plan of every database. Recorded time filters (from a job
 * being resumed) are reused, so the window does not move between attempts.
 */
export async function planJob(
  admin: pg.Client,
  connect: (database: string) => Promise<pg.Client>,
  spec: { source: ConnectionSpec; target: ConnectionSpec },
  filters: FilterOptions,
  major: number,
  recorded: ResolvedTimeFilter[] | undefined,
): Promise<PlannedJob> {
  const available = await listUserDatabases(admin);
  const urlDatabase = spec.source.databaseGiven ? spec.source.database : null;
  if (urlDatabase && urlDatabase !== 'postgres' && !available.includes(urlDatabase)) {
    throw new FilterError(`The source database "${urlDatabase}" does not exist or does not accept connections.`);
  }
  const databases = selectDatabases(available, urlDatabase, filters);
  const parsed = parseFilters(filters);
  const windows = await resolveWindows(admin, parsed.time.map((t) => t.window));
  const singleTarget = databases.length === 1 && spec.target.databaseGiven && spec.target.database !== 'postgres';
  const plans: DatabasePlan[] = [];
  const timeFilters: ResolvedTimeFilter[] = [];
  for (const database of databases) {
    const client = await connect(database);
    try {
      const tables = await readCatalogTables(client);
      const { plan, timeFilters: resolved } = planDatabase({
        sourceDatabase: database,
        targetDatabase: singleTarget ? spec.target.database : database,
        databases,
        tables,
        filters: parsed,
        rowFilters: major >= 15,
        resolveSince: (schema, table, _column, window) =>
          recorded?.find((r) => r.database === database && r.schema === schema && r.table === table)?.since ?? windows.get(window)!,
      });
      plans.push(plan);
      timeFilters.push(...resolved);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { databases: plans, timeFilters };
}

export class TargetNotEmptyError extends Error {
  override name = 'TargetNotEmptyError';
}

/**
 * Never destroy silently: a target database that already has the planned tables is refused (with
 * how many of them hold rows) unless --drop-existing recreates it.
 */
export async function checkTargetEmpty(targetAdmin: pg.Client, openTarget: (db: string) => Promise<pg.Client>, plan: DatabasePlan): Promise<{ exists: boolean }> {
  const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target]);
  if (!rowCount) return { exists: false };
  const client = await openTarget(plan.target);
  try {
    const existing: string[] = [];
    const withRows: string[] = [];
    for (const table of plan.tables) {
      const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [qualifiedName(table.schema, table.name)]);
      if (!rows[0]!.present) continue;
      existing.push(`${table.schema}.${table.name}`);
      const { rowCount: hasRows } = await client.query(`SELECT 1 FROM ${qualifiedName(table.schema, table.name)} LIMIT 1`);
      if (hasRows) withRows.push(`${table.schema}.${table.name}`);
    }
    if (withRows.length) {
      throw new TargetNotEmptyError(`The target database ${plan.target} already holds rows in ${withRows.slice(0, 5).join(', ')}${withRows.length > 5 ? ` and ${withRows.length - 5} more tables` : ''}; pass --drop-existing to drop and recreate it, or choose another target database.`);
    }
    if (existing.length) {
      throw new TargetNotEmptyError(`The target database ${plan.target} already has the tables ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ' and more' : ''} (empty); pass --drop-existing to drop and recreate it, or choose another target database.`);
    }
    return { exists: true };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Row filters that would make UPDATE/DELETE fail on the source once published are refused for table
 * filters, and dropped for time windows (returned, so the caller can say so).
 */
export async function checkRowFilters(source: pg.Client, plan: DatabasePlan, columnOf: (schema: string, name: string) => string): Promise<string[]> {
  const filtered = plan.publication.filter((t) => t.rowFilter);
  const problems = await checkPublishable(source, filtered, (t) => columnOf(t.schema, t.name));
  const dropped: string[] = [];
  for (const { table, problem } of problems) {
    const entry = plan.publication.find((p) => p.schema === table.schema && p.name === table.name)!;
    if (!entry.rowFilterRequired) {
      entry.rowFilter = null;
      dropped.push(`${plan.source}.${table.schema}.${table.name}`);
      continue;
    }
    throw new FilterError(
      `The table filter on ${plan.source}.${table.schema}.${table.name} cannot become a publication row filter: ${problem.replace(/\.$/, '')}; ` +
        `include the filtered columns in the replica identity (ALTER TABLE ${qualifiedName(table.schema, table.name)} REPLICA IDENTITY FULL) or drop the filter.`,
    );
  }
  return dropped;
}
