import type { VerifyOutcome, VerifyTableCounts } from '../jobs/types.ts';
import type { VerifyReport } from './verify.ts';

/** A verify report summed up as the job record keeps it: outcome, tables by result, differing rows. */
export function verifyOutcome(report: VerifyReport): {
  outcome: VerifyOutcome;
  tables: VerifyTableCounts;
  differences: number;
  schemaDiffs: number;
} {
  const all = report.databases.flatMap((d) => d.tables);
  const tables = {
    total: all.length,
    equal: all.filter((t) => t.status === 'ok' || t.status === 'schema only').length,
    different: all.filter((t) => t.status === 'different').length,
    unconfirmed: all.filter((t) => t.status === 'unconfirmed').length,
    error: 0,
  };
  const schemaDiffs = report.databases.reduce((n, d) => n + d.schemaDiffs.length + d.drift.length, 0);
  // Materialized views are not counted as tables, but one that could not be confirmed makes the run unconfirmed.
  const matviewsUnconfirmed = report.databases.some((d) => d.materializedViews.some((m) => m.status === 'unconfirmed'));
  const outcome: VerifyOutcome = !report.ok
    ? 'different'
    : tables.unconfirmed || matviewsUnconfirmed
      ? 'unconfirmed'
      : 'equal';
  return { outcome, tables, differences: all.reduce((n, t) => n + t.diffs.length, 0), schemaDiffs };
}
