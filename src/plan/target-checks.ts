// What a plan needs from the servers before anything is made: a target that holds none of the
// planned tables, and row filters the source can publish.
import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import { checkPublishable } from '../catalog/publishable.ts';
import { FilterError } from './filters.ts';
import type { DatabasePlan } from './plan.ts';

export class TargetNotEmptyError extends Error {
  override name = 'TargetNotEmptyError';
}

/**
 * Never destroy silently: a target database that already has the planned tables is refused (with
 * how many of them hold rows) unless --drop-existing recreates it.
 */
export async function checkTargetEmpty(
  targetAdmin: pg.Client,
  openTarget: (db: string) => Promise<pg.Client>,
  plan: DatabasePlan,
): Promise<{ exists: boolean }> {
  const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target]);
  if (!rowCount) return { exists: false };
  const client = await openTarget(plan.target);
  try {
    const existing: string[] = [];
    const withRows: string[] = [];
    for (const table of plan.tables) {
      const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
        qualifiedName(table.schema, table.name),
      ]);
      if (!rows[0]!.present) continue;
      existing.push(`${table.schema}.${table.name}`);
      const { rowCount: hasRows } = await client.query(
        `SELECT 1 FROM ${qualifiedName(table.schema, table.name)} LIMIT 1`,
      );
      if (hasRows) withRows.push(`${table.schema}.${table.name}`);
    }
    if (withRows.length) {
      throw new TargetNotEmptyError(
        `The target database ${plan.target} already holds rows in ${withRows.slice(0, 5).join(', ')}${withRows.length > 5 ? ` and ${withRows.length - 5} more tables` : ''}; pass --drop-existing to drop and recreate it, or choose another target database.`,
      );
    }
    if (existing.length) {
      throw new TargetNotEmptyError(
        `The target database ${plan.target} already has the tables ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ' and more' : ''} (empty); pass --drop-existing to drop and recreate it, or choose another target database.`,
      );
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
export async function checkRowFilters(
  source: pg.Client,
  plan: DatabasePlan,
  columnOf: (schema: string, name: string) => string,
): Promise<string[]> {
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
