// The replication plan of a job: the source catalogs read and the filters applied, per database.
import type pg from 'pg';
import { listUserDatabases } from '../catalog/server.ts';
import { readCatalogTables } from '../catalog/tables.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { FilterError } from './filters.ts';
import {
  parseFilters,
  planDatabase,
  selectDatabases,
  type DatabasePlan,
  type FilterOptions,
  type ResolvedTimeFilter,
} from './plan.ts';

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
  const windows = await resolveWindows(
    admin,
    parsed.time.map((t) => t.window),
  );
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
          recorded?.find((r) => r.database === database && r.schema === schema && r.table === table)?.since ??
          windows.get(window)!,
      });
      plans.push(plan);
      timeFilters.push(...resolved);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { databases: plans, timeFilters };
}
