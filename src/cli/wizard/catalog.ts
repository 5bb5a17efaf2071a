import type pg from 'pg';
import { readCatalogTables } from '../../catalog/tables.ts';
import { listUserDatabases } from '../../catalog/server.ts';

/** A top-level table as the wizard offers it: partitions are summed into their partitioned root. */
export interface OfferedTable {
  schema: string;
  name: string;
  bytes: number;
  estimatedRows: number;
  /** Date and timestamp columns: the candidates for a time filter. */
  timeColumns: string[];
}

export interface OfferedDatabase {
  name: string;
  bytes: number;
  tables: OfferedTable[];
}

/** Reads what the wizard shows: every user database with its size, and each one's top-level tables. */
export async function readOfferedDatabases(
  admin: pg.Client,
  open: (database: string) => Promise<pg.Client>,
): Promise<OfferedDatabase[]> {
  const names = await listUserDatabases(admin);
  const { rows } = await admin.query<{ datname: string; bytes: string }>(
    'SELECT datname, pg_database_size(datname)::text AS bytes FROM pg_database WHERE datname = ANY($1)',
    [names],
  );
  const sizes = new Map(rows.map((r) => [r.datname, Number(r.bytes)]));
  const offered: OfferedDatabase[] = [];
  for (const name of names) {
    let client: pg.Client;
    try {
      client = await open(name);
    } catch (error) {
      // Dropped since it was listed, or closed to connections: it cannot be offered.
      if (isGone(error)) continue;
      throw error;
    }
    try {
      offered.push({ name, bytes: sizes.get(name) ?? 0, tables: summarizeTables(await readCatalogTables(client)) });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return offered;
}

function isGone(error: unknown): boolean {
  const text = `${(error as { code?: string }).code ?? ''} ${(error as Error).message ?? ''} ${String((error as { cause?: { code?: string } }).cause?.code ?? '')}`;
  return (
    /3D000|55000|does not exist|not currently accepting connections|database-missing/.test(text) ||
    (error as { reason?: string }).reason === 'database-missing'
  );
}

export function summarizeTables(tables: Awaited<ReturnType<typeof readCatalogTables>>): OfferedTable[] {
  const top = new Map<string, OfferedTable>();
  for (const t of tables.filter((t) => t.kind !== 'partition')) {
    top.set(`${t.schema}.${t.name}`, {
      schema: t.schema,
      name: t.name,
      bytes: t.bytes,
      estimatedRows: Math.max(0, t.estimatedRows),
      timeColumns: t.columns.filter((c) => /^(timestamp|date)/.test(c.type)).map((c) => c.name),
    });
  }
  for (const t of tables.filter((t) => t.kind === 'partition' && t.root)) {
    const root = top.get(`${t.root!.schema}.${t.root!.name}`);
    if (!root) continue;
    root.bytes += t.bytes;
    root.estimatedRows += Math.max(0, t.estimatedRows);
  }
  return [...top.values()].sort((a, b) => `${a.schema}.${a.name}`.localeCompare(`${b.schema}.${b.name}`));
}
