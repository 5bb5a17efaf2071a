import type pg from 'pg';
import { compareTable, tableAdded, tableMissing } from './compare.ts';
import {
  readPublishedTables,
  readSubscriptionPublications,
  readTableDefinitions,
  readUnpublishedTables,
  tableKey,
} from './definitions.ts';
import type { DriftFinding } from './types.ts';

export interface DriftScope {
  database: string;
  subscription: string;
  /** The publication init created: used while the subscription does not exist yet. */
  publication?: string;
  /** The tables to compare when no publication exists (init --no-sync): verify's planned tables. */
  tables?: { schema: string; name: string }[];
}

/**
 * Compares the source and target definitions of every published table, and finds tables created on the
 * source since init that nothing replicates. Logical replication carries rows, not DDL: these are the
 * differences the application's own migrations leave behind.
 */
export async function detectDrift(source: pg.Client, target: pg.Client, scope: DriftScope): Promise<DriftFinding[]> {
  const publications =
    (await readSubscriptionPublications(target, scope.subscription)) ?? (scope.publication ? [scope.publication] : []);
  const findings: DriftFinding[] = [];
  const existing = [];
  for (const p of publications)
    if ((await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [p])).rowCount) existing.push(p);
  if (!existing.length && scope.tables) await compareTables(source, target, scope.database, scope.tables, findings);
  for (const publication of existing) {
    const published = await readPublishedTables(source, publication);
    await compareTables(source, target, scope.database, published, findings);
    const unpublished = await readUnpublishedTables(source, publication);
    const [newDefs, onTarget] = await Promise.all([
      readTableDefinitions(source, unpublished),
      readTableDefinitions(target, unpublished),
    ]);
    for (const [key, def] of newDefs)
      if (!onTarget.has(key)) findings.push(tableAdded(scope.database, def, publication, scope.subscription));
  }
  return findings;
}

async function compareTables(
  source: pg.Client,
  target: pg.Client,
  database: string,
  published: { schema: string; name: string }[],
  findings: DriftFinding[],
): Promise<void> {
  const [sourceDefs, targetDefs] = await Promise.all([
    readTableDefinitions(source, published),
    readTableDefinitions(target, published),
  ]);
  for (const table of published) {
    const s = sourceDefs.get(tableKey(table));
    const t = targetDefs.get(tableKey(table));
    if (!s) continue;
    findings.push(...(t ? compareTable(database, s, t) : [tableMissing(database, s)]));
  }
}

/**
 * The verdict's reason when drift explains a broken replication: the apply worker stops on the first change
 * the target's tables cannot take, and the server log is the only other place that says so.
 */
export function explainWithDrift(
  judged: { verdict: string; reason: string },
  canExplain: boolean,
  findings: readonly DriftFinding[],
): string {
  const blocking = findings.filter((f) => f.blocksReplication);
  if (judged.verdict !== 'broken' || !canExplain || !blocking.length) {
    return findings.length && judged.verdict !== 'broken'
      ? `${judged.reason}; schema drift: ${findings.length} difference(s), see the drift list`
      : judged.reason;
  }
  const automatic = blocking.every((f) => f.additive);
  return `schema drift stops replication: ${blocking.map((f) => f.message).join('; ')}; ${automatic ? 'run sync --apply-ddl to fix it' : 'run the statements the drift list names (sync --apply-ddl applies the additive ones)'}`;
}
