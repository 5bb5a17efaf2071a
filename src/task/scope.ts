// One task works on one source database (the workflow's Map runs one task per database): the engine's
// job id for it, and the PLAN's filters narrowed to that database.
import { createHash } from 'node:crypto';
import { parseTableFilter, parseTableSelector, parseTimeFilter, type TableSelector } from '../plan/filters.ts';
import type { FilterOptions } from '../plan/plan.ts';
import { replicationObjectName } from '../jobs/naming.ts';

/** A job id the workflow admits (record-job): usable as it is inside a slot name. */
const NAME_PART = /^[a-z0-9][a-z0-9_]*$/;

/**
 * The engine's job id for this task. Slot, publication and subscription are named
 * `replicationObjectName(<this>, database)`, i.e. `dbr_<this>_<database>_<hash>`, and the workflow
 * (lambdas/record-job.ts) computes the same names from the job id for check-replication: so the job
 * id itself whenever it makes a valid name (lower-case letters, digits, _; at most 63 bytes). Any
 * other JOB_ID (e.g. "Job-1" on a laptop) becomes 12 hex digits of its sha256, the same for all of
 * the job's databases. As for the CLI, clean-up drops every slot with the `dbr_<this>_` prefix.
 */
export function engineJobId(jobId: string, database: string): string {
  if (NAME_PART.test(jobId) && replicationObjectName(jobId, database).length <= 63) return jobId;
  return createHash('sha256').update(jobId).digest('hex').slice(0, 12);
}

/**
 * Whether a filter's table selector is about `database`: `db.schema.table` and `db.table` name
 * their database; a two-part name whose first part is not a source database is `schema.table`
 * (how a single-database plan reads it); a bare `table` applies to every database.
 */
function concerns(selector: TableSelector, database: string, sourceDatabases: readonly string[]): boolean {
  if (selector.database === undefined || selector.database === database) return true;
  if (selector.schema !== undefined) return false;
  return !sourceDatabases.includes(selector.database);
}

/**
 * The PLAN's filters for one database: only that database, and only the table rules that concern
 * it (a single-database plan refuses rules naming other databases). Deterministic, so a retried
 * snapshot passes init the same filters and resumes.
 */
export function scopeFilters(
  filters: FilterOptions,
  database: string,
  sourceDatabases: readonly string[],
): FilterOptions {
  const keep = (selector: TableSelector) => concerns(selector, database, sourceDatabases);
  return {
    includeDatabases: [database],
    excludeDatabases: [],
    includeTables: (filters.includeTables ?? []).filter((t) => keep(parseTableSelector(t))),
    excludeTables: (filters.excludeTables ?? []).filter((t) => keep(parseTableSelector(t))),
    schemaOnlyTables: (filters.schemaOnlyTables ?? []).filter((t) => keep(parseTableSelector(t))),
    timeFilters: (filters.timeFilters ?? []).filter((t) => keep(parseTimeFilter(t).table)),
    tableFilters: (filters.tableFilters ?? []).filter((t) => keep(parseTableFilter(t).table)),
  };
}
